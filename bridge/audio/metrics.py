"""The papers' evaluation metrics: audio distances and parameter errors, one value per item.

Audio metrics compare a target sound with the sound re-rendered from an inferred preset
(Le Vaillant et al. 2021, section 3.4; Esling et al. 2020, section 5). All three read
short-time Fourier transforms with a Hann window, ``center=True`` and zero padding, scaled
by ``2 / sum(window)`` so that a full-scale sine peaks at magnitude 1 (0 dB) whatever the FFT
size; the floors below are therefore levels relative to full scale.

- spectral convergence: ``||S_x - S_y||_F / ||S_x||_F`` on linear magnitudes (x the target);
- log-spectrogram MAE: ``mean |ln max(S_x, floor) - ln max(S_y, floor)|``, floor 1e-5 (-100 dB);
- MFCC MAE: mean absolute difference of 40 MFCCs, computed as librosa's defaults do (n_fft
  2048, hop 512, 128 Slaney mel bands over 0..sr/2, power in dB floored at -100 dB, DCT-II
  with orthonormal scaling), except that the dB floor is absolute rather than 80 dB under each
  sound's own peak, so that a quiet estimate is not judged on a different scale from its
  target.

Parameter metrics follow Le Vaillant et al. 2021's table 1: MAE (and Esling et al.'s MSE) of
numerical parameters' normalized values, and accuracy of categorical parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from bridge.audio.features import mel_filterbank
from bridge.synth.spec import Encoding, ParamSpec, SpecError

AUDIO_METRICS: tuple[str, ...] = ("spectral_convergence", "log_spectral_mae", "mfcc_mae")
PARAM_METRICS: tuple[str, ...] = ("num_mse", "num_mae", "cat_accuracy")

STFT_N_FFT = 1024
STFT_HOP = 256
LOG_FLOOR = 1e-5  # magnitude, i.e. -100 dB under a full-scale sine
MFCC_N_FFT = 2048
MFCC_HOP = 512
MFCC_N_MELS = 128
N_MFCC = 40
MFCC_FLOOR_DB = -100.0
# Items per STFT call: bounds memory (a 4 s note at 22.05 kHz is ~1.4 MB of spectrum).
_CHUNK = 32


def _pair(target: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(target, dtype=np.float32)
    y = np.asarray(estimate, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if y.ndim == 1:
        y = y[None]
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(
            f"target and estimate must both be [B, T] (or [T]) of one shape; got "
            f"{np.shape(target)} and {np.shape(estimate)}"
        )
    if x.shape[1] == 0:
        raise ValueError("cannot compare empty signals (T = 0)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("audio contains NaN or infinite samples")
    return x, y


def _magnitude(audio: np.ndarray, n_fft: int, hop: int) -> torch.Tensor:
    """[B, T] -> [B, n_fft // 2 + 1, frames] float64 magnitudes, full-scale sine at 1."""
    x = torch.from_numpy(audio).double()
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(
        x, n_fft=n_fft, hop_length=hop, window=window, center=True,
        pad_mode="constant", return_complex=True,
    )
    return spec.abs() * (2.0 / float(window.sum()))


def _chunked(fn, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    parts = [fn(x[i : i + _CHUNK], y[i : i + _CHUNK]) for i in range(0, len(x), _CHUNK)]
    return np.concatenate(parts) if parts else np.zeros(0)


def spectral_convergence(
    target: np.ndarray, estimate: np.ndarray, n_fft: int = STFT_N_FFT, hop: int = STFT_HOP
) -> np.ndarray:
    """[B] spectral convergence ``||S_x - S_y||_F / ||S_x||_F`` (0 when equal).

    Linear STFT magnitudes, x the target. It weighs the loudest components and is blind to
    a uniform change of level in both. A silent target would divide by zero: the denominator
    is at least the norm of a spectrogram sitting at the -100 dB floor, so two silences score
    0 and a sound against silence scores a large finite number.
    """
    x, y = _pair(target, estimate)

    def one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        sa, sb = _magnitude(a, n_fft, hop), _magnitude(b, n_fft, hop)
        num = torch.linalg.vector_norm(sa - sb, dim=(1, 2))
        den = torch.linalg.vector_norm(sa, dim=(1, 2))
        den = torch.clamp(den, min=LOG_FLOOR * float(sa[0].numel()) ** 0.5)
        return (num / den).numpy()

    return _chunked(one, x, y)


def log_spectral_mae(
    target: np.ndarray,
    estimate: np.ndarray,
    n_fft: int = STFT_N_FFT,
    hop: int = STFT_HOP,
    floor: float = LOG_FLOOR,
) -> np.ndarray:
    """[B] mean over bins and frames of ``|ln max(S_x, floor) - ln max(S_y, floor)|``.

    Natural log of linear magnitudes; scaling the estimate by ``a`` (with every bin above the
    floor) gives exactly ``|ln a|``.
    """
    x, y = _pair(target, estimate)

    def one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        la = torch.log(torch.clamp(_magnitude(a, n_fft, hop), min=floor))
        lb = torch.log(torch.clamp(_magnitude(b, n_fft, hop), min=floor))
        return (la - lb).abs().mean(dim=(1, 2)).numpy()

    return _chunked(one, x, y)


def mfcc(audio: np.ndarray, sample_rate: int, n_mfcc: int = N_MFCC) -> np.ndarray:
    """[B, n_mfcc, frames] MFCCs (librosa's recipe, absolute -100 dB floor; see module doc)."""
    x = np.asarray(audio, dtype=np.float32)
    x = x[None] if x.ndim == 1 else x
    fb = torch.from_numpy(
        mel_filterbank(int(sample_rate), MFCC_N_FFT, MFCC_N_MELS, 0.0, sample_rate / 2.0)
    ).double()
    # The bank is area-normalized; dividing by each row's sum keeps band levels in the
    # signal's own dB (a full-scale sine near 0 dB), so the floor means the same in every band.
    fb = fb / torch.clamp(fb.sum(dim=1, keepdim=True), min=1e-12)
    out = []
    for i in range(0, len(x), _CHUNK):
        power = _magnitude(x[i : i + _CHUNK], MFCC_N_FFT, MFCC_HOP) ** 2
        db = 10.0 * torch.log10(torch.clamp(fb @ power, min=10.0 ** (MFCC_FLOOR_DB / 10.0)))
        out.append(_dct_ortho(db)[:, :n_mfcc])
    if not out:
        return np.zeros((0, n_mfcc, 1 + x.shape[1] // MFCC_HOP), dtype=np.float32)
    return torch.cat(out).float().numpy()


def _dct_ortho(x: torch.Tensor) -> torch.Tensor:
    """DCT-II with orthonormal scaling along dim 1 ([B, M, frames])."""
    m = x.shape[1]
    k = torch.arange(m, dtype=torch.float64)[:, None]
    n = torch.arange(m, dtype=torch.float64)[None, :]
    basis = torch.cos(torch.pi * k * (2 * n + 1) / (2 * m)) * (2.0 / m) ** 0.5
    basis[0] /= 2.0**0.5
    return torch.einsum("km,bmt->bkt", basis, x)


def mfcc_mae(
    target: np.ndarray, estimate: np.ndarray, sample_rate: int, n_mfcc: int = N_MFCC
) -> np.ndarray:
    """[B] mean absolute difference of ``n_mfcc`` (40) MFCCs over coefficients and frames.

    Units are those of dB-scaled mel bands through an orthonormal DCT: scaling the estimate
    by ``a`` moves only the 0th coefficient, by ``20 log10(a) * sqrt(128)``.
    """
    x, y = _pair(target, estimate)
    return np.abs(mfcc(x, sample_rate, n_mfcc) - mfcc(y, sample_rate, n_mfcc)).mean(axis=(1, 2))


def audio_metrics(
    target: np.ndarray, estimate: np.ndarray, sample_rate: int
) -> dict[str, np.ndarray]:
    """All audio metrics of :data:`AUDIO_METRICS` for a batch: name -> float64 [B]."""
    x, y = _pair(target, estimate)
    return {
        "spectral_convergence": spectral_convergence(x, y).astype(np.float64),
        "log_spectral_mae": log_spectral_mae(x, y).astype(np.float64),
        "mfcc_mae": mfcc_mae(x, y, sample_rate).astype(np.float64),
    }


def param_metrics(
    spec: ParamSpec,
    encoding: Encoding | None,
    true_norm: np.ndarray,
    pred_norm: np.ndarray,
) -> dict[str, np.ndarray]:
    """Parameter errors per item: name -> float64 [B].

    ``encoding`` says what the arrays hold: None for normalized presets [B, N], or an
    encoding name (``num``, ``numcat``, ``numcat++``) for encoded vectors [B, D], which are
    decoded first (one-hot blocks by argmax). Both sides are then snapped to each parameter's
    grid, as the synth would snap them, so the metrics score presets that can be played.

    - ``num_mse``, ``num_mae``: mean squared / absolute error of the normalized values of the
      numerical parameters (continuous and discrete);
    - ``cat_accuracy``: fraction of categorical parameters whose category is right.

    Which parameters are numerical or categorical is the spec's, whatever the encoding, so
    the numbers compare across encodings. A key is left out when the spec has no parameter
    of that kind (rather than reporting NaN).
    """
    t, p = np.asarray(true_norm, np.float64), np.asarray(pred_norm, np.float64)
    t = t[None] if t.ndim == 1 else t
    p = p[None] if p.ndim == 1 else p
    if t.shape != p.shape or t.ndim != 2:
        raise SpecError(
            f"true and predicted presets must be [B, N] of one shape; got {t.shape} and {p.shape}"
        )
    if encoding is not None:
        t, p = spec.decode(t, encoding), spec.decode(p, encoding)
    elif t.shape[1] != len(spec):
        raise SpecError(
            f"{spec.synth}: expected {len(spec)} normalized values per preset, got {t.shape[1]}"
            " (pass the encoding if these are encoded vectors)"
        )
    t = spec.quantize(t).astype(np.float64)
    p = spec.quantize(np.clip(np.nan_to_num(p, nan=0.5), 0.0, 1.0)).astype(np.float64)
    out: dict[str, np.ndarray] = {}
    num = [i for i, q in enumerate(spec.params) if not q.is_categorical]
    cat = [i for i, q in enumerate(spec.params) if q.is_categorical]
    if num:
        d = p[:, num] - t[:, num]
        out["num_mse"] = (d**2).mean(axis=1)
        out["num_mae"] = np.abs(d).mean(axis=1)
    if cat:
        steps = np.array([spec.params[i].steps - 1 for i in cat], dtype=np.float64)
        right = np.round(p[:, cat] * steps) == np.round(t[:, cat] * steps)
        out["cat_accuracy"] = right.mean(axis=1)
    return out


def summarize(metrics: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Mean and (population) standard deviation of each per-item metric, as plain floats.

    Non-finite items are left out of the statistics and counted in ``n_nonfinite`` so that
    one broken render does not hide the rest; ``n`` is the number of items used.
    """
    out: dict[str, dict[str, float]] = {}
    for name, values in metrics.items():
        v = np.asarray(values, dtype=np.float64).ravel()
        ok = v[np.isfinite(v)]
        out[name] = {
            "mean": float(ok.mean()) if ok.size else float("nan"),
            "std": float(ok.std()) if ok.size else float("nan"),
            "n": int(ok.size),
            "n_nonfinite": int(v.size - ok.size),
        }
    return out
