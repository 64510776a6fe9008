"""Aliasing of the built-in FM voice, measured against the harmonic grid its ratios imply.

With integer coarse ratios (0 meaning 0.5) and no fine tuning, every partial an operator
stack can make, feedback included, is a multiple of ``f0 * gcd(2 * ratios) / 2``. Whatever
energy of a sustained note lies off that grid folded back from above Nyquist, so the
off-grid / on-grid energy ratio is the aliasing. At 22.05 kHz the folds of pitches 60 and
96 land at least 15 Hz from a grid line, well outside the 2.5 Hz counted as on it.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.fm_aliasing import alias_db, full_levels, grid_hz
from bridge.synth import Note
from bridge.synth.fm import ALGORITHMS, FMSynth, band_limit, index_scales

SR = 22050
# Worst cases found by a sweep of all 8 algorithms x 77 ratio sets at velocity 100
# (benchmarks/fm_aliasing.py): -84.7 dB at pitch 60, -36.1 dB at pitch 96 (a carrier
# above Nyquist whose lower sidebands remain). The bounds leave room for platform noise but
# would catch any return of folding: before the index cap and the steeper decimator the same
# sweep gave +14 dB at pitch 60.
BOUND_DB = {60: -60.0, 96: -30.0}
# ratio sets: every coarse step on all four operators, and mixed sets (high modulators
# over low carriers and the reverse) that were among the worst before the fix
RATIOS = [(c,) * 4 for c in range(17)] + [
    (1, 5, 8, 7), (3, 8, 0, 7), (1, 14, 0, 9), (6, 7, 8, 16), (8, 10, 16, 12), (0, 6, 10, 1),
    (1, 16, 1, 16), (16, 1, 16, 1),
]


def test_measure_detects_aliasing_of_naive_fm() -> None:
    """The measure itself: naive FM (sampled straight at 22.05 kHz) must read as aliased,
    the same FM with its sidebands kept under Nyquist must not."""
    f0 = Note(60).frequency
    t = np.arange(int(2.5 * SR)) / SR
    naive = np.sin(2 * np.pi * f0 * t + 4 * np.pi * np.sin(2 * np.pi * 5 * f0 * t))
    tame = np.sin(2 * np.pi * f0 * t + 1.0 * np.sin(2 * np.pi * 3 * f0 * t))
    assert alias_db(naive, SR, f0) > -20
    assert alias_db(tame, SR, f0) < -80  # the window's own floor is about -90 dB


@pytest.mark.parametrize("pitch", [60, 96])
@pytest.mark.parametrize("feedback", [0.1, 0.5])
def test_aliasing_every_algorithm_full_levels(pitch: int, feedback: float) -> None:
    synth = FMSynth()
    note = Note(pitch, 100, 2.5, 2.5)
    rows = [full_levels(a, c, feedback) for a in range(len(ALGORITHMS)) for c in RATIOS]
    combos = [(a, c) for a in range(len(ALGORITHMS)) for c in RATIOS]
    y = synth.render(np.stack(rows), note, SR)
    rms = np.sqrt(np.mean(y**2, axis=1))
    # carriers above Nyquist are filtered away; what is left of them must be inaudible
    silent = rms < 1e-3
    assert np.abs(y[silent]).max(initial=0.0) < 0.01
    worst = max(
        (alias_db(y[i], SR, grid_hz(c, note.frequency)), a, c)
        for i, (a, c) in enumerate(combos) if not silent[i]
    )
    assert worst[0] < BOUND_DB[pitch], f"{worst[0]:.1f} dB for algorithm, ratios {worst[1:]}"
    if pitch == 60:
        assert not silent.any()  # nothing reaches Nyquist at middle C


def test_index_cap_depends_on_pitch() -> None:
    """A 4-stack at level 1 keeps its full depth low on the keyboard and loses it up high."""
    mod_a, car_a = np.zeros((4, 4)), np.array([1.0, 0, 0, 0])
    mod_a[3, 2] = mod_a[2, 1] = mod_a[1, 0] = 1.0
    beta = np.full(4, 4 * np.pi)
    beta[0] = 0.0
    scales = {}
    for pitch in (24, 60, 96):
        s = np.empty(5)
        index_scales(np.full(4, Note(pitch).frequency * 0.5), beta, 0.0, mod_a, car_a,
                     band_limit(SR), s)
        scales[pitch] = s[1]
    assert scales[24] > scales[60] > scales[96] > 0
    pair = np.zeros((4, 4))
    pair[1, 0] = 1.0
    s = np.empty(5)
    index_scales(np.full(4, 110.0), beta, 0.0, pair, car_a, band_limit(SR), s)
    assert np.all(s == 1.0)  # a full-depth 1:1 pair on A2 fits under the limit untouched


def test_band_limit_follows_low_sample_rates() -> None:
    assert band_limit(48000) == band_limit(44100) == 20000.0
    assert band_limit(22050) == pytest.approx(19845.0)  # 0.9 of the rate: 1.4 x it is clean
    assert band_limit(8000) == pytest.approx(7200.0)
