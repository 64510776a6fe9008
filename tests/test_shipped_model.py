"""The shipped default model: it infers presets it never saw better than the trivial baseline,
and presets go through the sound space and back unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bridge.audio.features import log_mel
from bridge.audio.metrics import log_spectral_mae, spectral_convergence
from bridge.evaluate import infer_learned
from bridge.hosting.registry import load_hosted, shipped_model_path
from bridge.models.checkpoint_host import CheckpointModel
from bridge.models.saved import SavedModel
from bridge.synth import get_synth

FRESH_SEED = 20261121  # not the training dataset's seed: presets the model never saw
N = 48


@pytest.fixture(scope="module")
def shipped() -> SavedModel:
    path = shipped_model_path()
    assert path.is_file(), f"the shipped model {path} is missing: run scripts/ship_default_model.py"
    assert path.stat().st_size <= 20 * 1024 * 1024
    return SavedModel.load(path)


@pytest.fixture(scope="module")
def fresh(shipped):
    """Fresh natural presets of the learned subset, rendered with the papers' note."""
    synth = get_synth(shipped.synth_name)
    raw = synth.sample_presets(np.random.default_rng(FRESH_SEED), 2 * N, "natural")
    presets = shipped.spec.expand(
        shipped.learn_spec, shipped.spec.restrict(shipped.learn_spec, raw)
    )
    note, sr = shipped.notes[0], shipped.features.sample_rate
    audio = synth.render(presets, note, sr)
    audible = np.abs(audio).max(1) > 10 ** (-40 / 20)  # the dataset's silence rule
    return synth, presets[audible][:N], audio[audible][:N]


def test_shipped_model_beats_the_mean_preset_on_fresh_presets(shipped, fresh):
    synth, presets, audio = fresh
    note, sr = shipped.notes[0], shipped.features.sample_rate
    mels = log_mel(audio, shipped.features)[:, None]
    inferred = synth.render(shipped.full_presets(infer_learned(shipped, mels)), note, sr)
    mean = np.asarray(shipped.info["mean_preset"], np.float32)[None].repeat(len(presets), 0)
    baseline = synth.render(shipped.full_presets(mean), note, sr)
    sc_model, sc_mean = spectral_convergence(audio, inferred), spectral_convergence(audio, baseline)
    # A clear margin: at least 20% lower spectral convergence than the trivial baseline, on
    # the mean (which a few outliers carry) and on the median (the typical preset)...
    assert np.mean(sc_model) < 0.8 * np.mean(sc_mean), (np.mean(sc_model), np.mean(sc_mean))
    assert np.median(sc_model) < 0.8 * np.median(sc_mean), (
        np.median(sc_model),
        np.median(sc_mean),
    )
    # ...and the log-spectrogram error, which weighs quiet partials too, by 10%.
    lsd_model = float(np.mean(log_spectral_mae(audio, inferred)))
    lsd_mean = float(np.mean(log_spectral_mae(audio, baseline)))
    assert lsd_model < 0.9 * lsd_mean, (lsd_model, lsd_mean)


def _round_trip_v(shipped, learned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoded presets and what v -> z -> v gives back (the forward pass before the clamp)."""
    enc = shipped.learn_spec.encode(learned, shipped.cfg.encoding).astype(np.float32)
    with torch.no_grad():
        z = shipped.net.latent_from_params(torch.from_numpy(enc))
        back = shipped.net.regression(z)[0].numpy()
    return enc, back


def test_inverse_within_1e4_on_uniform_random_presets(shipped):
    learned = shipped.learn_spec.sample_uniform(np.random.default_rng(7), 256)
    enc, back = _round_trip_v(shipped, learned)
    np.testing.assert_allclose(back, enc, atol=1e-4)
    np.testing.assert_allclose(
        shipped.decode_params(back), shipped.learn_spec.quantize(learned), atol=1e-4
    )


def test_inverse_within_1e4_on_rendered_presets(shipped, fresh):
    """The presets of sounds the synth really made (silent ones dropped, as in the dataset)."""
    _, presets, _ = fresh
    enc, back = _round_trip_v(shipped, shipped.spec.restrict(shipped.learn_spec, presets))
    np.testing.assert_allclose(back, enc, atol=1e-4)


def test_forward_then_inverse_within_1e4_on_random_latents(shipped):
    z = np.random.default_rng(3).standard_normal((256, shipped.latent_dim)).astype(np.float32)
    with torch.no_grad():
        v = shipped.net.regression(torch.from_numpy(z))[0]
        back = shipped.net.latent_from_params(v).numpy()
    np.testing.assert_allclose(back, z, atol=1e-4)


def test_presets_survive_the_round_trip_through_the_sound_space(shipped, fresh):
    _, presets, _ = fresh
    host = CheckpointModel(shipped)
    learned = shipped.spec.restrict(shipped.learn_spec, presets)
    z = host.latent_from_params(learned)
    # Presets land among the sounds (not at the far ends of a stretched flow)...
    assert np.abs(z).max() < 10 * max(1.0, float(np.abs(host.center()).max()))
    # ...and the flow's forward pass gives back their encoding within 1e-4.
    enc = shipped.learn_spec.encode(learned, shipped.cfg.encoding)
    with torch.no_grad():
        v = shipped.net.regression(torch.from_numpy(z))[0].numpy()
    np.testing.assert_allclose(v, enc, atol=1e-4)
    back = host.params_from_latent(z)
    np.testing.assert_allclose(back, shipped.learn_spec.quantize(learned), atol=1e-4)


def test_shipped_model_is_what_the_server_loads_by_default(shipped):
    host = load_hosted(None)
    assert host.name == "subtractive" and host.synth_name == "subtractive"
    assert len(host.macro_names) == 8 and len(set(host.macro_names)) == 8
    assert host.param_names == shipped.learn_spec.names
    dials = np.linspace(0, 1, 8, dtype=np.float32)[None]
    v = host.params_from_latent(host.latent_from_macros(dials, host.center()))
    assert v.shape == (1, len(host.param_names)) and 0 <= v.min() and v.max() <= 1
