import math

import numpy as np
import pytest
import scipy.fft
import torch

from bridge.audio import metrics as M
from bridge.audio.features import mel_filterbank
from bridge.synth.spec import Param, ParamSpec, SpecError

SR = 16000


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    # Broadband: every STFT bin well above the -100 dB floor, so scalings are exact.
    return (0.1 * np.random.default_rng(0).standard_normal((3, SR // 2))).astype(np.float32)


def test_identical_signals_score_zero(noise: np.ndarray) -> None:
    out = M.audio_metrics(noise, noise, SR)
    assert set(out) == set(M.AUDIO_METRICS)
    for name, v in out.items():
        assert v.shape == (3,) and v.dtype == np.float64, name
        np.testing.assert_allclose(v, 0.0, atol=1e-9, err_msg=name)


def test_polarity_does_not_matter(noise: np.ndarray) -> None:
    out = M.audio_metrics(noise, -noise, SR)
    for v in out.values():
        np.testing.assert_allclose(v, 0.0, atol=1e-9)


@pytest.mark.parametrize("a", [0.5, 2.0, 3.0])
def test_scaling_analytic(noise: np.ndarray, a: float) -> None:
    y = noise * np.float32(a)
    np.testing.assert_allclose(M.spectral_convergence(noise, y), abs(1 - a), rtol=1e-5)
    np.testing.assert_allclose(M.log_spectral_mae(noise, y), abs(math.log(a)), rtol=1e-4)
    # Only the 0th DCT coefficient moves: by 20 log10(a) dB times sqrt(n_mels), over 40 coefs.
    expected = abs(20 * math.log10(a)) * math.sqrt(M.MFCC_N_MELS) / M.N_MFCC
    np.testing.assert_allclose(M.mfcc_mae(noise, y, SR), expected, rtol=1e-4)


def test_silent_estimate_has_convergence_one(noise: np.ndarray) -> None:
    np.testing.assert_allclose(M.spectral_convergence(noise, np.zeros_like(noise)), 1.0)


def test_spectral_convergence_is_asymmetric(noise: np.ndarray) -> None:
    # Normalized by the target: estimate twice as loud -> 1, target twice as loud -> 0.5.
    np.testing.assert_allclose(M.spectral_convergence(noise, 2 * noise), 1.0, rtol=1e-5)
    np.testing.assert_allclose(M.spectral_convergence(2 * noise, noise), 0.5, rtol=1e-5)


def test_sine_vs_other_sine_is_far_and_ordered() -> None:
    t = np.arange(SR) / SR
    x = np.sin(2 * np.pi * 440 * t)[None].astype(np.float32)
    near = np.sin(2 * np.pi * 445 * t)[None].astype(np.float32)
    far = np.sin(2 * np.pi * 2000 * t)[None].astype(np.float32)
    for fn in (M.log_spectral_mae, lambda a, b: M.mfcc_mae(a, b, SR)):
        assert 0 < fn(x, near)[0] < fn(x, far)[0]
    # Disjoint spectra: ||X - Y|| ~ sqrt(||X||^2 + ||Y||^2) = sqrt(2) ||X||.
    assert M.spectral_convergence(x, far)[0] == pytest.approx(math.sqrt(2), rel=0.02)


def test_full_scale_sine_is_0_db_in_mfcc_band() -> None:
    """The MFCCs' mel bands are in the signal's own dB: a full-scale sine reads its mean power
    (-3 dB) in the band around its frequency, a tenth of it 20 dB less, silence the floor."""
    t = np.arange(SR) / SR
    sine = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    assert M.mfcc(sine, SR).shape == (1, 40, 1 + SR // M.MFCC_HOP)
    bands = {}
    for amp in (1.0, 0.1):
        c = M.mfcc(amp * sine, SR, n_mfcc=M.MFCC_N_MELS)[0].astype(np.float64)
        # all coefficients kept: the orthonormal DCT inverts back to the dB of each band
        db = scipy.fft.idct(c, type=2, norm="ortho", axis=0)[:, 5:-5].mean(axis=1)
        bands[amp] = db
    top = int(np.argmax(bands[1.0]))
    fb = mel_filterbank(SR, M.MFCC_N_FFT, M.MFCC_N_MELS, 0.0, SR / 2)
    centre = np.fft.rfftfreq(M.MFCC_N_FFT, 1 / SR)[np.argmax(fb[top])]
    assert abs(centre - 1000) < 50, centre
    assert -6.0 < bands[1.0][top] < 0.0, bands[1.0][top]
    assert bands[0.1][top] == pytest.approx(bands[1.0][top] - 20.0, abs=0.05)
    # bands far from the tone sit at the -100 dB floor
    assert bands[1.0][-10:].max() == pytest.approx(M.MFCC_FLOOR_DB, abs=0.5)


def test_dct_matches_scipy() -> None:
    x = np.random.default_rng(1).standard_normal((2, 16, 5))
    ours = M._dct_ortho(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, scipy.fft.dct(x, type=2, norm="ortho", axis=1), atol=1e-10)


def test_zero_signals_are_finite() -> None:
    z = np.zeros((2, 4000), np.float32)
    loud = np.full((2, 4000), 0.1, np.float32)
    for x, y in ((z, z), (z, loud), (loud, z)):
        out = M.audio_metrics(x, y, SR)
        for name, v in out.items():
            assert np.all(np.isfinite(v)), (name, v)
    assert all(np.all(v == 0) for v in M.audio_metrics(z, z, SR).values())


def test_one_dimensional_and_tiny_inputs() -> None:
    out = M.audio_metrics(np.zeros(1), np.zeros(1), SR)
    assert all(v.shape == (1,) for v in out.values())
    empty = M.audio_metrics(np.zeros((0, 100)), np.zeros((0, 100)), SR)
    assert all(v.shape == (0,) for v in empty.values())


def test_batches_larger_than_a_chunk_are_consistent(noise: np.ndarray) -> None:
    big = np.concatenate([noise] * 12)[:, :2000]  # 36 items > one chunk
    sc = M.spectral_convergence(big, 0.5 * big)
    assert sc.shape == (36,)
    np.testing.assert_allclose(sc, 0.5, rtol=1e-5)


def test_shape_and_value_errors() -> None:
    with pytest.raises(ValueError, match="one shape"):
        M.audio_metrics(np.zeros((2, 100)), np.zeros((2, 99)), SR)
    with pytest.raises(ValueError, match="NaN"):
        M.audio_metrics(np.array([0.0, np.nan]), np.zeros(2), SR)


# --- parameter metrics -------------------------------------------------------------------
SPEC = ParamSpec(
    "toy",
    (
        Param("cutoff", low=20.0, high=20000.0, curve="exp", default=1000.0),
        Param("detune", low=-12.0, high=12.0, steps=25),
        Param("wave", kind="categorical", categories=("sine", "saw", "square")),
        Param("on", kind="categorical", categories=("off", "on")),
    ),
)


def test_param_metrics_perfect_and_known_errors() -> None:
    t = np.array([[0.5, 0.5, 0.0, 1.0], [0.2, 0.0, 1.0, 0.0]])
    out = M.param_metrics(SPEC, None, t, t)
    np.testing.assert_allclose(out["num_mse"], 0)
    np.testing.assert_allclose(out["num_mae"], 0)
    np.testing.assert_allclose(out["cat_accuracy"], 1)
    p = np.array([[0.7, 0.5, 0.5, 1.0], [0.2, 1.0, 0.0, 1.0]])
    out = M.param_metrics(SPEC, None, t, p)
    np.testing.assert_allclose(out["num_mae"], [0.1, 0.5], rtol=1e-6)
    np.testing.assert_allclose(out["num_mse"], [0.02, 0.5], rtol=1e-6)
    np.testing.assert_allclose(out["cat_accuracy"], [0.5, 0.0])


def test_param_metrics_quantize_discrete_predictions() -> None:
    t = np.array([[0.5, 0.5, 0.0, 0.0]])
    p = np.array([[0.5, 0.5 + 0.4 / 24, 0.2, 0.4]])  # all within half a step
    out = M.param_metrics(SPEC, None, t, p)
    assert out["num_mae"][0] == 0 and out["cat_accuracy"][0] == 1


@pytest.mark.parametrize("encoding", ["num", "numcat", "numcat++"])
def test_param_metrics_on_encoded_vectors(encoding: str) -> None:
    rng = np.random.default_rng(0)
    t = SPEC.sample_uniform(rng, 8)
    p = SPEC.sample_uniform(rng, 8)
    direct = M.param_metrics(SPEC, None, t, p)
    enc = M.param_metrics(SPEC, encoding, SPEC.encode(t, encoding), SPEC.encode(p, encoding))
    for k in direct:
        np.testing.assert_allclose(enc[k], direct[k], atol=1e-6, err_msg=k)


def test_param_metrics_leave_out_empty_kinds_and_check_shapes() -> None:
    num_only = SPEC.subset(["cutoff", "detune"])
    out = M.param_metrics(num_only, None, np.zeros((2, 2)), np.ones((2, 2)))
    assert set(out) == {"num_mse", "num_mae"}
    with pytest.raises(SpecError, match="one shape"):
        M.param_metrics(SPEC, None, np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(SpecError, match="expected 4"):
        M.param_metrics(SPEC, None, np.zeros((2, 3)), np.zeros((2, 3)))


def test_summarize() -> None:
    s = M.summarize({"a": np.array([1.0, 3.0]), "b": np.array([2.0, np.nan])})
    assert s["a"] == {"mean": 2.0, "std": 1.0, "n": 2, "n_nonfinite": 0}
    assert s["b"]["mean"] == 2.0 and s["b"]["n_nonfinite"] == 1
    assert all(isinstance(v, (float, int)) for d in s.values() for v in d.values())
