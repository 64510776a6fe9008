"""``subtractive``: a Diva-flavoured analog voice, the default built-in synth.

Signal path, per preset: two band-limited oscillators (saw, pulse with width, triangle, sine;
octave, detune, up to 7 unison voices each) plus white noise -> a resonant filter (24 dB ladder
low-pass, 12 dB state-variable low-pass, band-pass or high-pass) whose cutoff follows its own
ADSR, key tracking, velocity and an LFO -> exponential amplitude ADSR and velocity -> drive,
chorus, delay, reverb (``effects``) -> soft limiter and a short fade at the end of the render.

Oscillators, envelopes and filter run fused in one numba loop per preset; filter cutoff, LFO
and pitch modulation are updated every ``CONTROL_RATE`` samples (with the cutoff coefficient
interpolated per sample, so fast sweeps do not zipper). Envelope times follow ``dsp``'s
definitions (attack: time to peak; decay and release: time to fall 60 dB).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bridge.synth import dsp
from bridge.synth.base import PAPER_NOTE, Note
from bridge.synth.builtin import BuiltinSynth
from bridge.synth.effects import apply_effects
from bridge.synth.spec import Param, ParamSpec

CONTROL_RATE = 16
MAX_UNISON = 7
WAVES = ("saw", "pulse", "triangle", "sine")
FILTER_TYPES = ("lp24", "lp12", "bandpass", "highpass")
LFO_SHAPES = ("sine", "triangle", "saw", "square", "sample_hold")
LFO_TARGETS = ("pitch", "cutoff", "amplitude", "pulse_width")
OUTPUT_GAIN = 0.65  # headroom: a full saw through an open filter peaks near 0.7
# Phase step cap in cycles per sample: with the pitch LFO's octave at most on top, a step stays
# under one cycle, so the phase wraps with a subtraction. Capped oscillators are over Nyquist,
# and so silent anyway (their wavetables hold no harmonic).
MAX_RATIO = 0.49


def _p(name: str, low: float, high: float, default: float, unit: str, group: str, desc: str,
       curve: str = "linear", steps: int = 0) -> Param:
    return Param(name, "numerical", low, high, default, unit, curve, steps, (), group, desc)


def _c(name: str, cats: tuple[str, ...], default: int, group: str, desc: str) -> Param:
    return Param(name, "categorical", default=float(default), categories=cats, group=group,
                 description=desc)


PARAMS: tuple[Param, ...] = (
    _c("osc1_wave", WAVES, 0, "osc", "oscillator 1 waveform"),
    _p("osc1_octave", -2, 2, 0, "oct", "osc", "oscillator 1 octave shift", steps=5),
    _c("osc2_wave", WAVES, 0, "osc", "oscillator 2 waveform"),
    _p("osc2_octave", -2, 2, 0, "oct", "osc", "oscillator 2 octave shift", steps=5),
    _p("osc2_detune", -100, 100, 7, "cent", "osc", "oscillator 2 fine tuning against osc 1"),
    _p("osc2_level", 0, 1, 0.5, "", "mixer", "oscillator 2 level (osc 1 is at 1)"),
    _p("pulse_width", 0.05, 0.5, 0.5, "", "osc", "width of pulse waves (0.5: square)"),
    _p("noise_level", 0, 1, 0, "", "mixer", "white noise level"),
    _p("unison_voices", 1, MAX_UNISON, 1, "voice", "osc", "stacked voices per oscillator",
       steps=MAX_UNISON),
    _p("unison_detune", 0, 50, 12, "cent", "osc", "spread of the unison voices (outermost)"),
    _c("filter_type", FILTER_TYPES, 0, "filter", "24 dB ladder or 12 dB state-variable modes"),
    _p("cutoff", 20, 20000, 1200, "Hz", "filter", "filter cutoff at note 60", "exp"),
    _p("resonance", 0, 1, 0.2, "", "filter", "filter resonance (1: on the edge of oscillation)"),
    _p("filter_env_amount", -5, 5, 3, "oct", "filter",
       "cutoff shift at the filter envelope's peak"),
    _p("key_tracking", 0, 1, 0.5, "", "filter", "how much the cutoff follows the pitch (1: fully)"),
    _p("fenv_attack", 0.001, 5, 0.002, "s", "filter_env", "filter envelope: time to peak", "exp"),
    _p("fenv_decay", 0.01, 10, 0.6, "s", "filter_env", "filter envelope: -60 dB time", "exp"),
    _p("fenv_sustain", 0, 1, 0.2, "", "filter_env", "filter envelope sustain level"),
    _p("fenv_release", 0.01, 10, 0.5, "s", "filter_env", "filter envelope: -60 dB time", "exp"),
    _p("amp_attack", 0.001, 5, 0.003, "s", "amp_env", "amplitude envelope: time to peak", "exp"),
    _p("amp_decay", 0.01, 10, 1.5, "s", "amp_env", "amplitude envelope: -60 dB time", "exp"),
    _p("amp_sustain", 0, 1, 0.7, "", "amp_env", "amplitude sustain level"),
    _p("amp_release", 0.005, 10, 0.4, "s", "amp_env", "amplitude envelope: -60 dB time", "exp"),
    _c("lfo_shape", LFO_SHAPES, 0, "lfo", "LFO waveform (restarts at note-on)"),
    _p("lfo_rate", 0.05, 20, 5, "Hz", "lfo", "LFO rate", "exp"),
    _c("lfo_target", LFO_TARGETS, 0, "lfo", "what the LFO modulates"),
    _p("lfo_amount", 0, 1, 0, "", "lfo",
       "LFO depth: pitch 12*a^2 semitones, cutoff 4*a octaves, tremolo a, width 0.45*a"),
    _p("velocity_sens", 0, 1, 0.5, "", "global",
       "velocity to level (gain (v/127)^(2s)) and to filter envelope depth"),
    _p("drive", 0, 1, 0, "", "fx", "overdrive, up to 30 dB into a soft clipper"),
    _p("chorus_mix", 0, 1, 0, "", "fx", "chorus amount (1: equal dry/wet blend)"),
    _p("delay_mix", 0, 1, 0, "", "fx", "echo amount"),
    _p("delay_time", 0.05, 1.0, 0.3, "s", "fx", "echo time", "exp"),
    _p("reverb_mix", 0, 1, 0, "", "fx", "reverb amount"),
    _p("reverb_size", 0, 1, 0.5, "", "fx", "reverb room size"),
)

SUBSETS = {
    "16": (
        "osc1_wave", "osc2_wave", "osc2_detune", "osc2_level", "noise_level", "filter_type",
        "cutoff", "resonance", "filter_env_amount", "fenv_decay", "amp_attack", "amp_decay",
        "amp_sustain", "amp_release", "lfo_amount", "reverb_mix",
    ),
    "32": tuple(p.name for p in PARAMS if p.name not in ("delay_time", "reverb_size")),
}

SPEC = ParamSpec("subtractive", PARAMS, SUBSETS)
# Column of every parameter in a real-valued preset row (what the kernel reads).
COL = {p.name: i for i, p in enumerate(PARAMS)}


class SubtractiveSynth(BuiltinSynth):
    """Two oscillators, noise, a resonant multimode filter, ADSRs, an LFO and effects."""

    name = "subtractive"
    spec = SPEC

    def render_unlimited(self, presets: np.ndarray, note: Note = PAPER_NOTE,
                         sample_rate: int = 22050) -> np.ndarray:
        norm = self.spec.check_norm(presets)
        held, n = dsp.check_render_args(note, sample_rate)
        real = self.spec.to_real(norm)
        sr = float(sample_rate)
        f0 = note.frequency
        c = COL
        # highest frequency each oscillator reaches in this note: the wavetables stop there
        up = (real[:, c["unison_detune"]] / 1200.0
              + np.where(real[:, c["lfo_target"]] == 0, real[:, c["lfo_amount"]] ** 2, 0.0))
        f1 = f0 * 2.0 ** (real[:, c["osc1_octave"]] + up)
        f2 = f0 * 2.0 ** (real[:, c["osc2_octave"]] + real[:, c["osc2_detune"]] / 1200.0 + up)
        waves = np.stack([real[:, c["osc1_wave"]], real[:, c["osc2_wave"]]], 1).astype(np.int64)
        tables = dsp.wavetables(waves, np.stack([f1, f2], 1), sr)
        out = np.zeros((len(norm), n), dtype=np.float32)
        _render(real, tables, dsp.row_seeds(norm), dsp.SINE_TABLE, f0, note.pitch,
                note.velocity / 127.0, held, sr, out)
        apply_effects(out, real[:, c["drive"]], real[:, c["chorus_mix"]], real[:, c["delay_mix"]],
                      real[:, c["delay_time"]], real[:, c["reverb_mix"]], real[:, c["reverb_size"]],
                      sample_rate)
        return out

    def sample_natural(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return sample_natural(rng, n)


def sample_natural(rng: np.random.Generator, n: int) -> np.ndarray:
    """Presets the way people program this synth (normalized [n, N]); deterministic from rng.

    Modulation is sparse, attacks are mostly short, the filter mostly mid-high with its
    envelope opening it, osc 2 often quiet, effects mostly off or low.
    """
    spec = SPEC
    r = rng.random
    out = np.tile(spec.defaults(), (n, 1)).astype(np.float64)

    def put(name: str, real: np.ndarray) -> None:
        out[:, COL[name]] = spec[name].to_norm(real)

    def sometimes(p: float, value: np.ndarray, other: float | np.ndarray = 0.0) -> np.ndarray:
        return np.where(r(n) < p, value, other)

    put("osc1_wave", rng.choice(4, n, p=[0.5, 0.25, 0.15, 0.1]))
    put("osc1_octave", rng.choice([-1, 0, 1], n, p=[0.2, 0.7, 0.1]))
    put("osc2_wave", rng.choice(4, n, p=[0.45, 0.25, 0.15, 0.15]))
    put("osc2_octave", rng.choice([-2, -1, 0, 1, 2], n, p=[0.05, 0.2, 0.5, 0.2, 0.05]))
    put("osc2_detune", sometimes(0.7, rng.normal(0, 8, n).clip(-100, 100), r(n) * 200 - 100))
    put("osc2_level", sometimes(0.35, 0.0, r(n) ** 1.5))
    put("pulse_width", 0.05 + 0.45 * r(n) ** 0.5)
    put("noise_level", sometimes(0.2, 0.4 * r(n) ** 2))
    put("unison_voices", sometimes(0.25, rng.choice([2, 3, 4, 5, 7], n), 1.0))
    put("unison_detune", 2 + 30 * r(n) ** 1.5)
    put("filter_type", rng.choice(4, n, p=[0.55, 0.25, 0.1, 0.1]))
    put("cutoff", 2.0 ** rng.normal(np.log2(1500), 1.5, n).clip(np.log2(20), np.log2(20000)))
    put("resonance", 0.85 * r(n) ** 2)
    put("filter_env_amount", sometimes(0.8, 5 * r(n) ** 1.2, rng.uniform(-5, 5, n)))
    put("key_tracking", r(n))
    put("fenv_attack", sometimes(0.8, 0.001 * 20 ** r(n), 0.02 * 100 ** r(n)))
    put("fenv_decay", 0.05 * 60 ** r(n))
    put("fenv_sustain", r(n) ** 1.5)
    put("fenv_release", 0.05 * 40 ** r(n))
    put("amp_attack", sometimes(0.8, 0.001 * 15 ** r(n), 0.02 * 100 ** r(n)))
    put("amp_decay", 0.1 * 60 ** r(n))
    put("amp_sustain", sometimes(0.8, 0.3 + 0.7 * r(n), 0.3 * r(n)))
    put("amp_release", 0.02 * 100 ** r(n))
    put("lfo_shape", rng.choice(5, n, p=[0.45, 0.25, 0.1, 0.1, 0.1]))
    put("lfo_rate", 0.2 * 40 ** r(n))
    put("lfo_target", rng.choice(4, n, p=[0.4, 0.35, 0.15, 0.1]))
    put("lfo_amount", sometimes(0.25, 0.5 * r(n) ** 1.5))
    put("velocity_sens", r(n))
    put("drive", sometimes(0.15, 0.6 * r(n)))
    put("chorus_mix", sometimes(0.15, 0.7 * r(n)))
    put("delay_mix", sometimes(0.1, 0.5 * r(n)))
    put("delay_time", 0.1 * 8 ** r(n))
    put("reverb_mix", sometimes(0.25, 0.6 * r(n)))
    put("reverb_size", r(n))
    return spec.quantize(out)


# Kernel column indices as module constants (numba freezes globals at compile time).
_OSC1_WAVE, _OSC1_OCT = COL["osc1_wave"], COL["osc1_octave"]
_OSC2_WAVE, _OSC2_OCT, _OSC2_DET = COL["osc2_wave"], COL["osc2_octave"], COL["osc2_detune"]
_OSC2_LVL, _PW, _NOISE = COL["osc2_level"], COL["pulse_width"], COL["noise_level"]
_UNI_N, _UNI_DET = COL["unison_voices"], COL["unison_detune"]
_FTYPE, _CUT, _RES, _FENV_AMT, _KEYTRK = (COL[k] for k in (
    "filter_type", "cutoff", "resonance", "filter_env_amount", "key_tracking"))
_FA, _FD, _FS, _FR = (COL[k] for k in ("fenv_attack", "fenv_decay", "fenv_sustain", "fenv_release"))
_AA, _AD, _AS, _AR = (COL[k] for k in ("amp_attack", "amp_decay", "amp_sustain", "amp_release"))
_LSHAPE, _LRATE, _LTGT, _LAMT = (COL[k] for k in ("lfo_shape", "lfo_rate", "lfo_target",
                                                  "lfo_amount"))
_VSENS = COL["velocity_sens"]


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _unison_step(table, wave, phases, ratios, nv, pw, pmul):  # noqa: ANN001, ANN202
    """One sample of an oscillator's unison voices summed; advances their phases in place.

    A pulse is the saw table minus itself shifted by the width.
    """
    o = 0.0
    for v in range(nv):
        ph = phases[v]
        if wave == dsp.WAVE_PULSE:
            q = ph + pw
            if q >= 1.0:
                q -= 1.0
            o += dsp.table_read(table, ph) - dsp.table_read(table, q)
        else:
            o += dsp.table_read(table, ph)
        ph += ratios[v] * pmul
        if ph >= 1.0:  # one step is under a cycle (see ``MAX_RATIO``)
            ph -= 1.0
        phases[v] = ph
    return o


@njit(cache=True, nogil=True, fastmath=True)
def _render(real, tables, seeds, sine, f0, pitch, vel, held, sr, out):  # noqa: ANN001, ANN202
    n_rows, n = out.shape
    cr_n = CONTROL_RATE
    ratio1 = np.empty(MAX_UNISON)
    ratio2 = np.empty(MAX_UNISON)
    ph1 = np.empty(MAX_UNISON)
    ph2 = np.empty(MAX_UNISON)
    for b in range(n_rows):
        p = real[b]
        state = np.uint64(seeds[b])
        w1 = int(p[_OSC1_WAVE])
        w2 = int(p[_OSC2_WAVE])
        t1 = tables[b, 0]
        t2 = tables[b, 1]
        nv = int(p[_UNI_N] + 0.5)
        f1 = f0 * 2.0 ** p[_OSC1_OCT]
        f2 = f0 * 2.0 ** (p[_OSC2_OCT] + p[_OSC2_DET] / 1200.0)
        for v in range(nv):
            spread = 0.0 if nv == 1 else 2.0 * v / (nv - 1) - 1.0
            r = 2.0 ** (spread * p[_UNI_DET] / 1200.0)
            ratio1[v] = min(f1 * r / sr, MAX_RATIO)
            ratio2[v] = min(f2 * r / sr, MAX_RATIO)
            # free-running analog oscillators: each voice starts at its own (seeded) phase
            state, u = dsp.rng_next(state)
            ph1[v] = 0.5 + 0.5 * u
            state, u = dsp.rng_next(state)
            ph2[v] = 0.5 + 0.5 * u
        lvl2 = p[_OSC2_LVL]
        lvln = p[_NOISE]
        # unison voices have unrelated phases, so they add up in power: 1/sqrt(n) keeps level
        norm = 1.0 / ((1.0 + lvl2 + 0.5 * lvln) * math.sqrt(nv))
        g1 = norm
        g2 = lvl2 * norm
        gn = lvln * norm * math.sqrt(nv)
        pw0 = p[_PW]

        # filter set-up
        ftype = int(p[_FTYPE])
        res = p[_RES]
        k_lad = 3.95 * res
        k_svf = 2.0 - 1.85 * res
        if ftype == 0:
            in_gain = 0.8 * (1.0 + 0.5 * k_lad)
        else:
            in_gain = 0.8 / (1.0 + 1.5 * res)
        bp_gain = math.sqrt(2.0 * k_svf)
        s0 = s1 = s2 = s3 = 0.0  # filter states
        vs = p[_VSENS]
        cut_base = math.log2(p[_CUT]) + p[_KEYTRK] * (pitch - 60) / 12.0
        fenv_amt = p[_FENV_AMT] * (1.0 - 0.5 * vs * (1.0 - vel))
        nyq_oct = math.log2(0.45 * sr)
        fca, fcd, fcr = dsp.env_coefs(p[_FA], p[_FD], p[_FR], sr / cr_n)
        fsus = p[_FS]
        fenv, fstage = 0.0, dsp.ATTACK
        aca, acd, acr = dsp.env_coefs(p[_AA], p[_AD], p[_AR], sr)
        asus = p[_AS]
        aenv, astage = 0.0, dsp.ATTACK
        level = OUTPUT_GAIN * vel ** (2.0 * vs)

        # LFO: depth per target (see the parameter's description)
        lshape = int(p[_LSHAPE])
        ltgt = int(p[_LTGT])
        lamt = p[_LAMT]
        lfo_pitch = lamt * lamt if ltgt == 0 else 0.0  # octaves (12 a^2 semitones)
        lfo_cut = 4.0 * lamt if ltgt == 1 else 0.0
        lfo_amp = lamt if ltgt == 2 else 0.0
        lfo_pw = 0.45 * lamt if ltgt == 3 else 0.0
        lfo_inc = p[_LRATE] * cr_n / sr
        lfo_ph = 0.0
        state, sh = dsp.rng_next(state)
        # a ~2 ms smoother keeps square and S&H LFOs from clicking
        lfo_smooth = 1.0 - math.exp(-cr_n / (0.002 * sr))
        lfo = dsp.lfo_shape(lshape, 0.0, sh)
        amp_mod = 1.0 - lfo_amp * (0.5 - 0.5 * lfo)

        c0 = c1 = c2 = 0.0  # filter coefficients, ramped per sample between control points
        first = True
        for start in range(0, n, cr_n):
            stop = min(start + cr_n, n)
            # --- control rate -------------------------------------------------------------
            lfo += (dsp.lfo_shape(lshape, lfo_ph, sh) - lfo) * lfo_smooth
            lfo_ph += lfo_inc
            if lfo_ph >= 1.0:
                lfo_ph -= 1.0
                state, sh = dsp.rng_next(state)
            fenv, fstage = dsp.env_step(fenv, fstage, start < held, fsus, fca, fcd, fcr)
            octv = cut_base + fenv_amt * fenv + lfo_cut * lfo
            octv = min(max(octv, 3.5), nyq_oct)
            g = math.tan(math.pi * 2.0 ** octv / sr)
            if ftype == 0:
                n0, n1 = dsp.ladder_coefs(g, k_lad)
                n2 = 0.0
            else:
                n0, n1, n2 = dsp.svf_coefs(g, k_svf)
            if first:
                c0, c1, c2 = n0, n1, n2
                first = False
            d0 = (n0 - c0) / cr_n
            d1 = (n1 - c1) / cr_n
            d2 = (n2 - c2) / cr_n
            am_new = 1.0 - lfo_amp * (0.5 - 0.5 * lfo)
            dam = (am_new - amp_mod) / cr_n
            pmul = 2.0 ** (lfo_pitch * lfo) if lfo_pitch != 0.0 else 1.0
            pw = min(max(pw0 + lfo_pw * lfo, 0.03), 0.97)
            # --- audio rate ---------------------------------------------------------------
            for i in range(start, stop):
                o1 = _unison_step(t1, w1, ph1, ratio1, nv, pw, pmul)
                o2 = _unison_step(t2, w2, ph2, ratio2, nv, pw, pmul) if g2 != 0.0 else 0.0
                x = g1 * o1 + g2 * o2
                if gn != 0.0:
                    state, u = dsp.rng_next(state)
                    x += gn * u
                x *= in_gain
                c0 += d0
                c1 += d1
                c2 += d2
                if ftype == 0:
                    y, s0, s1, s2, s3 = dsp.ladder_step(x, c0, c1, k_lad, s0, s1, s2, s3)
                else:
                    lp, bp, hp, s0, s1 = dsp.svf_step(x, c0, c1, c2, k_svf, s0, s1)
                    if ftype == 1:
                        y = lp
                    elif ftype == 2:
                        y = bp * bp_gain
                    else:
                        y = hp
                aenv, astage = dsp.env_step(aenv, astage, i < held, asus, aca, acd, acr)
                amp_mod += dam
                out[b, i] = y * aenv * amp_mod * level
            if astage == dsp.DONE:
                break  # the rest of the row stays silent (zeros)
