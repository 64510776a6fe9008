"""A small but real HostedModel for the server's tests, and the custom-host module that
`flowsynth serve --model-factory tests/server_model.py:make_model` loads.

The "regression flow" is an affine map followed by a sigmoid, v = sigmoid(W z + c), whose
inverse on reachable presets is exact (W has full column rank); the macros are the first 8
latent dimensions through the normal CDF; audio is encoded from a few spectral features.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from bridge.synth.base import PAPER_NOTE, Note, Synth
from bridge.synth.spec import Param, ParamSpec

N_MACROS = 8
_EPS = 1e-6
# name -> (n_params, latent_dim, seed); the dims differ so a mix-up of the two shows.
MODELS: dict[str, tuple[int, int, int]] = {"toy": (16, 12, 0), "toy-wide": (24, 20, 1)}


class AffineModel:
    """z -> v = sigmoid(W z + c) with its exact inverse; numpy only, so it is fast."""

    def __init__(self, name: str = "toy", n_params: int = 16, latent_dim: int = 12,
                 seed: int = 0, sample_rate: int = 16000) -> None:
        if latent_dim > n_params or latent_dim < N_MACROS:
            raise ValueError("need N_MACROS <= latent_dim <= n_params")
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((n_params, latent_dim)))
        self.W = (q * np.linspace(0.6, 1.4, latent_dim)).astype(np.float64)
        self.c = (0.1 * rng.standard_normal(n_params)).astype(np.float64)
        self.W_pinv = np.linalg.pinv(self.W)
        self.P = (0.5 * rng.standard_normal((latent_dim, 4))).astype(np.float64)
        # Off zero, so that a slot starting at z = 0 instead of here shows.
        self.start = (0.25 * rng.standard_normal((1, latent_dim))).astype(np.float32)
        self.name = name
        self.synth_name = f"sine{n_params}"
        self.param_names = [f"p{k}" for k in range(n_params)]
        self.macro_names = [f"macro{k}" for k in range(N_MACROS)]
        self.latent_dim = latent_dim
        self.sample_rate = sample_rate

    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        a = np.asarray(z, dtype=np.float64) @ self.W.T + self.c
        return (1.0 / (1.0 + np.exp(-a))).astype(np.float32)

    def latent_from_params(self, v: np.ndarray) -> np.ndarray:
        v = np.clip(np.asarray(v, dtype=np.float64), _EPS, 1 - _EPS)
        logit = np.log(v) - np.log1p(-v)
        return ((logit - self.c) @ self.W_pinv.T).astype(np.float32)

    def latent_from_macros(self, m: np.ndarray, base: np.ndarray) -> np.ndarray:
        z = np.array(base, dtype=np.float32, copy=True)
        z[:, :N_MACROS] = ndtri(np.clip(np.asarray(m, dtype=np.float64), _EPS, 1 - _EPS))
        return z

    def macros_from_latent(self, z: np.ndarray) -> np.ndarray:
        return ndtr(np.asarray(z, dtype=np.float64)[:, :N_MACROS]).astype(np.float32)

    def latent_from_audio(self, audio: np.ndarray) -> np.ndarray:
        return (audio_features(audio, self.sample_rate) @ self.P.T).astype(np.float32)

    def center(self) -> np.ndarray:
        return self.start.copy()


def audio_features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[B, T] -> [B, 4] standardized: loudness, brightness, noisiness, length."""
    a = np.asarray(audio, dtype=np.float64)
    rms = np.sqrt(np.mean(a**2, axis=1) + 1e-12)
    spec = np.abs(np.fft.rfft(a, axis=1))
    freqs = np.fft.rfftfreq(a.shape[1], 1.0 / sample_rate)
    centroid = (spec * freqs).sum(axis=1) / (spec.sum(axis=1) + 1e-12)
    zcr = np.mean(np.abs(np.diff(np.sign(a), axis=1)) > 0, axis=1)
    seconds = np.full(a.shape[0], a.shape[1] / sample_rate)
    return np.stack([(20 * np.log10(rms) + 30) / 20, centroid / (sample_rate / 4) - 1,
                     4 * zcr - 1, seconds / 4 - 1], axis=1)


class SineSynth(Synth):
    """A small additive synth: p0 sets brightness, p1 the decay, the rest the partials' mix."""

    def __init__(self, n_params: int = 16) -> None:
        self.name = f"sine{n_params}"
        self.spec = ParamSpec(self.name, tuple(Param(f"p{k}") for k in range(n_params)))

    def render(self, presets: np.ndarray, note: Note = PAPER_NOTE,
               sample_rate: int = 22050) -> np.ndarray:
        p = np.asarray(presets, dtype=np.float64)
        t = np.arange(int(note.duration * sample_rate)) / sample_rate
        env = np.where(t < note.held, 1.0, 0.0) * np.exp(-t * (0.5 + 4 * p[:, 1:2]))
        out = np.zeros((p.shape[0], t.size))
        for k in range(2, p.shape[1]):
            f = note.frequency * (k - 1)
            if f < sample_rate / 2:  # no partial above Nyquist: nothing aliases
                out += p[:, k:k + 1] * (p[:, 0:1] ** (k - 2)) * np.sin(2 * np.pi * f * t)
        peak = np.max(np.abs(out), axis=1, keepdims=True) + 1e-9
        return (0.5 * out / peak * env * note.velocity / 127).astype(np.float32)


def make_model(name: str) -> AffineModel:
    if name not in MODELS:
        raise KeyError(f"no model {name!r}; this host offers {', '.join(MODELS)}")
    n, d, seed = MODELS[name]
    return AffineModel(name, n, d, seed)


def list_models() -> list[str]:
    return list(MODELS)


def get_synth(name: str) -> Synth:
    if not name.startswith("sine"):
        raise ValueError(f"this host only has sine synths, not {name!r}")
    return SineSynth(int(name[len("sine"):]))
