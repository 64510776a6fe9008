"""Log-mel spectrograms in torch (torch.stft plus a Slaney mel filter bank).

The default follows the Flow Synthesizer setting: 22.05 kHz, n_fft 2048, hop 1024, mel bands
between 30 Hz and 11 kHz.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import torch


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 22050
    n_fft: int = 2048
    hop: int = 1024
    n_mels: int = 64
    fmin: float = 30.0
    fmax: float = 11000.0
    # Floor of the log: -100 dB under full scale, so silence is a finite, constant value.
    floor_db: float = -100.0

    def __post_init__(self) -> None:
        if self.n_mels < 8 or self.n_mels > 512:
            raise ValueError(
                f"n_mels {self.n_mels} should be between 8 and 512 (64 or 128 are usual)"
            )
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(
                f"mel range {self.fmin}..{self.fmax} Hz must lie within "
                f"0..{self.sample_rate / 2} Hz"
            )
        if self.hop <= 0 or self.n_fft < self.hop:
            raise ValueError(f"hop {self.hop} must be positive and at most n_fft {self.n_fft}")

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> FeatureConfig:
        return FeatureConfig(**d)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    # Slaney's scale: linear under 1 kHz, logarithmic above.
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(
        f < min_log_hz, f / f_sp, min_log_mel + np.log(np.maximum(f, 1e-9) / min_log_hz) / logstep
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m < min_log_mel, m * f_sp, min_log_hz * np.exp(logstep * (m - min_log_mel)))


@lru_cache(maxsize=16)
def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters, area-normalized (Slaney)."""
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_pts = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    hz_pts = _mel_to_hz(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_pts[2:] - hz_pts[:-2]))[:, None]
    return weights.astype(np.float32)


class MelSpectrogram(torch.nn.Module):
    """Audio [B, T] -> log-mel [B, n_mels, frames] in dB (floored). Scriptable."""

    def __init__(self, cfg: FeatureConfig = FeatureConfig()) -> None:
        super().__init__()
        self.n_fft = cfg.n_fft
        self.hop = cfg.hop
        self.floor_db = float(cfg.floor_db)
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
        self.register_buffer("fb", torch.from_numpy(fb))
        self.register_buffer("window", torch.hann_window(cfg.n_fft))
        # Scale so that a full-scale sine peaks near 0 dB in its STFT bin whatever n_fft is;
        # a mel band then averages over its width (a full-scale 1 kHz sine reads about -6 dB
        # with 64 bands, -3 dB with 128: tests/test_features.py).
        self.scale = 2.0 / float(torch.hann_window(cfg.n_fft).sum())

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            audio,
            n_fft=self.n_fft,
            hop_length=self.hop,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = (spec.abs() * self.scale) ** 2
        mel = torch.matmul(self.fb, power)
        # fb is area-normalized; undo its bin-width scaling so dB stays near the signal's level.
        db = 10.0 * torch.log10(mel / self.fb.sum(dim=1, keepdim=True) + 1e-12)
        return torch.clamp(db, min=self.floor_db)


_CACHE: dict[FeatureConfig, MelSpectrogram] = {}


def log_mel(audio: np.ndarray | torch.Tensor, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Numpy convenience: [B, T] or [T] audio -> [B, n_mels, frames] float32 log-mel in dB."""
    if cfg not in _CACHE:
        _CACHE[cfg] = MelSpectrogram(cfg)
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    squeeze = x.ndim == 1
    if squeeze:
        x = x[None]
    with torch.no_grad():
        out = _CACHE[cfg](x).numpy()
    return out[0] if squeeze else out


def normalization_stats(mels: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation of log-mels (dB) over a training split, for scaling inputs."""
    m = np.asarray(mels, dtype=np.float64)
    return {"mean": float(m.mean()), "std": float(max(m.std(), 1e-6))}
