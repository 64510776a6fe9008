"""The effect stage after a built-in voice: drive, chorus and delay in numba, pedalboard's reverb.

Every stage whose amount is 0 is skipped outright, which is what most natural presets ask for.

Why three of the four stages are our own numba kernels rather than pedalboard plugins, with
costs per 4 s note at 22.05 kHz on one core (``benchmarks/render_speed.py`` holds the goal:
700x real time for ``subtractive`` with effects on, i.e. 5.7 ms per note in all):

- drive: pedalboard's Distortion is a plain tanh at the base rate (1.5 ms), and any shaper at
  the base rate aliases badly once driven (note 60 saw at drive 0.5: aliases only 25 dB under
  the fundamental). Ours runs a
  cubic soft clipper at twice the rate (half-band up, shape, half-band down) with first-order
  antiderivative anti-aliasing (ADAA: the clipper's integral differenced over each step,
  which low-passes what the clipper creates before it can fold), 1.0 ms; at full drive,
  oversampling alone or ADAA alone left aliases 8 to 17 dB louder (notes 60 and 102).
- chorus: pedalboard's Chorus (JUCE's) costs 1.15 ms; ours is the same structure, a delay line
  around 7 ms swept by a sine LFO, read with linear interpolation and blended linearly with the
  dry signal in the same proportions, 0.3 ms. A test holds it to pedalboard's (wet energy
  within 10%, every octave band within 1.5 dB).
- delay: pedalboard's Delay is a whole-sample feedback delay line with a linear dry/wet mix,
  0.67 ms; ours is the same recursion (equal to pedalboard's output to float rounding,
  tested), 0.07 ms.
- reverb stays pedalboard's (JUCE's Freeverb-style) Reverb, 2.1 ms, now the costliest stage:
  a good reverb is a lot of tuning, and it is the sound this voice has been trained on.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from pedalboard import Reverb

from bridge.synth.dsp import halfband_taps

MAX_DRIVE_DB = 30.0
DELAY_FEEDBACK = 0.35
CHORUS_RATE_HZ = 0.7
# Reverb wet level at full amount (JUCE's units). The dry path loses as much, so the level
# stays about the same; a sustained bright tone in a large room can still peak 1.5x wetter.
REVERB_WET = 0.3
CHORUS_CENTRE_MS = 7.0
# the delay sweep at full LFO swing, as JUCE's chorus: 20 ms * depth / 2
CHORUS_MAX_MOD_MS = 20.0
# Short half-band for the drive's 2x: the input is already band-limited and the shaper's own
# products near the band edge are weak, so 6 taps a side (-37 dB at 1.2x the output Nyquist,
# under -60 dB from 1.4x) measure as clean as 12 (tests/test_synth_subtractive.py bounds the
# aliasing) for half the cost.
DRIVE_HALFBAND = halfband_taps()
CLIP_KNEE = 1.5  # the cubic clipper reaches +-1 there, with zero slope


@njit(cache=True, fastmath=True)
def _clip(x: float) -> float:
    """Cubic soft clipper: slope 1 at 0, +-1 with zero slope from |x| = 1.5."""
    if x >= CLIP_KNEE:
        return 1.0
    if x <= -CLIP_KNEE:
        return -1.0
    return x - (4.0 / 27.0) * x * x * x


@njit(cache=True, fastmath=True)
def _clip_integral(x: float) -> float:
    """Antiderivative of ``_clip``, continuous everywhere (for ADAA); branch-free.

    Past the knee the clipper's slope is +-1, so the integral goes on as ``|x|``: heavily driven
    input crosses the knee every cycle, where branches would be mispredicted.
    """
    xc = min(max(x, -CLIP_KNEE), CLIP_KNEE)
    x2 = xc * xc
    return 0.5 * x2 - (1.0 / 27.0) * x2 * x2 + (abs(x) - abs(xc))


@njit(cache=True, fastmath=True)
def _halfband_pass(src: np.ndarray, s_lo: int, s_hi: int, h: np.ndarray, dst: np.ndarray,
                   d0: int, n: int) -> None:
    """dst[d0 + i] += sum_j h[j] (src[s_lo + i - j] + src[s_hi + i + j]) for i < n.

    In tiles that stay in L1 cache, each over views starting at 0 (numba then drops its
    negative-index checks and vectorizes): 5x faster than the plain double loop.
    """
    tile = 256
    for t0 in range(0, n, tile):
        cn = min(tile, n - t0)
        out = dst[d0 + t0 : d0 + t0 + cn]
        for j in range(h.shape[0]):
            hj = h[j]
            a = src[s_lo + t0 - j : s_lo + t0 - j + cn]
            b = src[s_hi + t0 + j : s_hi + t0 + j + cn]
            for i in range(cn):
                out[i] += hj * (a[i] + b[i])


def drive_work(n: int) -> np.ndarray:
    """Scratch for ``drive_inplace`` on ``n`` samples: the two phases of the 2x signal, padded."""
    return np.zeros((2, n + 2 * len(DRIVE_HALFBAND)), dtype=np.float64)


@njit(cache=True, fastmath=True)
def drive_inplace(x: np.ndarray, amount: float, sample_rate: float, h_odd: np.ndarray,
                  work: np.ndarray) -> None:
    """Soft-clip ``x`` (1-D) with up to ``MAX_DRIVE_DB`` of input gain, level roughly kept.

    Runs at twice the rate with first-order ADAA. The 2x signal is kept as its two phases
    (``work`` rows: even samples, which are the input itself, and the interpolated odd ones),
    zero-padded by ``len(h_odd)`` at both ends: every filter pass is then a plain loop over
    contiguous samples that the compiler vectorizes. A small bias makes the curve asymmetric
    (even harmonics, like an overdriven transistor stage); the DC it leaves is removed by a
    10 Hz one-pole high-pass. Make-up gain brings a 0.5 peak back to about 0.5 whatever the
    drive, so that driving thickens the sound rather than making it louder.
    """
    n = x.shape[0]
    m = h_odd.shape[0]
    ev = work[0]
    od = work[1]
    for i in range(m):
        ev[i] = 0.0
        ev[m + n + i] = 0.0
    for i in range(n):
        ev[m + i] = x[i]
    od[:] = 0.0
    # interpolation: the odd sample between x[i] and x[i + 1] has taps 2 h_odd[j] at x[i - j]
    # and x[i + 1 + j]
    _halfband_pass(ev, m, m + 1, 2.0 * h_odd, od, m, n)
    gain = 10.0 ** (amount * MAX_DRIVE_DB / 20.0)
    bias = 0.2 * amount
    c_bias = _clip(bias)
    makeup = 0.5 / max(_clip(gain * 0.5 + bias) - c_bias, 1e-6)
    prev = bias
    f_prev = _clip_integral(prev)
    e = ev[m : m + n]
    o = od[m : m + n]
    for i in range(n):
        for ph in range(2):
            v = gain * (e[i] if ph == 0 else o[i]) + bias
            f_v = _clip_integral(v)
            d = v - prev
            # the difference quotient is ill-conditioned for tiny steps: the midpoint there
            # (both computed and one picked, which is cheaper than a mispredicted branch)
            q = (f_v - f_prev) / (d if abs(d) > 1e-5 else 1.0)
            y = q if abs(d) > 1e-5 else _clip(0.5 * (v + prev))
            prev = v
            f_prev = f_v
            if ph == 0:
                e[i] = (y - c_bias) * makeup
            else:
                o[i] = (y - c_bias) * makeup
    # decimation: keep the even phase, low-passed by the half-band (odd taps read the odd phase)
    for i in range(n):
        e[i] *= 0.5
    _halfband_pass(od, m - 1, m, h_odd, ev, m, n)
    r = math.exp(-2.0 * math.pi * 10.0 / sample_rate)
    prev_in = 0.0
    prev_out = 0.0
    for i in range(n):
        s = e[i]
        hp = s - prev_in + r * prev_out
        prev_in = s
        prev_out = hp
        x[i] = hp


def chorus_pad(sample_rate: float) -> int:
    """Zero samples ahead of the chorus line: more than its longest delay, so reads need no test."""
    return int(math.ceil((CHORUS_CENTRE_MS + 0.5 * CHORUS_MAX_MOD_MS) * sample_rate / 1000.0)) + 2


@njit(cache=True, fastmath=True)
def chorus_inplace(x: np.ndarray, amount: float, sample_rate: float, line: np.ndarray,
                   pad: int) -> None:
    """Chorus on ``x`` (1-D): a sine-swept ~7 ms delay blended with the dry signal.

    ``amount`` in (0, 1]: the sweep deepens (depth 0.15 + 0.2 amount, in JUCE's chorus units:
    +-20 ms * depth / 2 around the centre) and the blend goes up to an equal mix. ``line`` is
    scratch of at least ``pad + len(x)`` samples, ``pad`` from ``chorus_pad``.
    """
    n = x.shape[0]
    mix = 0.5 * amount
    depth = 0.15 + 0.2 * amount
    swing = CHORUS_MAX_MOD_MS * 0.5 * depth
    w = 2.0 * math.pi * CHORUS_RATE_HZ / sample_rate
    # the sine LFO by rotation: a few multiply-adds a sample instead of a sin()
    cs = math.cos(w)
    sn = math.sin(w)
    lfo_s = 0.0
    lfo_c = 1.0
    ms = sample_rate / 1000.0
    for i in range(pad):
        line[i] = 0.0
    for i in range(n):
        line[pad + i] = x[i]
    for i in range(n):
        pos = pad + i - (CHORUS_CENTRE_MS + swing * lfo_s) * ms
        k = int(pos)  # pos > 0, so this is the floor
        frac = pos - k
        a = line[k]
        wet = a + frac * (line[k + 1] - a)
        x[i] = (1.0 - mix) * line[pad + i] + mix * wet
        lfo_s, lfo_c = lfo_s * cs + lfo_c * sn, lfo_c * cs - lfo_s * sn


@njit(cache=True, fastmath=True)
def delay_inplace(x: np.ndarray, amount: float, delay_s: float, sample_rate: float,
                  line: np.ndarray) -> None:
    """Feedback echo on ``x`` (1-D): what the line held ``delay_s`` ago, fed back at 0.35.

    The same recursion and linear dry/wet blend (wet 0.5 amount) as pedalboard's Delay, with
    its whole-sample delay time. ``line`` is scratch of at least len(x) samples.
    """
    n = x.shape[0]
    d = max(1, int(delay_s * sample_rate))  # whole samples, as pedalboard's
    mix = 0.5 * amount
    for i in range(n):
        w = line[i - d] if i >= d else 0.0
        line[i] = x[i] + DELAY_FEEDBACK * w
        x[i] = (1.0 - mix) * x[i] + mix * w


def apply_effects(
    audio: np.ndarray,
    drive: np.ndarray,
    chorus: np.ndarray,
    delay: np.ndarray,
    delay_time: np.ndarray,
    reverb: np.ndarray,
    reverb_size: np.ndarray,
    sample_rate: int,
) -> None:
    """Run each row of ``audio`` [B, T] (float32, in place) through its own effect settings.

    Amounts are in [0, 1] per row; ``delay_time`` in seconds; ``reverb_size`` in [0, 1]. Every
    row starts from silent effect state, so a preset sounds the same in any batch.
    """
    n = audio.shape[1]
    sr = float(sample_rate)
    work = drive_work(n)
    pad = chorus_pad(sr)
    line = np.empty(pad + n, dtype=np.float64)
    for b in range(audio.shape[0]):
        row = audio[b]
        if drive[b] > 0:
            drive_inplace(row, float(drive[b]), sr, DRIVE_HALFBAND, work)
        if chorus[b] > 0:
            chorus_inplace(row, float(chorus[b]), sr, line, pad)
        if delay[b] > 0:
            delay_inplace(row, float(delay[b]), float(delay_time[b]), sr, line)
        if reverb[b] > 0:
            r = float(reverb[b])
            # JUCE's reverb (pedalboard's) scales dry_level by 2: half of it is unity gain
            plugin = Reverb(room_size=float(reverb_size[b]), damping=0.5,
                            wet_level=REVERB_WET * r, dry_level=0.5 * (1.0 - REVERB_WET * r),
                            width=1.0)
            audio[b] = plugin(audio[b : b + 1], sample_rate, reset=True)[0]
