"""TorchScript export: the scripted model equals the eager one, loads with torch alone, hosts
in the server as a BundleModel, and its nn~ variant keeps nn~'s contract."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest
import torch

from bridge.export import BATCH_SIZES, TOLERANCE, export_bundle, verify
from bridge.hosting.bundle import BundleModel, is_bundle
from bridge.hosting.registry import shipped_model_path
from bridge.models.checkpoint_host import CheckpointModel
from bridge.models.hosted import HostedModel
from bridge.models.saved import SavedModel, build_net

SHIPPED = shipped_model_path()


def train_tiny_model(root) -> SavedModel:
    """A tiny trained flow model on the test synth: IAF posterior of 2 layers (so a
    permutation too) and a disentangling flow. Seconds on one core."""
    from bridge.cli import main
    from bridge.data.render import RenderSettings, render_dataset
    from bridge.synth.base import Note
    from tests.conftest import SineSynth

    data = root / "sine"
    settings = RenderSettings("testsine", 64, notes=(Note(60, 100, 0.5, 1.0),), shard_size=32)
    render_dataset(settings, data, synth=SineSynth(), progress=False, log=lambda m: None)
    out = root / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--config", "tiny", "--threads", "1",
            "--set", "epochs=1", "--set", "posterior_layers=2", "--set", "tag_pairs=dark_bright"]
    assert main(args) == 0
    return SavedModel.load(out / "model.pt")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> SavedModel:
    return train_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny_bundle(tiny_model, tmp_path_factory):
    from bridge.synth import registry
    from tests.conftest import SineSynth

    # Registered for the export's real-audio check (the autouse fixture is per test).
    registry.BUILTIN_SYNTHS["testsine"] = SineSynth
    try:
        return export_bundle(tiny_model, tmp_path_factory.mktemp("export") / "tinysine",
                             nn_tilde=True, nn_ratio=64)
    finally:
        registry.BUILTIN_SYNTHS.pop("testsine", None)


def _perturbed(model: SavedModel, posterior: str) -> SavedModel:
    """The tiny model rebuilt with another posterior flow and every weight randomized, so
    that no layer is near the identity nflows initializes it to."""
    cfg = model.cfg.override(posterior_flow=posterior, posterior_layers=3)
    net = build_net(cfg, model.learn_spec, len(model.notes), model.features.n_mels,
                    model.n_frames)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return dataclasses.replace(model, net=net.eval(), cfg=cfg)


@pytest.mark.parametrize("posterior", ["iaf", "realnvp", "none"])
def test_scripted_model_equals_eager_for_every_posterior(tiny_model, posterior):
    from bridge.export import _roundtrip, bundle_metadata, script_model

    model = _perturbed(tiny_model, posterior)
    scripted = _roundtrip(script_model(model, bundle_metadata(model, "t")))
    errors = verify(model, scripted, seed=3)
    assert max(errors.values()) < TOLERANCE, errors
    assert {"params_from_latent/random", "latent_from_params/random",
            "latent_from_macros/random", "latent_from_audio/random"} <= set(errors)


def test_bundle_files_and_sidecar(tiny_bundle, tiny_model):
    folder = tiny_bundle.folder
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.ts", "tinysine.ts"]
    meta = json.loads((folder / "model.json").read_text())
    assert meta["format"] == "flowsynth-bundle"
    assert meta["param_names"] == tiny_model.learn_spec.names
    assert meta["macros"]["names"] == tiny_model.macros.names
    assert meta["macros"] == tiny_model.macros.to_dict()
    assert len(meta["macros"]["basis"]) == len(meta["macros"]["names"])
    assert meta["features"] == tiny_model.features.to_dict()
    checks = meta["checks"]
    assert checks["batch_sizes"] == list(BATCH_SIZES)
    # The synth was available: real renders were checked, not only random inputs.
    assert "latent_from_audio/real" in checks["max_abs_error"]
    assert max(checks["max_abs_error"].values()) < TOLERANCE
    embedded = json.loads(torch.jit.load(str(folder / "model.ts")).metadata())
    assert embedded == {k: v for k, v in meta.items() if k not in ("files", "checks")}
    assert is_bundle(folder) and is_bundle(folder / "model.ts")


_ISOLATED = textwrap.dedent("""
    import sys
    sys.path.append(SITE)  # torch and numpy only: .pth files (the editable project) unread
    try:
        import bridge
    except ImportError:
        pass
    else:
        raise SystemExit("bridge is importable: the check would prove nothing")
    import torch
    torch.set_num_threads(1)
    m = torch.jit.load(sys.argv[1])
    x = torch.load(sys.argv[2])
    out = {}
    for b, (z, v, d, a) in x.items():
        out[b] = [m.params_from_latent(z), m.param_scores(z), m.latent_from_params(v),
                  m.latent_from_macros(d, z), m.macros_from_latent(z), m.latent_from_audio(a)]
    out["center"] = m.center()
    out["meta"] = m.metadata()
    torch.save(out, sys.argv[3])
""")


def run_isolated(model_ts, inputs: dict, tmp_path) -> dict:
    """Run the file's methods in a fresh interpreter that cannot import the project."""
    torch.save(inputs, tmp_path / "in.pt")
    code = f"SITE = {sysconfig.get_paths()['purelib']!r}\n" + _ISOLATED
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(model_ts), "in.pt", "out.pt"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return torch.load(tmp_path / "out.pt")


def _compare_isolated(model: SavedModel, folder, tmp_path) -> None:
    host = CheckpointModel(model)
    rng = np.random.default_rng(0)
    d, n, k = host.latent_dim, len(host.param_names), len(host.macro_names)
    inputs = {}
    for b in BATCH_SIZES:
        z = rng.standard_normal((b, d)).astype(np.float32)
        v = rng.random((b, n)).astype(np.float32)
        dials = rng.random((b, k)).astype(np.float32)
        audio = (0.2 * rng.standard_normal((b, 3000 + 997 * b))).astype(np.float32)
        inputs[b] = tuple(torch.from_numpy(a) for a in (z, v, dials, audio))
    out = run_isolated(folder / "model.ts", inputs, tmp_path)
    for b, (z, v, dials, audio) in inputs.items():
        z, v, dials, audio = (t.numpy() for t in (z, v, dials, audio))
        with torch.no_grad():
            scores = model.net.params_from_latent(torch.from_numpy(z)).numpy()
        expected = [host.params_from_latent(z), scores, host.latent_from_params(v),
                    host.latent_from_macros(dials, z), host.macros_from_latent(z),
                    host.latent_from_audio(audio)]
        for e, got in zip(expected, out[b], strict=True):
            assert got.dtype == torch.float32 and tuple(got.shape) == e.shape
            assert np.max(np.abs(got.numpy() - e)) < TOLERANCE
    np.testing.assert_allclose(out["center"].numpy(), host.center(), atol=TOLERANCE)
    assert json.loads(out["meta"])["param_names"] == host.param_names


def test_bundle_runs_without_the_project(tiny_bundle, tiny_model, tmp_path):
    _compare_isolated(tiny_model, tiny_bundle.folder, tmp_path)


@pytest.mark.skipif(not SHIPPED.is_file(),
                    reason=f"no shipped model at {SHIPPED} yet (train and copy it first)")
def test_shipped_model_exports_and_runs_without_the_project(tmp_path):
    model = SavedModel.load(SHIPPED)
    result = export_bundle(model, tmp_path / "subtractive", nn_tilde=True)
    assert result.max_error < TOLERANCE and "latent_from_audio/real" in result.checks
    (tmp_path / "iso").mkdir()
    _compare_isolated(model, result.folder, tmp_path / "iso")


def test_bundle_model_hosts_like_the_checkpoint(tiny_bundle, tiny_model):
    bundle = BundleModel.load(tiny_bundle.folder)
    ck = CheckpointModel(tiny_model)
    assert isinstance(bundle, HostedModel)
    for attr in ("synth_name", "param_names", "macro_names", "latent_dim", "sample_rate"):
        assert getattr(bundle, attr) == getattr(ck, attr)
    assert bundle.name == "tinysine"
    rng = np.random.default_rng(5)
    z = rng.standard_normal((7, ck.latent_dim)).astype(np.float32)
    v = rng.random((7, len(ck.param_names))).astype(np.float32)
    dials = rng.random((7, len(ck.macro_names))).astype(np.float32)
    audio = (0.1 * rng.standard_normal((7, 20000))).astype(np.float32)
    # Decoded values are the same numbers, not merely close.
    np.testing.assert_array_equal(bundle.params_from_latent(z), ck.params_from_latent(z))
    np.testing.assert_array_equal(bundle.params_from_latent(z[0]), ck.params_from_latent(z[:1]))
    assert bundle.params_from_latent(z).min() >= 0 and bundle.params_from_latent(z).max() <= 1
    for got, want in [
        (bundle.latent_from_params(v), ck.latent_from_params(v)),
        (bundle.latent_from_macros(dials, z), ck.latent_from_macros(dials, z)),
        (bundle.macros_from_latent(z), ck.macros_from_latent(z)),
        (bundle.latent_from_audio(audio), ck.latent_from_audio(audio)),
        (bundle.center(), ck.center()),
    ]:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)


def test_nn_tilde_file_keeps_the_contract(tiny_bundle, tiny_model):
    """Read the file back as nn~ does: methods, their params buffers, labels, shapes."""
    m = torch.jit.load(str(tiny_bundle.files["nn_tilde"]))
    buffers = dict(m.named_buffers())
    methods = m.get_methods()
    assert methods == ["decode", "decode_latent", "forward"] and m.get_attributes() == []
    d, n = tiny_model.latent_dim, len(tiny_model.learn_spec)
    k = tiny_model.macros.n
    expected = {"decode": [k, 64, n, 64], "decode_latent": [d, 64, n, 64],
                "forward": [k, 64, n, 64]}
    for name in methods:
        params = buffers[f"{name}_params"]
        assert params.dtype in (torch.int32, torch.int64) and params.tolist() == expected[name]
        in_ch, in_ratio, out_ch, out_ratio = params.tolist()
        assert len(getattr(m, f"{name}_input_labels")) == in_ch
        assert len(getattr(m, f"{name}_output_labels")) == out_ch
        for batch in (1, 4):  # nn~ and mc.nn~
            y = getattr(m, name)(torch.zeros(batch, in_ch, 8192 // in_ratio))
            assert y.dtype == torch.float32 and tuple(y.shape) == (batch, out_ch, 8192 // out_ratio)

    # decode: every control frame is latent_from_macros(dials, origin) -> params_from_latent.
    host = CheckpointModel(tiny_model)
    dials = torch.rand(2, k, 5, generator=torch.Generator().manual_seed(2))
    y = m.decode(dials)
    points = dials.permute(0, 2, 1).reshape(-1, k).numpy()
    origin = np.repeat(np.asarray(tiny_model.macros.origin, np.float32)[None], len(points), 0)
    want = host.params_from_latent(host.latent_from_macros(points, origin))
    np.testing.assert_array_equal(y.permute(0, 2, 1).reshape(-1, n).numpy(), want)
    assert m.decode_output_labels[0].endswith(tiny_model.learn_spec.names[0])
    # `[nn~ NAME]` with no method calls forward: decode under nn~'s default name.
    assert torch.equal(m.forward(dials), y) and m.forward_output_labels == m.decode_output_labels


@pytest.mark.parametrize("ratio", [0, 3, 100, 250, 384])
def test_nn_tilde_ratio_must_be_a_power_of_two(tiny_model, tmp_path, ratio):
    """nn~ rounds its buffer up to a power of two: any other ratio fails on every call."""
    with pytest.raises(ValueError, match="power of two"):
        export_bundle(tiny_model, tmp_path / "b", nn_tilde=True, nn_ratio=ratio, check=False)
    assert not (tmp_path / "b").exists()


def test_readme_nn_tilde_command_names_the_file_the_export_writes():
    """The README's nn~ object names the file its own export command writes (NAME.ts, NAME
    being --name or the --out folder's name), and export/README.md says what nn~ plays before
    its first frame and how to hold a synth until then."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    out = re.search(r"flowsynth export [^\n]*--out (\S+) --nn-tilde", readme).group(1)
    name = Path(out).name
    assert f"nn~ {name}" in readme and "nn~ flowsynth.ts" not in readme
    notes = (root / "export" / "README.md").read_text()
    assert "first buffer" in notes and "hold" in notes.lower()


def test_export_command_and_refusals(tiny_model, tmp_path, capsys):
    from bridge.commands import export as cmd
    from bridge.commands.serve import standalone

    tiny_model.save(tmp_path / "m.pt")
    argv = ["--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "b"), "--no-check"]
    assert standalone("flowsynth export", cmd.__doc__, cmd.add_arguments, cmd.run, argv) == 0
    assert "serve it: flowsynth serve --model" in capsys.readouterr().out
    # Exporting again replaces the earlier bundle; a folder holding other files is refused.
    assert standalone("flowsynth export", cmd.__doc__, cmd.add_arguments, cmd.run, argv) == 0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    bad = ["--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "other")]
    with pytest.raises(FileExistsError, match="not a flowsynth bundle"):  # `flowsynth` exits 2
        standalone("flowsynth export", cmd.__doc__, cmd.add_arguments, cmd.run, bad)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(FileNotFoundError, match="not a flowsynth bundle"):
        BundleModel.load(tmp_path / "other")
