"""The effect stage after a built-in voice: drive, chorus, delay and reverb, all in numba.

Every stage whose amount is 0 is skipped outright, which is what most natural presets ask for.

Why the stages are our own numba kernels rather than pedalboard plugins, with
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
- reverb: pedalboard's Reverb (JUCE's juce::Reverb, a Freeverb network: 8 parallel damped
  combs into 4 series all-passes) cost 2.1 ms, the costliest stage. Ours is the same network,
  computed the same way in float32 (same tunings, coefficients, operation order and JUCE's
  add-and-subtract-0.1 denormal guard, which rounds the filter states), so its output is
  bit-identical to pedalboard's mono path, which the voices were trained on (tested against
  pedalboard on noise and on rendered notes). Its cost is the damped combs' serial
  recursion: with 16 or more reverberated rows they run side by side, vectorized across rows
  (0.45 ms a note at 32 rows); fewer run one at a time, the 8 combs interleaved (1.1 ms).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

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
# The drive's 2x runs through dsp's default half-band (12 taps a side): 6 a side would halve
# its cost but measured about 5 dB more aliasing at full drive
# (tests/test_synth_subtractive.py bounds it), and the shipped model learned this sound.
DRIVE_HALFBAND = halfband_taps()
CLIP_KNEE = 1.5  # the cubic clipper reaches +-1 there, with zero slope


@njit(cache=True, nogil=True, fastmath=True)
def _clip(x: float) -> float:
    """Cubic soft clipper: slope 1 at 0, +-1 with zero slope from |x| = 1.5."""
    if x >= CLIP_KNEE:
        return 1.0
    if x <= -CLIP_KNEE:
        return -1.0
    return x - (4.0 / 27.0) * x * x * x


@njit(cache=True, nogil=True, fastmath=True)
def _clip_integral(x: float) -> float:
    """Antiderivative of ``_clip``, continuous everywhere (for ADAA); branch-free.

    Past the knee the clipper's slope is +-1, so the integral goes on as ``|x|``: heavily driven
    input crosses the knee every cycle, where branches would be mispredicted.
    """
    xc = min(max(x, -CLIP_KNEE), CLIP_KNEE)
    x2 = xc * xc
    return 0.5 * x2 - (1.0 / 27.0) * x2 * x2 + (abs(x) - abs(xc))


@njit(cache=True, nogil=True, fastmath=True)
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


@njit(cache=True, nogil=True, fastmath=True)
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


@njit(cache=True, nogil=True, fastmath=True)
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


@njit(cache=True, nogil=True, fastmath=True)
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


# Freeverb's delay lengths in samples at 44.1 kHz (JUCE scales them by sample_rate / 44100 with
# integer arithmetic); the mono path uses the left channel's, with no stereo spread.
REVERB_COMB_TUNING = np.array([1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617], dtype=np.int64)
REVERB_ALLPASS_TUNING = np.array([556, 441, 341, 225], dtype=np.int64)
REVERB_DAMPING = 0.5
# Below this many reverberated rows the row-vectorized kernel falls into numba's scalar loop
# tail (measured 1.3 ms a note at 8 rows, 0.57 at 16, 0.45 at 32): the one-row kernel wins.
REVERB_MIN_ROWS = 16
REVERB_MAX_ROWS = 48  # its rings (about 23 KB a row at 22.05 kHz) stay in L2/L3 cache


def reverb_coefficients(room_size: np.ndarray, wet_level: np.ndarray, dry_level: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """JUCE's float32 (comb feedback, wet gain, dry gain) for pedalboard-style parameters.

    As juce::Reverb::setParameters with width 1: feedback = 0.28 room + 0.7, wet gain =
    0.5 * 3 wet * (1 + width), dry gain = 2 dry, every step rounded to float32 as JUCE does.
    """
    f = np.float32
    room = np.asarray(room_size, dtype=np.float64).astype(f)
    wet = np.asarray(wet_level, dtype=np.float64).astype(f)
    dry = np.asarray(dry_level, dtype=np.float64).astype(f)
    for name, v in (("room_size", room), ("wet_level", wet), ("dry_level", dry)):
        if not np.all((v >= 0) & (v <= 1)):
            raise ValueError(f"reverb {name} must lie in [0, 1], got {v}")
    feedback = room * f(0.28) + f(0.7)
    wet1 = (f(0.5) * (wet * f(3.0))) * (f(1.0) + f(1.0))
    return feedback, wet1, dry * f(2.0)


def reverb_lengths(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Comb and all-pass delay lengths in samples, as JUCE sizes them for ``sample_rate``."""
    sr = int(sample_rate)
    if sr < 8000:
        raise ValueError(f"reverb sample_rate must be at least 8000 Hz, got {sample_rate}")
    return (sr * REVERB_COMB_TUNING) // 44100, (sr * REVERB_ALLPASS_TUNING) // 44100


@njit(cache=True, nogil=True, inline="always")
def _undenormalise(v: np.float32) -> np.float32:
    # JUCE_UNDENORMALISE on x86: adding then subtracting 0.1f, which also rounds the state to
    # the float32 grid around 0.1; reproduced because the output must match bit for bit
    return (v + np.float32(0.1)) - np.float32(0.1)


@njit(cache=True, nogil=True)
def _comb_read(ring: np.ndarray, out: np.ndarray, damped: np.ndarray, one_m: np.float32) -> None:
    """Comb outputs summed into ``out`` (in comb order, as JUCE's) and (1 - damp) times each."""
    for i in range(ring.shape[0]):
        y = ring[i]
        out[i] += y
        damped[i] = y * one_m


@njit(cache=True, nogil=True)
def _comb_write(ring: np.ndarray, x: np.ndarray, lp: np.ndarray, gain: np.float32,
                feedback: np.float32) -> None:
    for i in range(ring.shape[0]):
        ring[i] = _undenormalise(x[i] * gain + lp[i] * feedback)


@njit(cache=True, nogil=True)
def _allpasses(wet: np.ndarray, ap_len: np.ndarray) -> None:
    """The 4 series all-passes over a whole row, in runs that never wrap a ring: no recursion
    inside a run (the feedback is a whole ring length late), so each run vectorizes."""
    n = wet.shape[0]
    half = np.float32(0.5)
    for j in range(ap_len.shape[0]):
        size = ap_len[j]
        ring = np.zeros(size, dtype=np.float32)
        p = 0
        t = 0
        while t < n:
            m = min(n - t, size - p)
            seg = ring[p : p + m]
            w = wet[t : t + m]
            for i in range(m):
                held = seg[i]
                v = w[i]
                seg[i] = _undenormalise(v + held * half)
                w[i] = held - v
            t += m
            p = 0 if p + m == size else p + m


@njit(cache=True, nogil=True)  # no fastmath: every float32 operation must round as JUCE's does
def _reverb_row(x: np.ndarray, feedback: np.float32, wet1: np.float32, dry: np.float32,
                comb_len: np.ndarray, ap_len: np.ndarray) -> None:
    """One row through the network. The combs run in blocks no longer than the shortest comb,
    so a block's reads all come from earlier blocks: reading, writing and summing vectorize,
    and only the damping low-pass is serial, with the 8 combs' recursions interleaved."""
    n = x.shape[0]
    f = np.float32
    gain = f(0.015)
    damp = f(REVERB_DAMPING) * f(0.4)
    one_m = f(1.0) - damp
    blk = min(128, comb_len.min())
    rings = np.zeros((8, comb_len.max()), dtype=np.float32)
    pos = np.zeros(8, dtype=np.int64)
    damped = np.empty((8, blk), dtype=np.float32)
    lp = np.empty((8, blk), dtype=np.float32)
    wet = np.zeros(n, dtype=np.float32)
    l0 = l1 = l2 = l3 = l4 = l5 = l6 = l7 = f(0.0)
    for t0 in range(0, n, blk):
        b = min(blk, n - t0)
        out = wet[t0 : t0 + b]
        for c in range(8):
            p = pos[c]
            k = min(b, comb_len[c] - p)  # the block's slice of the ring: at most two runs
            _comb_read(rings[c, p : p + k], out[:k], damped[c, :k], one_m)
            _comb_read(rings[c, : b - k], out[k:b], damped[c, k:b], one_m)
        y0, y1, y2, y3 = damped[0], damped[1], damped[2], damped[3]
        y4, y5, y6, y7 = damped[4], damped[5], damped[6], damped[7]
        q0, q1, q2, q3, q4, q5, q6, q7 = lp[0], lp[1], lp[2], lp[3], lp[4], lp[5], lp[6], lp[7]
        for i in range(b):
            l0 = _undenormalise(y0[i] + l0 * damp)
            l1 = _undenormalise(y1[i] + l1 * damp)
            l2 = _undenormalise(y2[i] + l2 * damp)
            l3 = _undenormalise(y3[i] + l3 * damp)
            l4 = _undenormalise(y4[i] + l4 * damp)
            l5 = _undenormalise(y5[i] + l5 * damp)
            l6 = _undenormalise(y6[i] + l6 * damp)
            l7 = _undenormalise(y7[i] + l7 * damp)
            q0[i] = l0
            q1[i] = l1
            q2[i] = l2
            q3[i] = l3
            q4[i] = l4
            q5[i] = l5
            q6[i] = l6
            q7[i] = l7
        xin = x[t0 : t0 + b]
        for c in range(8):
            p = pos[c]
            k = min(b, comb_len[c] - p)
            _comb_write(rings[c, p : p + k], xin[:k], lp[c, :k], gain, feedback)
            _comb_write(rings[c, : b - k], xin[k:b], lp[c, k:b], gain, feedback)
            q = p + b
            pos[c] = q if q < comb_len[c] else q - comb_len[c]
    _allpasses(wet, ap_len)
    for i in range(n):
        x[i] = wet[i] * wet1 + x[i] * dry


@njit(cache=True, nogil=True)  # no fastmath: every float32 operation must round as JUCE's does
def _reverb_rows(audio: np.ndarray, rows: np.ndarray, feedback: np.ndarray, wet1: np.ndarray,
                 dry: np.ndarray, comb_len: np.ndarray, ap_len: np.ndarray) -> None:
    """Many rows through the network side by side: the innermost loops run across rows, so
    every row's recursion is one vector lane. Rings are [delay, row]; a block of each row is
    transposed in, run comb by comb, all-pass by all-pass, and mixed back."""
    n = audio.shape[1]
    g = rows.shape[0]
    f = np.float32
    gain = f(0.015)
    damp = f(REVERB_DAMPING) * f(0.4)
    one_m = f(1.0) - damp
    half = f(0.5)
    blk = 256
    combs = np.zeros((8, comb_len.max(), g), dtype=np.float32)
    aps = np.zeros((4, ap_len.max(), g), dtype=np.float32)
    last = np.zeros((8, g), dtype=np.float32)
    cp = np.zeros(8, dtype=np.int64)
    ap = np.zeros(4, dtype=np.int64)
    xb = np.empty((blk, g), dtype=np.float32)
    ob = np.empty((blk, g), dtype=np.float32)
    for t0 in range(0, n, blk):
        b = min(blk, n - t0)
        for r in range(g):
            src = audio[rows[r], t0 : t0 + b]
            for t in range(b):
                xb[t, r] = src[t] * gain
        ob[:b] = 0.0
        for c in range(8):
            p = cp[c]
            for t in range(b):
                for r in range(g):
                    y = combs[c, p, r]
                    ob[t, r] += y
                    lo = _undenormalise(y * one_m + last[c, r] * damp)
                    last[c, r] = lo
                    combs[c, p, r] = _undenormalise(xb[t, r] + lo * feedback[r])
                p = 0 if p + 1 == comb_len[c] else p + 1
            cp[c] = p
        for j in range(4):
            p = ap[j]
            for t in range(b):
                for r in range(g):
                    held = aps[j, p, r]
                    v = ob[t, r]
                    aps[j, p, r] = _undenormalise(v + held * half)
                    ob[t, r] = held - v
                p = 0 if p + 1 == ap_len[j] else p + 1
            ap[j] = p
        for r in range(g):
            dst = audio[rows[r], t0 : t0 + b]
            w = wet1[r]
            d = dry[r]
            for t in range(b):
                dst[t] = ob[t, r] * w + dst[t] * d


def reverb_rows(audio: np.ndarray, rows: np.ndarray, room_size: np.ndarray,
                wet_level: np.ndarray, dry_level: np.ndarray, sample_rate: int) -> None:
    """Reverberate ``audio[rows]`` ([B, T] float32, in place) from silence, one setting per row.

    Parameters are pedalboard's Reverb's (damping 0.5, width 1): the output equals
    ``pedalboard.Reverb(room_size, 0.5, wet_level, dry_level, 1.0)(row[None], sr, reset=True)``
    on a mono row, bit for bit (tests/test_synth_subtractive.py).
    """
    if audio.dtype != np.float32 or audio.ndim != 2 or not audio.flags.c_contiguous:
        raise ValueError("reverb_rows needs C-contiguous float32 audio [B, T]; convert it with "
                         "np.ascontiguousarray(audio, dtype=np.float32)")
    rows = np.asarray(rows, dtype=np.int64)
    feedback, wet1, dry = reverb_coefficients(room_size, wet_level, dry_level)
    feedback, wet1, dry = (np.broadcast_to(v, rows.shape).copy() for v in (feedback, wet1, dry))
    comb_len, ap_len = reverb_lengths(sample_rate)
    if len(rows) < REVERB_MIN_ROWS:
        for k, r in enumerate(rows):
            _reverb_row(audio[r], feedback[k], wet1[k], dry[k], comb_len, ap_len)
        return
    # groups of similar size, none under REVERB_MIN_ROWS
    groups = np.array_split(np.arange(len(rows)), -(-len(rows) // REVERB_MAX_ROWS))
    for k in groups:
        _reverb_rows(audio, rows[k], feedback[k], wet1[k], dry[k], comb_len, ap_len)


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
    wet_rows = np.flatnonzero(np.asarray(reverb) > 0)
    if len(wet_rows):
        r = np.asarray(reverb, dtype=np.float64)[wet_rows]
        # JUCE's reverb (pedalboard's) scales dry_level by 2: half of it is unity gain
        reverb_rows(audio, wet_rows, np.asarray(reverb_size, dtype=np.float64)[wet_rows],
                    REVERB_WET * r, 0.5 * (1.0 - REVERB_WET * r), sample_rate)
