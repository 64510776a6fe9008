"""``fm``: a DX7-flavoured four-operator FM (phase modulation) voice.

Four sine operators, each with a frequency ratio (coarse steps 0.5, 1, 2 ... 16, plus fine),
an output level and its own exponential ADSR (``dsp``'s definitions: attack = time to peak,
decay and release = time to fall 60 dB), wired by one of 8 algorithms (the 4-operator
TX81Z/DX21 set); operator 4 feeds back on itself. Velocity scales the level and, as on a DX7,
the modulation depth, so harder notes are brighter.

FM's sidebands reach far above the fundamental (a 4-stack at level 1 spans megahertz), so no
oversampling factor alone keeps them from folding back. Two things do, measured by
benchmarks/fm_aliasing.py (aliasing under -84 dB at middle C for every algorithm and ratio
with every level at 1, under -36 dB at C7):
- a pitch-dependent cap on the modulation: each carrier's band (instantaneous frequency plus
  Bessel tails, feedback included) is kept under ``band_limit(sample_rate)`` (20 kHz, or 0.9
  of the rate when that is lower) by scaling the indices of the operators that feed it, so
  low notes keep their full depth and high ones are gentler, as a player would program them;
- the voice runs at twice the rate and is decimated by a steep low-pass that is under -75 dB
  from the output's Nyquist on (content up to 1.5 times the rate is removed, not folded).
Gain: carriers are scaled down together only when their amplitudes add up past 1, so the
output stage's soft limiter rarely has anything to do (``render_unlimited`` shows the voice
before it).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bridge.synth import dsp
from bridge.synth.base import PAPER_NOTE, Note
from bridge.synth.builtin import BuiltinSynth
from bridge.synth.spec import Param, ParamSpec

OVERSAMPLE = 2
OUTPUT_GAIN = 0.75  # a lone full-level carrier peaks here at velocity 127
MAX_INDEX = 4.0 * math.pi  # modulation index (radians) of a modulator at level 1
MAX_FEEDBACK = 1.6  # radians: beyond this the self-modulated sine turns to noise
N_OPS = 4
BAND_TOP_HZ = 20000.0
BAND_TOP_SR = 0.9

# Algorithms: (modulator -> carrier pairs, carriers), operators numbered 1..4 as on a DX.
# A modulator is always numbered higher than what it modulates, so 4, 3, 2, 1 is a valid order.
ALGORITHMS: tuple[tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    ("4>3>2>1", ((4, 3), (3, 2), (2, 1)), (1,)),
    ("3+4>2>1", ((3, 2), (4, 2), (2, 1)), (1,)),
    ("3>2+4>1", ((3, 2), (2, 1), (4, 1)), (1,)),
    ("4>3+2>1", ((4, 3), (3, 1), (2, 1)), (1,)),
    ("2>1|4>3", ((2, 1), (4, 3)), (1, 3)),
    ("4>1+2+3", ((4, 1), (4, 2), (4, 3)), (1, 2, 3)),
    ("4>3|1|2", ((4, 3),), (1, 2, 3)),
    ("1|2|3|4", (), (1, 2, 3, 4)),
)
ALGORITHM_NAMES = tuple(a[0] for a in ALGORITHMS)


def _algorithm_tables() -> tuple[np.ndarray, np.ndarray]:
    mod = np.zeros((len(ALGORITHMS), N_OPS, N_OPS))  # mod[a, src, dst]
    car = np.zeros((len(ALGORITHMS), N_OPS))
    for a, (_, pairs, carriers) in enumerate(ALGORITHMS):
        for src, dst in pairs:
            mod[a, src - 1, dst - 1] = 1.0
        for c in carriers:
            car[a, c - 1] = 1.0
    return mod, car


MOD_MATRIX, CARRIERS = _algorithm_tables()


def decimator_taps(n_side: int = 48, beta: float = 7.5, cutoff: float = 0.225) -> np.ndarray:
    """Kaiser-windowed low-pass for 2x -> 1x decimation, ``2 n_side + 1`` taps, unity DC gain.

    ``cutoff`` is in cycles per sample at the doubled rate. With the defaults the response is
    flat (0.003 dB) up to 0.4 of the output rate, -6 dB at 0.45 and under -75 dB from the
    output Nyquist (0.5) on. A half-band filter is only -6 dB at Nyquist: the sidebands FM
    puts just above it would fold back barely attenuated, which is what was heard as aliasing.
    """
    n = np.arange(-n_side, n_side + 1)
    h = 2.0 * cutoff * np.sinc(2.0 * cutoff * n) * np.kaiser(2 * n_side + 1, beta)
    return h / h.sum()


DECIMATOR = decimator_taps()


@njit(cache=True, nogil=True, fastmath=True)
def decimate2(x: np.ndarray, h: np.ndarray, out: np.ndarray) -> None:
    """[B, 2T] at twice the rate -> [B, T] through the symmetric FIR ``h`` (zero phase)."""
    n_rows, n = out.shape
    n_in = x.shape[1]
    m = (h.shape[0] - 1) // 2
    for b in range(n_rows):
        for i in range(n):
            c = 2 * i
            acc = h[m] * x[b, c]
            if m <= c < n_in - m:
                for j in range(1, m + 1):
                    acc += h[m + j] * (x[b, c - j] + x[b, c + j])
            else:
                for j in range(1, m + 1):
                    lo = x[b, c - j] if c - j >= 0 else 0.0
                    hi = x[b, c + j] if c + j < n_in else 0.0
                    acc += h[m + j] * (lo + hi)
            out[b, i] = acc


def _op_params(i: int, coarse: float, level: float, a: float, d: float, s: float, r: float
               ) -> tuple[Param, ...]:
    g = f"op{i}"
    return (
        Param(f"op{i}_coarse", "numerical", 0, 16, coarse, "ratio", "linear", 17, (), g,
              f"operator {i} frequency ratio (0 means 0.5)"),
        Param(f"op{i}_fine", "numerical", 0, 1, 0, "", "linear", 0, (), g,
              f"operator {i} ratio multiplier minus 1 (DX fine: ratio * (1 + fine))"),
        Param(f"op{i}_level", "numerical", 0, 1, level, "", "linear", 0, (), g,
              f"operator {i} output: loudness as a carrier, depth (4 pi level^2 rad) as a "
              "modulator"),
        Param(f"op{i}_attack", "numerical", 0.001, 5, a, "s", "exp", 0, (), g,
              f"operator {i} envelope: time to peak"),
        Param(f"op{i}_decay", "numerical", 0.01, 10, d, "s", "exp", 0, (), g,
              f"operator {i} envelope: -60 dB time"),
        Param(f"op{i}_sustain", "numerical", 0, 1, s, "", "linear", 0, (), g,
              f"operator {i} envelope sustain level"),
        Param(f"op{i}_release", "numerical", 0.005, 10, r, "s", "exp", 0, (), g,
              f"operator {i} envelope: -60 dB time"),
    )


# The default is a soft electric piano: two stacks (algorithm 2>1|4>3), a warm 1:1 pair and
# a bell-like 1:14 "tine" that fades quickly.
PARAMS: tuple[Param, ...] = (
    Param("algorithm", "categorical", default=4.0, categories=ALGORITHM_NAMES, group="global",
          description="how the operators modulate each other (> modulates, | mixes)"),
    Param("feedback", "numerical", 0, 1, 0.1, "", "linear", 0, (), "global",
          "operator 4 modulating itself (towards a saw, then noise)"),
    Param("velocity_sens", "numerical", 0, 1, 0.5, "", "linear", 0, (), "global",
          "velocity to level ((v/127)^(2s)) and to modulation depth ((v/127)^s)"),
    *_op_params(1, 1, 0.8, 0.002, 4.0, 0.3, 0.5),
    *_op_params(2, 1, 0.35, 0.002, 2.0, 0.2, 0.5),
    *_op_params(3, 1, 0.6, 0.002, 3.0, 0.25, 0.4),
    *_op_params(4, 14, 0.25, 0.001, 0.4, 0.0, 0.3),
)

SUBSETS = {
    "16": (
        "algorithm", "feedback",
        "op1_level", "op1_decay", "op1_sustain",
        "op2_coarse", "op2_level", "op2_decay",
        "op3_coarse", "op3_level", "op3_decay",
        "op4_coarse", "op4_level", "op4_decay",
        "op1_attack", "op1_release",
    ),
}

SPEC = ParamSpec("fm", PARAMS, SUBSETS)
COL = {p.name: i for i, p in enumerate(PARAMS)}
_ALG, _FB, _VSENS = COL["algorithm"], COL["feedback"], COL["velocity_sens"]
_OP0 = COL["op1_coarse"]  # each operator takes 7 consecutive columns from here
_OP_STRIDE = 7


def band_limit(sample_rate: float) -> float:
    """Highest frequency (Hz) a carrier's sidebands may reach at ``sample_rate``."""
    return min(BAND_TOP_HZ, BAND_TOP_SR * sample_rate)


class FMSynth(BuiltinSynth):
    """Four operators, eight algorithms, feedback, an envelope per operator."""

    name = "fm"
    spec = SPEC

    def render_unlimited(self, presets: np.ndarray, note: Note = PAPER_NOTE,
                         sample_rate: int = 22050) -> np.ndarray:
        norm = self.spec.check_norm(presets)
        held, n = dsp.check_render_args(note, sample_rate)
        real = self.spec.to_real(norm)
        fast = np.zeros((len(norm), OVERSAMPLE * n), dtype=np.float64)
        _render(real, MOD_MATRIX, CARRIERS, dsp.SINE_TABLE, note.frequency, note.velocity / 127.0,
                OVERSAMPLE * held, float(OVERSAMPLE * sample_rate), band_limit(sample_rate), fast)
        out = np.empty((len(norm), n), dtype=np.float32)
        decimate2(fast, DECIMATOR, out)
        return out

    def sample_natural(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return sample_natural(rng, n)


def sample_natural(rng: np.random.Generator, n: int) -> np.ndarray:
    """Presets the way people program a 4-op FM synth (normalized [n, N]); deterministic.

    Ratios are mostly small integers (1, 2, 3, 4, sometimes 0.5 or a high 'tine'), rarely
    fine-tuned; carriers start fast; modulators are moderate and often decay faster than the
    carriers (the classic bright-attack, mellow-tail FM sound); feedback is mostly low.
    """
    spec = SPEC
    r = rng.random
    out = np.tile(spec.defaults(), (n, 1)).astype(np.float64)
    alg = rng.choice(len(ALGORITHMS), n, p=[0.15, 0.1, 0.1, 0.1, 0.25, 0.1, 0.1, 0.1])

    def put(name: str, real: np.ndarray) -> None:
        out[:, COL[name]] = spec[name].to_norm(real)

    put("algorithm", alg)
    put("feedback", np.where(r(n) < 0.6, 0.0, r(n) ** 2))
    put("velocity_sens", r(n))
    coarse_values = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 14])
    coarse_p = np.array([0.08, 0.35, 0.2, 0.1, 0.08, 0.04, 0.03, 0.03, 0.04, 0.05])
    for i in range(1, N_OPS + 1):
        carrier = CARRIERS[alg, i - 1] > 0
        coarse = rng.choice(coarse_values, n, p=coarse_p)
        coarse = np.where(carrier & (r(n) < 0.7), 1, coarse)  # carriers mostly at the pitch
        put(f"op{i}_coarse", coarse)
        put(f"op{i}_fine", np.where(r(n) < 0.85, 0.0, 0.05 * r(n)))
        put(f"op{i}_level", np.where(carrier, 0.5 + 0.5 * r(n), 0.6 * r(n) ** 0.8))
        put(f"op{i}_attack", np.where(r(n) < 0.8, 0.001 * 10 ** r(n), 0.01 * 100 ** r(n)))
        put(f"op{i}_decay", np.where(carrier, 0.3 * 30 ** r(n), 0.1 * 40 ** r(n)))
        put(f"op{i}_sustain", np.where(carrier, r(n) ** 0.7, r(n) ** 1.5))
        put(f"op{i}_release", 0.05 * 60 ** r(n))
    return spec.quantize(out)


@njit(cache=True, nogil=True)
def sideband_orders(beta: float) -> float:
    """How many sideband orders of a sine modulated at ``beta`` radians carry energy.

    Beyond ``beta + 1.7 beta^(1/3)`` orders the Bessel tail (both sides) holds under 1e-4 of
    the energy (checked against scipy's ``jv`` for beta up to 13: the tail is 0.8 to 1.7
    orders further in, so the estimate errs towards more bandwidth).
    """
    return beta + 1.7 * beta ** (1.0 / 3.0)


@njit(cache=True, nogil=True)
def feedback_harmonics(fb: float) -> float:
    """How many harmonics of a self-modulated sine (feedback ``fb`` radians) carry energy.

    Fitted to the Fourier series of ``y = sin(wt + fb y)``, whose harmonics are
    ``2 J_n(n fb) / (n fb)``: the tail beyond ``(1 + 2 fb^(1/3)) / (1 - fb)`` harmonics holds
    under 1e-4 of the energy for fb up to 0.95; the series stops converging at 1, so larger
    amounts count as 0.95 (the two-sample average keeps the real loop tamer than the series).
    """
    b = min(fb, 0.95)
    return (1.0 + 2.0 * b ** (1.0 / 3.0)) / (1.0 - b)


@njit(cache=True, nogil=True)
def _carrier_band(c, freq, beta, fb, s, mod_a):  # noqa: ANN001, ANN202
    """Highest significant frequency of operator ``c``'s output, modulators scaled by ``s``.

    ``peak`` bounds an operator's instantaneous frequency (its own plus every modulator's
    deviation); ``band`` adds the Bessel tails. A modulator counts by its peak frequency
    times the orders its index excites, plus its own excess band once its index is
    significant (min(1, orders)), so that a faint modulator adds next to nothing.
    """
    peak = np.empty(N_OPS)
    band = np.empty(N_OPS)
    for o in range(N_OPS - 1, c - 1, -1):  # modulators are numbered above what they modulate
        pk = freq[o]
        bd = freq[o]
        if o == N_OPS - 1:
            # a self-modulated sine's phase speeds up to 1 / (1 - fb) times its own rate
            fbs = min(fb * s[N_OPS], 0.95)
            pk = freq[o] / (1.0 - fbs)
            bd = freq[o] * feedback_harmonics(fbs)
        for src in range(o + 1, N_OPS):
            if mod_a[src, o] > 0:
                b = beta[src] * s[src]
                k = sideband_orders(b)
                pk += b * peak[src]
                bd += k * peak[src] + min(1.0, k) * (band[src] - peak[src])
        peak[o] = pk
        band[o] = bd
    return band[c]


@njit(cache=True, nogil=True)
def index_scales(freq, beta, fb, mod_a, car_a, limit, s):  # noqa: ANN001, ANN202
    """Factors (into ``s``) on the modulation indices (``s[:4]``) and on operator 4's
    feedback (``s[4]``) that keep every carrier's band under ``limit`` Hz.

    FM's sidebands reach past any oversampling factor once indices and ratios are high
    (a 4-stack at level 1 spans megahertz), so the only band-limited remedy is less index:
    each carrier whose band is too wide scales all the modulators feeding it by one common
    factor (found by bisection; the band grows monotonically with it). A carrier's band is
    lowered as a whole rather than by its worst operator, so its timbre keeps its balance.
    """
    for o in range(N_OPS + 1):
        s[o] = 1.0
    tree = np.zeros(N_OPS + 1)  # the last entry stands for the feedback
    trial = np.empty(N_OPS + 1)
    for c in range(N_OPS):
        if car_a[c] == 0 or _carrier_band(c, freq, beta, fb, s, mod_a) <= limit:
            continue
        for o in range(N_OPS + 1):  # operators that feed c, directly or through others
            tree[o] = 0.0
        for o in range(c + 1, N_OPS):  # upwards: what o feeds is settled before o
            if mod_a[o, c] > 0:
                tree[o] = 1.0
            for dst in range(c + 1, o):
                if tree[dst] > 0 and mod_a[o, dst] > 0:
                    tree[o] = 1.0
        if c == N_OPS - 1 or tree[N_OPS - 1] > 0:
            tree[N_OPS] = 1.0
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            for o in range(N_OPS + 1):
                trial[o] = s[o] * (mid if tree[o] > 0 else 1.0)
            if _carrier_band(c, freq, beta, fb, trial, mod_a) <= limit:
                lo = mid
            else:
                hi = mid
        for o in range(N_OPS + 1):
            if tree[o] > 0:
                s[o] *= lo


@njit(cache=True, nogil=True, fastmath=True)
def _setup_row(p, mod, car, f0, vel, sr, limit, inc, scale, coefs, s):  # noqa: ANN001, ANN202
    """Per-operator increments, output scales and envelope coefficients of one preset."""
    a = int(p[_ALG])
    vs = p[_VSENS]
    # Carriers' amplitudes (level^2) are scaled down together only when they add up to more
    # than 1: a lone carrier or a quiet pair keeps its full level, and their sum still
    # cannot pass OUTPUT_GAIN (dividing by the carrier count made most multi-carrier
    # presets needlessly quiet).
    amp_sum = 0.0
    for o in range(N_OPS):
        lv = p[_OP0 + o * _OP_STRIDE + 2]
        amp_sum += car[a, o] * lv * lv
    level = OUTPUT_GAIN * vel ** (2.0 * vs) / max(1.0, amp_sum)
    depth = vel**vs
    freq = np.empty(N_OPS)
    beta = np.empty(N_OPS)
    for o in range(N_OPS):
        c = _OP0 + o * _OP_STRIDE
        coarse = p[c]
        freq[o] = f0 * (0.5 if coarse < 0.5 else coarse) * (1.0 + p[c + 1])
        lv = p[c + 2]
        beta[o] = 0.0 if car[a, o] > 0 else lv * lv * MAX_INDEX * depth
    index_scales(freq, beta, p[_FB] * MAX_FEEDBACK, mod[a], car[a], limit, s)
    for o in range(N_OPS):
        c = _OP0 + o * _OP_STRIDE
        inc[o] = freq[o] / sr
        lv = p[c + 2]
        if inc[o] >= 0.5:
            scale[o] = 0.0  # over Nyquist even at the doubled rate: it could only alias
        elif car[a, o] > 0:
            scale[o] = lv * lv * level
        else:
            # in cycles, because phases are kept in cycles
            scale[o] = beta[o] * s[o] / (2.0 * math.pi)
        coefs[o, 0], coefs[o, 1], coefs[o, 2] = dsp.env_coefs(p[c + 3], p[c + 4], p[c + 6], sr)
        coefs[o, 3] = p[c + 5]
    return a


@njit(cache=True, nogil=True, fastmath=True)
def _render(real, mod, car, sine, f0, vel, held, sr, limit, out):  # noqa: ANN001, ANN202
    # Operators are unrolled into scalars (1..4 as on the panel): numba keeps them in
    # registers, which arrays indexed in the sample loop defeat (5x slower).
    n_rows, n = out.shape
    inc = np.empty(N_OPS)
    scale = np.empty(N_OPS)
    k = np.empty((N_OPS, 4))
    s = np.empty(N_OPS + 1)
    att = dsp.ATTACK
    for b in range(n_rows):
        a = _setup_row(real[b], mod, car, f0, vel, sr, limit, inc, scale, k, s)
        m43, m42, m41 = mod[a, 3, 2], mod[a, 3, 1], mod[a, 3, 0]
        m32, m31, m21 = mod[a, 2, 1], mod[a, 2, 0], mod[a, 1, 0]
        c1, c2, c3, c4 = car[a, 0], car[a, 1], car[a, 2], car[a, 3]
        i1, i2, i3, i4 = inc[0], inc[1], inc[2], inc[3]
        g1, g2, g3, g4 = scale[0], scale[1], scale[2], scale[3]
        e1 = e2 = e3 = e4 = 0.0
        st1 = st2 = st3 = st4 = att
        p1 = p2 = p3 = p4 = 0.0  # key sync: every note starts its operators at phase 0
        fb = real[b, _FB] * s[N_OPS] * MAX_FEEDBACK / (2.0 * math.pi)
        fb1 = fb2 = 0.0
        for i in range(n):
            gate = i < held
            # the DX way: feed back the mean of the last two outputs (no 1-sample buzz)
            raw4 = dsp.sine_read(sine, p4 + fb * 0.5 * (fb1 + fb2))
            fb2 = fb1
            fb1 = raw4 * e4
            y4 = fb1 * g4
            y3 = dsp.sine_read(sine, p3 + m43 * y4) * e3 * g3
            y2 = dsp.sine_read(sine, p2 + m42 * y4 + m32 * y3) * e2 * g2
            y1 = dsp.sine_read(sine, p1 + m41 * y4 + m31 * y3 + m21 * y2) * e1 * g1
            out[b, i] = c1 * y1 + c2 * y2 + c3 * y3 + c4 * y4
            # envelopes step after use, so the very first sample is exactly 0
            e4, st4 = dsp.env_step(e4, st4, gate, k[3, 3], k[3, 0], k[3, 1], k[3, 2])
            e3, st3 = dsp.env_step(e3, st3, gate, k[2, 3], k[2, 0], k[2, 1], k[2, 2])
            e2, st2 = dsp.env_step(e2, st2, gate, k[1, 3], k[1, 0], k[1, 1], k[1, 2])
            e1, st1 = dsp.env_step(e1, st1, gate, k[0, 3], k[0, 0], k[0, 1], k[0, 2])
            p1 += i1
            p2 += i2
            p3 += i3
            p4 += i4
            if p1 >= 1.0:
                p1 -= math.floor(p1)
            if p2 >= 1.0:
                p2 -= math.floor(p2)
            if p3 >= 1.0:
                p3 -= math.floor(p3)
            if p4 >= 1.0:
                p4 -= math.floor(p4)
            if not gate and (i & 63) == 0:
                done = (
                    (c1 == 0 or st1 == dsp.DONE) and (c2 == 0 or st2 == dsp.DONE)
                    and (c3 == 0 or st3 == dsp.DONE) and (c4 == 0 or st4 == dsp.DONE)
                )
                if done:
                    break  # every carrier has finished its release: the rest stays silent
