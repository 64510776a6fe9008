"""The shared DSP kernels: band-limited oscillators, envelopes, filters, output stage."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.synth import dsp
from tests.audio_checks import alias_db

SR = 22050


def oscillator(wave: int, f0: float, sr: float, n: int, width: float = 0.5) -> np.ndarray:
    table = dsp.wavetables(np.array([wave]), np.array([f0]), sr)[0]
    phase = (np.arange(n) * f0 / sr) % 1.0
    y = np.array([dsp.table_read(table, p) for p in phase])
    if wave == dsp.WAVE_PULSE:
        y -= np.array([dsp.table_read(table, (p + width) % 1.0) for p in phase])
    return y


@pytest.mark.parametrize("wave", [dsp.WAVE_SAW, dsp.WAVE_PULSE, dsp.WAVE_TRIANGLE])
def test_3khz_oscillator_aliases_at_least_40db_under_fundamental(wave: int) -> None:
    y = oscillator(wave, 3000.0, SR, SR // 2, width=0.3)
    assert alias_db(y, SR, 3000.0) < -40.0


def test_saw_keeps_its_harmonics_up_to_nyquist() -> None:
    y = oscillator(dsp.WAVE_SAW, 1000.0, SR, SR)
    x = np.abs(np.fft.rfft(y)) / (SR / 2)
    # harmonic h of a saw has amplitude 2 / (pi h); the 11th (11 kHz) is the last under Nyquist
    for h in (1, 2, 5, 11):
        assert x[1000 * h] == pytest.approx(2 / (np.pi * h), rel=0.02)


def test_envelope_times_follow_their_definitions() -> None:
    a, d, s, r = 0.05, 0.3, 0.4, 0.2
    held = int(0.6 * SR)
    env = dsp.render_envelope(a, d, s, r, held, int(1.2 * SR), SR)
    assert env[0] < 0.01  # starts near zero: no click
    t_peak = np.argmax(env >= 1.0) / SR
    assert t_peak == pytest.approx(a, rel=0.05)
    # decay: distance to sustain falls 60 dB in d seconds
    dist = env[: held] - s
    t_decay = np.argmax((np.arange(held) / SR > t_peak) & (dist <= (1 - s) * 1e-3)) / SR - t_peak
    assert t_decay == pytest.approx(d, rel=0.05)
    level = env[held - 1]
    t_rel = np.argmax(env[held:] <= level * 1e-3) / SR
    assert t_rel == pytest.approx(r, rel=0.05)
    assert env[-1] == 0.0  # released to exactly zero, not an endless tail


def test_release_during_attack_falls_from_where_it_is() -> None:
    env = dsp.render_envelope(0.5, 0.3, 0.5, 0.05, int(0.1 * SR), int(0.5 * SR), SR)
    at_off = env[int(0.1 * SR) - 1]
    assert 0.05 < at_off < 0.9
    assert np.all(np.diff(env[int(0.1 * SR) :]) <= 1e-12)
    assert env[-1] == 0.0


def test_ladder_self_oscillation_stays_bounded() -> None:
    g = np.tan(np.pi * 1000.0 / SR)
    big_g, inv = dsp.ladder_coefs(g, 3.95)
    s = [0.0] * 4
    out = []
    x = 0.5
    for i in range(SR // 2):
        y, *s = dsp.ladder_step(x if i == 0 else 0.0, big_g, inv, 3.95, *s)
        out.append(y)
    out = np.array(out)
    assert np.all(np.isfinite(out)) and np.abs(out).max() < 2.0


def test_ladder_passes_dc_and_cuts_highs() -> None:
    def gain(freq: float) -> float:
        g = np.tan(np.pi * 500.0 / SR)
        big_g, inv = dsp.ladder_coefs(g, 0.0)
        s = [0.0] * 4
        t = np.arange(SR // 4)
        ys = []
        for v in 0.1 * np.cos(2 * np.pi * freq * t / SR):
            y, *s = dsp.ladder_step(v, big_g, inv, 0.0, *s)
            ys.append(y)
        return float(np.abs(np.array(ys[SR // 8 :])).max() / 0.1)

    assert gain(20.0) == pytest.approx(1.0, abs=0.01)
    assert gain(4000.0) < 10 ** (-60 / 20)  # 3 octaves over cutoff: 24 dB/oct


def test_svf_modes() -> None:
    g = np.tan(np.pi * 1000.0 / SR)
    a1, a2, a3 = dsp.svf_coefs(g, 1.4)
    s0 = s1 = 0.0
    outs = []
    for v in np.sin(2 * np.pi * 1000.0 * np.arange(SR // 4) / SR):
        lp, bp, hp, s0, s1 = dsp.svf_step(v, a1, a2, a3, 1.4, s0, s1)
        outs.append((lp, bp, hp))
    peak = np.abs(np.array(outs[SR // 8 :])).max(axis=0)
    # at the cutoff, low- and high-pass are 1/k (Q), band-pass is 1/k as well
    assert peak == pytest.approx([1 / 1.4] * 3, rel=0.03)


def test_soft_limit_never_exceeds_one_and_fades_out() -> None:
    x = (np.sin(np.linspace(0, 200, SR)) * 3.0).astype(np.float32)[None]
    dsp.soft_limit_and_fade(x, SR, 0.01)
    assert np.abs(x).max() <= 1.0
    assert x[0, -1] == 0.0
    quiet = (np.sin(np.linspace(0, 200, SR)) * 0.5).astype(np.float32)[None]
    before = quiet.copy()
    dsp.soft_limit_and_fade(quiet, SR, 0.01)
    np.testing.assert_array_equal(quiet[0, : SR // 2], before[0, : SR // 2])


def test_halfband_decimator() -> None:
    h = dsp.halfband_taps()
    n = 4096
    t = np.arange(2 * n)
    for freq, lo, hi in ((0.1, 0.99, 1.01), (0.7, 0.99, 1.01), (1.4, 0.0, 10 ** (-50 / 20))):
        # freq as a fraction of the output's Nyquist (input rate 2)
        x = np.cos(np.pi * freq * t / 2)[None]
        out = np.empty((1, n))
        dsp.halfband_decimate(x, h, out)
        amp = np.abs(out[0, 200:-200]).max()
        assert lo <= amp <= hi, (freq, amp)


def test_row_seeds_depend_on_the_row_only() -> None:
    rows = np.random.default_rng(0).random((4, 10)).astype(np.float32)
    seeds = dsp.row_seeds(rows)
    assert len(set(seeds.tolist())) == 4 and np.all(seeds != 0)
    np.testing.assert_array_equal(dsp.row_seeds(rows[2:3]), seeds[2:3])
    np.testing.assert_array_equal(dsp.row_seeds(rows[::-1]), seeds[::-1])


def test_rng_is_uniform_in_minus_one_one() -> None:
    state = np.uint64(12345)
    xs = []
    for _ in range(20000):
        state, u = dsp.rng_next(state)
        state = np.uint64(state)  # numba hands back a Python int
        xs.append(u)
    xs = np.array(xs)
    assert -1.0 <= xs.min() and xs.max() < 1.0
    assert abs(xs.mean()) < 0.02 and xs.std() == pytest.approx(1 / np.sqrt(3), rel=0.03)
