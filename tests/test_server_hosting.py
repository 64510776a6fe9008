"""The server hosts a training checkpoint through its fast twin (bridge/server/hosting.py):
numpy on the dial's path, TorchScript for the rest. It must answer every request as the
eager model does, and fall back to a slower form rather than answer differently."""

from __future__ import annotations

import gc
import socket
import time

import numpy as np
import pytest
import torch
from pythonosc.osc_message import OscMessage

from bridge.export import TOLERANCE
from bridge.hosting.bundle import BundleModel
from bridge.hosting.registry import shipped_model_path
from bridge.models.checkpoint_host import CheckpointModel
from bridge.models.flows import realnvp
from bridge.models.saved import SavedModel
from bridge.server import OSCServer, ServerConfig, encode, hosting
from bridge.server.hosting import FastCheckpoint, NumpyDecoder, NumpyRegression, prepare
from tests.server_model import make_model


@pytest.fixture(scope="module")
def shipped() -> SavedModel:
    return SavedModel.load(shipped_model_path())


@pytest.fixture(scope="module")
def eager(shipped) -> CheckpointModel:
    return CheckpointModel(shipped, "subtractive")


@pytest.fixture(scope="module")
def fast(eager) -> FastCheckpoint:
    model = prepare(eager)
    assert isinstance(model, FastCheckpoint)
    return model


def _randomized(flow: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every weight moved away from nflows' near-identity initialization (by an amount that
    keeps outputs within a trained model's range: float32 rounding is relative)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return flow.eval()


def test_fast_twin_gives_the_eager_params_for_the_same_requests(eager, fast):
    rng = np.random.default_rng(7)
    for batch in (1, 1, 1, 7):
        z = (1.5 * rng.standard_normal((batch, eager.latent_dim))).astype(np.float32)
        want, got = eager.params_from_latent(z), fast.params_from_latent(z)
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)
    # A 1-D point, as a HostedModel may be handed one.
    z = rng.standard_normal(eager.latent_dim).astype(np.float32)
    np.testing.assert_allclose(fast.params_from_latent(z), eager.params_from_latent(z[None]),
                               atol=TOLERANCE, rtol=0)


def test_fast_twin_dial_maths_is_the_eager_numbers(eager, fast):
    rng = np.random.default_rng(8)
    for batch in (1, 5):
        z = rng.standard_normal((batch, eager.latent_dim)).astype(np.float32)
        dials = rng.random((batch, len(eager.macro_names))).astype(np.float32)
        dials[0, 0], dials[-1, -1] = 0.0, 1.0
        np.testing.assert_array_equal(fast.latent_from_macros(dials, z),
                                      eager.latent_from_macros(dials, z))
        np.testing.assert_array_equal(fast.macros_from_latent(z), eager.macros_from_latent(z))


def test_fast_twin_presets_sketches_and_names(eager, fast):
    for attr in ("name", "synth_name", "param_names", "macro_names", "latent_dim", "sample_rate"):
        assert getattr(fast, attr) == getattr(eager, attr)
    rng = np.random.default_rng(9)
    v = rng.random((3, len(eager.param_names))).astype(np.float32)
    np.testing.assert_allclose(fast.latent_from_params(v), eager.latent_from_params(v),
                               atol=1e-4, rtol=0)
    audio = (0.1 * rng.standard_normal((2, eager.sample_rate))).astype(np.float32)
    np.testing.assert_allclose(fast.latent_from_audio(audio), eager.latent_from_audio(audio),
                               atol=1e-4, rtol=0)
    np.testing.assert_allclose(fast.center(), eager.center(), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("bound", [2.0, 0.0])
def test_numpy_regression_equals_nflows(bound):
    """Both coupling scales (bounded exp-tanh and nflows' sigmoid), odd and even widths."""
    for features in (9, 12):
        torch.manual_seed(features)  # nflows initializes from the global generator
        flow = _randomized(realnvp(features, 4, 32, 2, bound=bound), seed=features)
        z = np.random.default_rng(1).standard_normal((16, features)).astype(np.float32)
        with torch.no_grad():
            want = flow(torch.from_numpy(z))[0].numpy()
        scale = float(np.abs(want).max())
        assert scale > 1  # the layers did move the point
        # float32 rounding is relative to the largest values the layers pass on
        np.testing.assert_allclose(NumpyRegression(flow)(z), want, atol=TOLERANCE * scale, rtol=0)


def test_numpy_regression_handles_masks_that_do_not_interleave():
    """Masks no single feature order makes contiguous take the indexed path."""
    from nflows.nn.nets import ResidualNet
    from nflows.transforms import CompositeTransform
    from nflows.transforms.coupling import AffineCouplingTransform

    masks = [[1, 1, 0, 0, 1, 0, 1], [0, 1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0, 0]]

    def net(n_in: int, n_out: int) -> torch.nn.Module:
        return ResidualNet(n_in, n_out, hidden_features=16, num_blocks=1)

    flow = _randomized(CompositeTransform(
        [AffineCouplingTransform(torch.tensor(m), net) for m in masks]), seed=3)
    reg = NumpyRegression(flow)
    assert any(not isinstance(layer[0], slice) for layer in reg.layers)
    z = np.random.default_rng(2).standard_normal((5, 7)).astype(np.float32)
    with torch.no_grad():
        want = flow(torch.from_numpy(z))[0].numpy()
    np.testing.assert_allclose(reg(z), want, atol=TOLERANCE * max(1.0, np.abs(want).max()),
                               rtol=0)


def test_numpy_decoder_is_param_spec_decode(shipped):
    spec, encoding = shipped.learn_spec, shipped.cfg.encoding
    rng = np.random.default_rng(4)
    scores = rng.normal(0.5, 0.7, (64, spec.encoded_size(encoding)))
    scores[:8] = np.round(scores[:8] * 4) / 4  # ties between one-hot scores: first wins
    np.testing.assert_array_equal(NumpyDecoder(spec, encoding)(scores),
                                  spec.decode(scores, encoding))


def test_prepare_falls_back_rather_than_answer_differently(eager, monkeypatch):
    assert prepare(eager, script=False) is eager
    toy = make_model("toy")
    assert prepare(toy) is toy  # only training checkpoints are rebuilt

    def broken(*_a, **_k):
        raise RuntimeError("no TorchScript here")

    with monkeypatch.context() as m:
        m.setattr(hosting, "script_checkpoint", broken)
        assert prepare(eager) is eager

    off = NumpyRegression.__call__
    with monkeypatch.context() as m:
        m.setattr(NumpyRegression, "__call__", lambda self, z: off(self, z) + 1e-3)
        assert isinstance(prepare(eager), BundleModel)  # the scripted twin, not the numpy one

    with monkeypatch.context() as m:
        m.setattr(BundleModel, "params_from_latent", lambda self, z: np.full(
            (len(z), len(self.param_names)), np.nan, np.float32))
        assert prepare(eager) is eager


def test_server_serves_a_checkpoint_through_its_twin_and_answers_as_eager(shipped, eager):
    """A dial moved over OSC gets exactly the float32 params the eager model computes."""
    def loader(name: str) -> CheckpointModel:
        return CheckpointModel(shipped, name)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    server = OSCServer(loader, lambda: ["subtractive"],
                       ServerConfig(port=0, reply_port=sock.getsockname()[1], freeze_heap=True))
    try:
        server.load_slot(1, "subtractive")
        server.start()
        assert gc.get_freeze_count() > 0  # the heap was settled before serving
        assert server.wait_idle()  # the serve thread installs the model
        assert isinstance(server.slots[1].model, FastCheckpoint)
        z0 = server.slots[1].state.z.copy()
        sock.sendto(encode("/flowsynth/1/macro", [2, 0.8]), server.address)
        end = time.monotonic() + 10
        while True:
            m = OscMessage(sock.recvfrom(65536)[0])
            if m.address == "/flowsynth/1/params" or time.monotonic() > end:
                break
        dials = eager.macros_from_latent(z0[None])
        dials[0, 2] = 0.8
        want = eager.params_from_latent(eager.latent_from_macros(dials, z0[None]))[0]
        np.testing.assert_allclose(np.array(m.params, np.float32), want, atol=TOLERANCE, rtol=0)
    finally:
        server.stop()
        sock.close()
        gc.unfreeze()


def test_eager_option_keeps_the_checkpoint(eager):
    server = OSCServer(lambda name: eager, lambda: [], ServerConfig(port=0,
                                                                    script_checkpoints=False))
    assert server.load_slot(1, "x") is eager
