"""Shared DSP building blocks for the built-in synths: numba kernels and small numpy helpers.

Everything here works per sample on scalars so that a synth can fuse oscillators, envelopes
and filter into one loop per voice (numba compiles it to a tight native loop; a Python or torch
loop over samples would be far too slow for recursive filters).

Exponential ADSR (shared by every envelope of both synths), times in seconds:
- attack ``A``: an RC-style charge towards an overshoot target ``1 / (1 - e^-K)`` with
  ``K = ATTACK_K``; it is stopped at 1.0, which it reaches exactly ``A`` seconds after note-on
  (so "attack time" = time from note-on to peak);
- decay ``D``: exponential fall from 1.0 towards the sustain level ``S``; ``D`` is the time the
  distance to ``S`` takes to shrink by 60 dB (a T60, as for reverbs);
- release ``R``: exponential fall from wherever the envelope is at note-off; ``R`` is the time
  to fall 60 dB. The curve aims a hair below zero (``-RELEASE_FLOOR``) and is clamped there,
  so it reaches exactly zero (about 1.67 R after note-off) instead of hanging on forever.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bridge.synth.base import Note
from bridge.synth.spec import SpecError

LN1000 = math.log(1000.0)
ATTACK_K = 1.5
ATTACK_TARGET = 1.0 / (1.0 - math.exp(-ATTACK_K))
RELEASE_FLOOR = 1e-5
# Stages of an envelope.
ATTACK, DECAY, RELEASE, DONE = 0, 1, 2, 3

TABLE_SIZE = 2048  # one cycle of a band-limited wavetable (plus a guard point for interpolation)
SINE_TABLE_SIZE = 4096  # linear interpolation error ~3e-7 (-130 dB): a clean sine
WAVE_SAW, WAVE_PULSE, WAVE_TRIANGLE, WAVE_SINE = 0, 1, 2, 3


# --- small scalar helpers --------------------------------------------------------------------
@njit(cache=True, nogil=True, fastmath=True)
def tanh_fast(x: float) -> float:
    """Pade-style tanh, exact at 0, slope 1, reaching +-1 at |x| = 3 with zero slope there."""
    if x > 3.0:
        return 1.0
    if x < -3.0:
        return -1.0
    x2 = x * x
    return x * (27.0 + x2) / (27.0 + 9.0 * x2)


_RNG_MUL = np.uint64(2685821657736338717)  # a uint64 constant: a bare literal would be int64


@njit(cache=True, nogil=True)
def rng_next(state: np.uint64) -> tuple[np.uint64, float]:
    """xorshift64*: returns the new state and a uniform float in [-1, 1)."""
    x = np.uint64(state)
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    out = x * _RNG_MUL
    return x, float(out >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0


def row_seeds(presets: np.ndarray) -> np.ndarray:
    """One noise seed per preset, hashed from its own bytes.

    A preset thus renders the same noise in any batch position and batch size, and no global
    random state is touched.
    """
    rows = np.ascontiguousarray(presets, dtype=np.float32)
    seeds = np.empty(len(rows), dtype=np.uint64)
    for i, row in enumerate(rows):
        # FNV-1a over the bytes, then a splitmix finalizer; never 0 (xorshift's fixed point).
        h = 0xCBF29CE484222325
        for b in row.tobytes():
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        seeds[i] = (h ^ (h >> 31)) or 1
    return seeds


def check_render_args(note: Note, sample_rate: int) -> tuple[int, int]:
    """(held samples, total samples), or a SpecError that says what is wrong."""
    if not isinstance(note, Note):
        raise SpecError(f"note must be a bridge.synth.Note, got {type(note).__name__}")
    if not isinstance(sample_rate, (int, np.integer)) or not 8000 <= sample_rate <= 192000:
        raise SpecError(
            f"sample_rate must be an integer between 8000 and 192000 Hz, got {sample_rate!r}"
        )
    n = int(round(note.duration * sample_rate))
    held = int(round(note.held * sample_rate))
    return held, n


# --- envelopes ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def env_coefs(
    attack: float, decay: float, release: float, rate: float
) -> tuple[float, float, float]:
    """Per-step multipliers of the exponential ADSR at ``rate`` steps per second."""
    ca = math.exp(-ATTACK_K / max(attack * rate, 1e-9))
    cd = math.exp(-LN1000 / max(decay * rate, 1e-9))
    cr = math.exp(-LN1000 / max(release * rate, 1e-9))
    return ca, cd, cr


@njit(cache=True, nogil=True, fastmath=True)
def env_step(
    env: float, stage: int, gate: bool, sustain: float, ca: float, cd: float, cr: float
) -> tuple[float, int]:
    """Advance an envelope by one step; returns (value, stage)."""
    if stage == ATTACK:
        if not gate:
            stage = RELEASE
        else:
            env = ATTACK_TARGET + (env - ATTACK_TARGET) * ca
            if env >= 1.0:
                env = 1.0
                stage = DECAY
            return env, stage
    if stage == DECAY:
        if not gate:
            stage = RELEASE
        else:
            # aim a hair under the sustain so that sustain 0 really reaches silence
            target = sustain - RELEASE_FLOOR
            env = target + (env - target) * cd
            if env < 0.0:
                env = 0.0
            return env, stage
    if stage == RELEASE:
        env = -RELEASE_FLOOR + (env + RELEASE_FLOOR) * cr
        if env <= 0.0:
            env = 0.0
            stage = DONE
        return env, stage
    return 0.0, DONE


def render_envelope(
    attack: float, decay: float, sustain: float, release: float, held: int, n: int, sr: float
) -> np.ndarray:
    """A whole envelope as an array (for tests and plots; the synths step it inline)."""
    return _render_envelope(attack, decay, sustain, release, held, n, sr)


@njit(cache=True, nogil=True)
def _render_envelope(attack, decay, sustain, release, held, n, sr):  # noqa: ANN001, ANN202
    out = np.empty(n)
    ca, cd, cr = env_coefs(attack, decay, release, sr)
    env, stage = 0.0, ATTACK
    for i in range(n):
        env, stage = env_step(env, stage, i < held, sustain, ca, cd, cr)
        out[i] = env
    return out


# --- LFO ---------------------------------------------------------------------------------------
LFO_SINE, LFO_TRIANGLE, LFO_SAW, LFO_SQUARE, LFO_SAMPLE_HOLD = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True, fastmath=True)
def lfo_shape(shape: int, phase: float, held_value: float) -> float:
    """Bipolar LFO value in [-1, 1] at ``phase`` in [0, 1); S&H returns ``held_value``."""
    if shape == LFO_SINE:
        return math.sin(2.0 * math.pi * phase)
    if shape == LFO_TRIANGLE:
        return 4.0 * abs(phase - 0.5) - 1.0
    if shape == LFO_SAW:
        return 1.0 - 2.0 * phase  # falling, as most synths' "saw" LFO
    if shape == LFO_SQUARE:
        return 1.0 if phase < 0.5 else -1.0
    return held_value


# --- filters -------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, fastmath=True)
def soft_sat(x: float) -> float:
    """Cubic soft saturator: slope 1 at 0, reaching +-1 with zero slope at |x| = 1.5.

    No division, so it is cheap inside a filter's feedback loop, where latency is what counts.
    """
    if x > 1.5:
        return 1.0
    if x < -1.5:
        return -1.0
    return x - (4.0 / 27.0) * x * x * x


@njit(cache=True, nogil=True)
def ladder_coefs(g: float, k: float) -> tuple[float, float]:
    """(G, 1 / (1 + k G^4)) of ``ladder_step`` for g = tan(pi fc / fs) and feedback ``k``."""
    big_g = g / (1.0 + g)
    g2 = big_g * big_g
    return big_g, 1.0 / (1.0 + k * g2 * g2)


@njit(cache=True, nogil=True, fastmath=True)
def ladder_step(
    x: float, big_g: float, inv_den: float, k: float, s0: float, s1: float, s2: float, s3: float
) -> tuple[float, float, float, float, float]:
    """One sample of a 4-pole (24 dB) transistor-ladder-style low-pass, zero-delay feedback.

    Four trapezoidal one-pole stages (states s0..s3) in a loop with feedback ``k`` in [0, 4)
    (4: self-oscillation). The loop is solved linearly for the 4th stage's output, then the
    first stage's input goes through a soft saturator, which bounds self-oscillation and gives
    the ladder its overdrive. Coefficients come from ``ladder_coefs``. Returns (y, s0..s3).
    """
    one_g = 1.0 - big_g
    g2 = big_g * big_g
    big_s = (g2 * big_g * s0 + g2 * s1 + big_g * s2 + s3) * one_g
    y4 = (g2 * g2 * x + big_s) * inv_den
    u = soft_sat(x - k * y4)
    y = s0 + big_g * (u - s0)
    s0 = 2.0 * y - s0
    u = y
    y = s1 + big_g * (u - s1)
    s1 = 2.0 * y - s1
    u = y
    y = s2 + big_g * (u - s2)
    s2 = 2.0 * y - s2
    u = y
    y = s3 + big_g * (u - s3)
    s3 = 2.0 * y - s3
    return y, s0, s1, s2, s3


@njit(cache=True, nogil=True)
def svf_coefs(g: float, k: float) -> tuple[float, float, float]:
    """(a1, a2, a3) of ``svf_step`` for g = tan(pi fc / fs) and damping k = 1/Q."""
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    return a1, a2, g * a2


@njit(cache=True, nogil=True, fastmath=True)
def svf_step(
    x: float, a1: float, a2: float, a3: float, k: float, s0: float, s1: float
) -> tuple[float, float, float, float, float]:
    """One sample of a trapezoidal state-variable filter (12 dB): (lp, bp, hp, s0, s1)."""
    v3 = x - s1
    v1 = a1 * s0 + a2 * v3
    v2 = s1 + a2 * s0 + a3 * v3
    s0 = 2.0 * v1 - s0
    s1 = 2.0 * v2 - s1
    return v2, v1, x - k * v1 - v2, s0, s1


# --- band-limited wavetables -------------------------------------------------------------------
def wavetables(waves: np.ndarray, max_freq: np.ndarray, sample_rate: float) -> np.ndarray:
    """Band-limited single-cycle tables, one per (row, oscillator), float64 [..., TABLE_SIZE + 1].

    Each table holds only the harmonics that stay under Nyquist at ``max_freq`` (the highest
    frequency the oscillator reaches in this note, pitch modulation included), so the oscillator
    cannot alias at all; PolyBLEP would leave aliases about 21 dB under a 3 kHz saw at 22.05 kHz.
    Pulse waves read the saw table twice (saw(p) - saw(p + width)), so their width can move.
    """
    waves = np.asarray(waves)
    n_harm = np.floor(0.5 * sample_rate / np.maximum(np.asarray(max_freq, np.float64), 1e-3))
    # 0 harmonics (silence) for an oscillator whose fundamental is over Nyquist
    n_harm = np.clip(n_harm, 0, TABLE_SIZE // 2 - 1)
    h = np.arange(TABLE_SIZE // 2 + 1, dtype=np.float64)
    hs = np.maximum(h, 1.0)
    saw = np.where(h >= 1, -2.0 / (np.pi * hs), 0.0)  # a rising ramp -1..1
    odd = (h % 2) == 1
    tri = np.where(odd, 8.0 / (np.pi**2 * hs**2) * np.where((h % 4) == 1, 1.0, -1.0), 0.0)
    sine = np.where(h == 1, 1.0, 0.0)
    amps = np.stack([saw, saw, tri, sine])[waves]  # [..., H]
    amps = np.where(h <= n_harm[..., None], amps, 0.0)
    # irfft of -i*a*N/2 at bin h gives a*sin(2 pi h n / N)
    tables = np.fft.irfft(-0.5j * TABLE_SIZE * amps, n=TABLE_SIZE, axis=-1)
    return np.concatenate([tables, tables[..., :1]], axis=-1)


SINE_TABLE = np.sin(2.0 * np.pi * np.arange(SINE_TABLE_SIZE + 1) / SINE_TABLE_SIZE)


@njit(cache=True, nogil=True, fastmath=True)
def table_read(table: np.ndarray, phase: float) -> float:
    """Linear interpolation in a one-cycle table (size N + 1) at ``phase`` in [0, 1)."""
    pos = phase * (table.shape[0] - 1)
    # unsigned, so numba drops its negative-index wraparound: a third off a unison-heavy voice
    i = np.uint32(pos)
    frac = pos - i
    a = table[i]
    return a + frac * (table[i + 1] - a)


@njit(cache=True, nogil=True, fastmath=True)
def sine_read(table: np.ndarray, phase: float) -> float:
    """sin(2 pi phase) from ``SINE_TABLE`` for a phase in (-64, 64) cycles.

    The offset and the power-of-two mask wrap the phase without a floor(): this sits on FM's
    operator-to-operator dependency chain, where every cycle of latency counts.
    """
    pos = (phase + 64.0) * SINE_TABLE_SIZE
    i = int(pos)
    frac = pos - i
    i &= SINE_TABLE_SIZE - 1
    a = table[i]
    return a + frac * (table[i + 1] - a)


# --- output stage ------------------------------------------------------------------------------
@njit(cache=True, nogil=True, fastmath=True)
def soft_limit_and_fade(out: np.ndarray, sample_rate: float, fade_s: float) -> None:
    """Keep every sample under 1.0 and fade the end of the render, in place, on [B, T].

    Linear up to the knee (0.9), then a tanh shoulder that never exceeds 1.0: quiet material is
    untouched, hot peaks are rounded rather than hard-clipped. The raised-cosine fade over the
    last ``fade_s`` seconds stops a note (or an effect tail) cut by the render's end from
    clicking.
    """
    knee = 0.9
    room = 1.0 - knee
    n_rows, n = out.shape
    n_fade = min(n, max(1, int(fade_s * sample_rate)))
    for b in range(n_rows):
        for i in range(n):
            x = out[b, i]
            ax = abs(x)
            if ax > knee:
                y = knee + room * tanh_fast((ax - knee) / room)
                x = y if x > 0 else -y
            if i >= n - n_fade:
                w = (n - 1 - i) / n_fade
                x *= 0.5 - 0.5 * math.cos(math.pi * w)
            out[b, i] = x


def halfband_taps(n_side: int = 12, beta: float = 8.0) -> np.ndarray:
    """Odd-offset taps of a Kaiser-windowed half-band low-pass (its even taps are 0, centre 0.5).

    ``n_side`` taps each side: with 12, flat (-0.01 dB) to 0.8 of the output Nyquist, -55 dB
    at 1.2 of it and under -88 dB from 1.4.
    """
    m = np.arange(1, 2 * n_side, 2, dtype=np.float64)
    half = 2 * n_side - 1
    h = 0.5 * np.sinc(m / 2.0) * np.kaiser(2 * half + 1, beta)[half + m.astype(int)]
    return h * (0.25 / h.sum())  # unity gain at DC: 0.5 + 2 * sum = 1


@njit(cache=True, nogil=True, fastmath=True)
def halfband_decimate(x: np.ndarray, h_odd: np.ndarray, out: np.ndarray) -> None:
    """[B, 2T] at twice the rate -> [B, T]: half-band low-pass (zero phase), keep every 2nd.

    ``h_odd[j]`` is the tap at offsets +-(2j + 1); the centre tap is 0.5, the others are 0.
    """
    n_rows, n = out.shape
    n_in = x.shape[1]
    m = h_odd.shape[0]
    reach = 2 * m - 1
    for b in range(n_rows):
        for i in range(n):
            c = 2 * i
            acc = 0.5 * x[b, c]
            if reach <= c < n_in - reach:
                for j in range(m):
                    off = 2 * j + 1
                    acc += h_odd[j] * (x[b, c - off] + x[b, c + off])
            else:
                for j in range(m):
                    off = 2 * j + 1
                    lo = x[b, c - off] if c - off >= 0 else 0.0
                    hi = x[b, c + off] if c + off < n_in else 0.0
                    acc += h_odd[j] * (lo + hi)
            out[b, i] = acc
