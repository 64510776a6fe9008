"""Decay stages measured on rendered notes (attack and release are tested with each synth).

The spec defines a decay time ``D`` as the time the distance to the sustain level takes to
shrink by 60 dB, starting at the envelope's peak. On an exponential that puts the point
where the envelope is within 5 % (of its fall) of the sustain level at ``D * ln 20 / ln 1000``
and the point within 1 % at ``D * 2 / 3``; both are checked within 5 %.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import hilbert, stft

from bridge.synth import Note
from bridge.synth.fm import SPEC as FM_SPEC
from bridge.synth.fm import FMSynth
from bridge.synth.subtractive import SPEC as SUB_SPEC
from bridge.synth.subtractive import SubtractiveSynth

SR = 22050
WITHIN_5_PERCENT = math.log(20) / math.log(1000)  # of D
WITHIN_1_PERCENT = 2 / 3
NOTE = Note(69, 100, 2.0, 2.5)  # held long enough for the slowest decay here to settle


def amplitude(y: np.ndarray) -> np.ndarray:
    env = np.abs(hilbert(y.astype(np.float64)))
    return np.convolve(env, np.ones(25) / 25, mode="same")  # tame the transform's ripple


def settle_times(track: np.ndarray, rate: float, settled: slice) -> tuple[float, float, float]:
    """(time from the peak to within 5 % of the settled value, to within 1 %, settled / peak)
    of a track that peaks early and then falls towards the value it holds in ``settled``."""
    start = int(np.argmax(track[: int(0.2 * rate)]))
    peak, final = track[start], track[settled].mean()
    fall = (track[start:] - final) / (peak - final)
    t5 = np.argmax(fall <= 0.05) / rate
    t1 = np.argmax(fall <= 0.01) / rate
    return float(t5), float(t1), float(final / peak)


def check_decay(t5: float, t1: float, decay: float) -> None:
    assert t5 == pytest.approx(decay * WITHIN_5_PERCENT, rel=0.05)
    assert t1 == pytest.approx(decay * WITHIN_1_PERCENT, rel=0.05)


SETTLED = slice(int(1.7 * SR), int(1.95 * SR))


@pytest.mark.parametrize("decay, sustain", [(0.3, 0.3), (0.6, 0.5), (1.0, 0.2)])
def test_subtractive_amp_decay(decay: float, sustain: float) -> None:
    values = {"osc1_wave": "sine", "osc2_level": 0.0, "filter_type": "highpass", "cutoff": 20.0,
              "resonance": 0.0, "filter_env_amount": 0.0, "velocity_sens": 0.0,
              "amp_attack": 0.002, "amp_decay": decay, "amp_sustain": sustain}
    y = SubtractiveSynth().render(SUB_SPEC.from_values(values), NOTE, SR)[0]
    t5, t1, level = settle_times(amplitude(y), SR, SETTLED)
    check_decay(t5, t1, decay)
    assert level == pytest.approx(sustain, rel=0.02)


@pytest.mark.parametrize("decay, sustain", [(0.3, 0.3), (0.6, 0.5), (1.2, 0.1)])
def test_fm_operator_decay(decay: float, sustain: float) -> None:
    # operator 1 alone, a pure sine carrier
    values = {"algorithm": "1|2|3|4", "feedback": 0.0, "velocity_sens": 0.0, "op1_level": 1.0,
              "op2_level": 0.0, "op3_level": 0.0, "op4_level": 0.0, "op1_attack": 0.002,
              "op1_decay": decay, "op1_sustain": sustain}
    y = FMSynth().render(FM_SPEC.from_values(values), NOTE, SR)[0]
    t5, t1, level = settle_times(amplitude(y), SR, SETTLED)
    check_decay(t5, t1, decay)
    assert level == pytest.approx(sustain, rel=0.02)


def log_centroid(y: np.ndarray, hop: int = 128, n_fft: int = 1024) -> tuple[np.ndarray, float]:
    """log2 of the spectral centroid per frame, and the frame rate."""
    f, _, z = stft(y.astype(np.float64), SR, nperseg=n_fft, noverlap=n_fft - hop,
                   boundary=None, padded=False)
    power = np.abs(z) ** 2
    centroid = (f[:, None] * power).sum(0) / np.maximum(power.sum(0), 1e-20)
    return np.log2(centroid), SR / hop


@pytest.mark.parametrize(
    "decay, sustain, amount, cutoff",
    [(1.5, 0.5, 4.0, 400.0), (1.0, 0.0, 3.0, 1000.0), (0.8, 0.3, 4.0, 300.0)],
)
def test_subtractive_filter_envelope_decay(decay: float, sustain: float, amount: float,
                                           cutoff: float) -> None:
    """The filter envelope heard through the brightness it gives a saw: the spectral
    centroid falls from the envelope's peak to the sustain's cutoff on the decay's schedule
    (the centroid is not the cutoff, but it moves with it monotonically, so the times at which
    it settles are the envelope's)."""
    note = Note(48, 100, 2.5, 3.0)
    values = {"osc1_wave": "saw", "osc2_level": 0.0, "filter_type": "lp24", "cutoff": cutoff,
              "resonance": 0.0, "key_tracking": 0.0, "lfo_amount": 0.0, "velocity_sens": 0.0,
              "amp_attack": 0.001, "amp_sustain": 1.0, "filter_env_amount": amount,
              "fenv_attack": 0.001, "fenv_decay": decay, "fenv_sustain": sustain}
    synth = SubtractiveSynth()
    track, rate = log_centroid(synth.render(SUB_SPEC.from_values(values), note, SR)[0])
    settled = slice(int(2.0 * rate), int(2.4 * rate))
    t5, t1, _ = settle_times(track, rate, settled)
    check_decay(t5, t1, decay)
    # the envelope opened the filter: brighter at the peak than once settled
    assert track[: int(0.2 * rate)].max() > track[settled].mean() + 0.3
    # and without it the brightness does not move
    flat, _ = log_centroid(
        synth.render(SUB_SPEC.from_values({**values, "filter_env_amount": 0.0}), note, SR)[0]
    )
    assert np.ptp(flat[int(0.1 * rate) : int(2.4 * rate)]) < 0.05
