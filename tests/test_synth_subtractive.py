"""The built-in subtractive synth: spec, sound quality bounds, determinism, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import hilbert

from bridge.synth import Note, SpecError, effects, get_synth
from bridge.synth.subtractive import SPEC, SubtractiveSynth
from tests.audio_checks import alias_db, assert_no_clicks

SR = 22050
SHORT = Note(60, 100, 0.5, 0.8)


@pytest.fixture(scope="module")
def synth() -> SubtractiveSynth:
    return SubtractiveSynth()


def preset(**values: float | str) -> np.ndarray:
    return SPEC.from_values(values)


# A transparent voice: one oscillator, filter wide open, no modulation, no effects.
OPEN = {"osc2_level": 0.0, "filter_type": "highpass", "cutoff": 20.0, "resonance": 0.0,
        "filter_env_amount": 0.0, "amp_sustain": 1.0, "velocity_sens": 0.0}


def test_spec_shape() -> None:
    assert 30 <= len(SPEC) <= 36
    assert sum(p.is_categorical for p in SPEC) >= 5
    assert all(p.group and p.description for p in SPEC)
    assert len(SPEC.subsets["16"]) == 16 and len(SPEC.subsets["32"]) == 32
    assert get_synth("subtractive").spec is SPEC
    for name in ("cutoff", "amp_attack", "amp_release", "lfo_rate"):
        assert SPEC[name].curve == "exp"


def test_default_preset_sounds(synth: SubtractiveSynth) -> None:
    y = synth.render(SPEC.defaults())
    assert y.shape == (1, 4 * SR) and y.dtype == np.float32
    rms = np.sqrt(np.mean(y[0, : 3 * SR] ** 2))
    assert 0.03 < rms and np.abs(y).max() <= 1.0


@pytest.mark.parametrize("wave", ["saw", "pulse", "triangle"])
def test_3khz_note_aliasing_40db_down(synth: SubtractiveSynth, wave: str) -> None:
    note = Note(102, 100, 1.0, 1.0)  # 2960 Hz, the closest MIDI note to 3 kHz
    y = synth.render(preset(**OPEN, osc1_wave=wave, pulse_width=0.3), note, SR)[0]
    assert alias_db(y[2000 : 2000 + SR // 2], SR, note.frequency) < -40.0


def test_amp_envelope_times_within_5_percent(synth: SubtractiveSynth) -> None:
    """Attack = note-on to peak; release = note-off to 60 dB under the level at note-off."""
    attack, release = 0.2, 0.3
    note = Note(69, 100, 0.5, 1.0)
    y = synth.render(preset(**OPEN, osc1_wave="sine", amp_attack=attack, amp_release=release),
                     note, SR)[0].astype(np.float64)
    env = np.abs(hilbert(y))
    env = np.convolve(env, np.ones(25) / 25, mode="same")  # tame the transform's ripple
    peak = env[int(0.3 * SR) : int(0.45 * SR)].mean()
    t_attack = np.argmax(env >= 0.995 * peak) / SR
    assert t_attack == pytest.approx(attack, rel=0.05, abs=0.004)
    off = int(note.held * SR)
    t_release = np.argmax(env[off:] <= 1e-3 * peak) / SR
    assert t_release == pytest.approx(release, rel=0.05)


def test_note_ends_inside_render_when_release_allows(synth: SubtractiveSynth) -> None:
    y = synth.render(preset(amp_release=0.1), Note(60, 100, 0.4, 1.0), SR)[0]
    assert np.abs(y[int(0.7 * SR) :]).max() < 1e-4


@pytest.mark.parametrize(
    "values",
    [{}, {"amp_attack": 0.001, "cutoff": 20000.0, "filter_type": "highpass"},
     {"noise_level": 1.0, "amp_attack": 0.001, "amp_release": 10.0},
     {"osc1_wave": "pulse", "resonance": 1.0, "amp_attack": 0.001, "reverb_mix": 1.0}],
)
def test_no_clicks_at_note_on_and_end(synth: SubtractiveSynth, values: dict) -> None:
    assert_no_clicks(synth.render(preset(**values), SHORT, SR)[0], SR)


def test_no_clipping_random_and_extreme(synth: SubtractiveSynth) -> None:
    rng = np.random.default_rng(1)
    n = len(SPEC)
    batch = np.concatenate([
        SPEC.sample_uniform(rng, 12), np.zeros((1, n)), np.ones((1, n)),
        (rng.random((6, n)) > 0.5).astype(np.float32),
        SPEC.from_values({"resonance": 1.0, "drive": 1.0, "unison_voices": 7,
                          "noise_level": 1.0, "osc2_level": 1.0, "filter_type": "bandpass",
                          "delay_mix": 1.0, "reverb_mix": 1.0, "chorus_mix": 1.0})[None],
    ])
    for note in (Note(60, 127, 0.4, 0.6), Note(24, 127, 0.4, 0.6), Note(108, 127, 0.4, 0.6)):
        y = synth.render(batch, note, SR)
        assert np.all(np.isfinite(y)) and np.abs(y).max() <= 1.0


def test_deterministic_and_independent_of_batch_position(synth: SubtractiveSynth) -> None:
    rng = np.random.default_rng(2)
    batch = synth.sample_natural(rng, 4)
    batch[1] = SPEC.from_values({"noise_level": 0.8, "lfo_shape": "sample_hold",
                                 "lfo_amount": 0.5, "unison_voices": 5, "reverb_mix": 0.5})
    a = synth.render(batch, SHORT, SR)
    b = synth.render(batch, SHORT, SR)
    np.testing.assert_array_equal(a, b)
    alone = synth.render(batch[1:2], SHORT, SR)
    moved = synth.render(np.stack([batch[3], batch[0], batch[1]]), SHORT, SR)
    np.testing.assert_array_equal(alone[0], a[1])
    np.testing.assert_array_equal(moved[2], a[1])
    np.testing.assert_array_equal(moved[0], a[3])


def test_every_category_renders_sound(synth: SubtractiveSynth) -> None:
    base = SPEC.from_values({"lfo_amount": 0.3, "osc2_level": 0.8, "noise_level": 0.1})
    rows, labels = [], []
    for p in SPEC:
        if p.is_categorical:
            for k, cat in enumerate(p.categories):
                rows.append(SPEC.from_values({p.name: k}, base))
                labels.append(f"{p.name}={cat}")
    y = synth.render(np.stack(rows), Note(60, 100, 0.3, 0.5), SR)
    rms = np.sqrt(np.mean(y**2, axis=1))
    assert np.all(np.isfinite(y))
    silent = [lab for lab, r in zip(labels, rms, strict=True) if r < 1e-3]
    assert not silent


def test_velocity_scales_level(synth: SubtractiveSynth) -> None:
    p = preset(velocity_sens=0.5)
    soft = synth.render(p, Note(60, 30, 0.3, 0.5), SR)
    hard = synth.render(p, Note(60, 127, 0.3, 0.5), SR)
    assert np.abs(soft).max() < 0.5 * np.abs(hard).max()


@pytest.mark.parametrize("sr", [44100, 48000])
def test_other_sample_rates(synth: SubtractiveSynth, sr: int) -> None:
    note = Note(69, 100, 0.3, 0.5)
    y = synth.render(preset(**OPEN, osc1_wave="sine"), note, sr)
    assert y.shape == (1, sr // 2) and np.all(np.isfinite(y))
    x = np.abs(np.fft.rfft(y[0]))
    assert np.argmax(x) * sr / len(y[0]) == pytest.approx(440.0, abs=2.0)
    saw = synth.render(preset(**OPEN), Note(105, 100, 0.6, 0.6), sr)[0]  # 3.5 kHz
    assert alias_db(saw[2000 : 2000 + sr // 4], sr, Note(105).frequency) < -40.0


def test_effects_change_the_sound_and_zero_skips_them(synth: SubtractiveSynth) -> None:
    dry = synth.render(preset(), SHORT, SR)
    for fx in ("drive", "chorus_mix", "delay_mix", "reverb_mix"):
        wet = synth.render(preset(**{fx: 0.8}), SHORT, SR)
        assert np.abs(wet - dry).max() > 1e-3, fx


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((2, 3)), "expected presets of"), (np.full((1, len(SPEC)), np.nan), "finite"),
     (np.full((1, len(SPEC)), 1.5), "must lie in"), (np.zeros((2, 2, len(SPEC))), "expected")],
)
def test_invalid_presets_raise_spec_error(synth: SubtractiveSynth, bad: np.ndarray,
                                          match: str) -> None:
    with pytest.raises(SpecError, match=match):
        synth.render(bad, SHORT, SR)


def test_invalid_sample_rate_raises(synth: SubtractiveSynth) -> None:
    with pytest.raises(SpecError, match="sample_rate"):
        synth.render(SPEC.defaults(), SHORT, 100)


def test_natural_presets(synth: SubtractiveSynth) -> None:
    a = synth.sample_natural(np.random.default_rng(5), 400)
    b = synth.sample_presets(np.random.default_rng(5), 400, "natural")
    np.testing.assert_array_equal(a, b)
    assert a.shape == (400, len(SPEC)) and a.min() >= 0 and a.max() <= 1
    real = SPEC.real_dict(a)
    assert np.mean(real["lfo_amount"] == 0) > 0.6
    assert np.mean(real["amp_attack"] < 0.02) > 0.6
    assert np.mean(real["reverb_mix"] == 0) > 0.6 and np.mean(real["drive"] == 0) > 0.7
    assert np.median(real["cutoff"]) > 500
    y = synth.render(a[:8], SHORT, SR)
    assert np.all(np.sqrt(np.mean(y**2, axis=1)) > 1e-3)


@pytest.mark.parametrize("pitch, drive, bound", [(60, 0.5, -40.0), (60, 1.0, -38.0),
                                                  (84, 0.3, -42.0), (102, 0.5, -38.0)])
def test_driven_notes_alias_little(synth: SubtractiveSynth, pitch: int, drive: float,
                                   bound: float) -> None:
    """The drive's clipper runs oversampled with ADAA: without, note 60 at drive 0.5 was -25 dB."""
    note = Note(pitch, 100, 1.0, 1.0)
    y = synth.render(preset(**OPEN, drive=drive), note, SR)[0]
    assert alias_db(y[2000 : 2000 + SR // 2], SR, note.frequency) < bound


def test_levels_before_the_limiter(synth: SubtractiveSynth) -> None:
    """Gain staging keeps the limiter a safety net: few overs, none far over, healthy levels."""
    note = Note(60, 100, 1.5, 2.0)
    uniform = synth.render_unlimited(SPEC.sample_uniform(np.random.default_rng(3), 256), note, SR)
    peak = np.abs(uniform).max(axis=1)
    assert np.mean(peak > 1.0) < 0.02 and peak.max() < 1.4
    natural = synth.render_unlimited(synth.sample_natural(np.random.default_rng(3), 128), note, SR)
    peak = np.abs(natural).max(axis=1)
    assert np.mean(peak > 1.0) < 0.01 and peak.max() < 1.2
    assert 20 * np.log10(np.median(peak)) > -12.0
    # the limiter leaves such levels alone (it only bends peaks over its 0.9 knee)
    limited = synth.render(synth.sample_natural(np.random.default_rng(3), 8), note, SR)
    unlimited = synth.render_unlimited(synth.sample_natural(np.random.default_rng(3), 8), note, SR)
    quiet = np.abs(unlimited).max(axis=1) < 0.9
    np.testing.assert_array_equal(limited[quiet, : SR], unlimited[quiet, : SR])


def test_reverb_keeps_the_dry_level(synth: SubtractiveSynth) -> None:
    """JUCE's reverb doubles its dry_level: a little reverb must not make a preset 6 dB louder."""
    dry = synth.render_unlimited(preset(), SHORT, SR)[0]
    wet = synth.render_unlimited(preset(reverb_mix=0.1), SHORT, SR)[0]
    assert np.abs(wet).max() == pytest.approx(np.abs(dry).max(), rel=0.15)


def test_chorus_matches_pedalboards() -> None:
    """Our numba chorus replaced pedalboard's (JUCE's) for speed: same level and colour."""
    from pedalboard import Chorus

    n = SR
    t = np.arange(n) / SR
    rng = np.random.default_rng(0)
    # a chord in noise: the chorus colours every band (comb notches), so each band is compared
    x = sum(np.sin(2 * np.pi * f * t + rng.random() * 6) for f in (220.0, 277.2, 329.6, 1760.0))
    x = (0.1 * x + 0.1 * rng.standard_normal(n)).astype(np.float32)
    edges = [100, 200, 400, 800, 1600, 3200, 6400, 11025]
    f = np.fft.rfftfreq(n, 1.0 / SR)

    def bands(y: np.ndarray) -> np.ndarray:
        spec = np.abs(np.fft.rfft(y)) ** 2
        pairs = zip(edges[:-1], edges[1:], strict=True)
        return np.array([spec[(f >= lo) & (f < hi)].sum() for lo, hi in pairs])

    for amount in (0.2, 0.6, 1.0):
        ours = x.copy()
        pad = effects.chorus_pad(float(SR))
        effects.chorus_inplace(ours, amount, float(SR), np.empty(pad + n), pad)
        theirs = Chorus(rate_hz=effects.CHORUS_RATE_HZ, depth=0.15 + 0.2 * amount,
                        centre_delay_ms=effects.CHORUS_CENTRE_MS, feedback=0.0,
                        mix=0.5 * amount)(x[None], SR, reset=True)[0]
        # what the chorus adds (the wet part) has the same energy, and the bands the same level
        wet_ratio = np.sum((ours - x) ** 2) / np.sum((theirs - x) ** 2)
        assert wet_ratio == pytest.approx(1.0, abs=0.1), amount
        # (LFO phase conventions differ a little: measured within 1.3 dB in every octave)
        assert np.abs(10 * np.log10(bands(ours) / bands(theirs))).max() < 1.5, amount
        assert np.sum((ours - x) ** 2) > 0.01 * np.sum(x**2) * amount  # it does something


def test_delay_matches_pedalboards() -> None:
    from pedalboard import Delay

    x = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.2
    x[SR // 2 :] = 0.0  # the echoes' tail must match too
    for amount, seconds in ((0.5, 0.3), (1.0, 0.05), (0.3, 0.77)):
        ours = x.copy()
        effects.delay_inplace(ours, amount, seconds, float(SR), np.empty(SR))
        theirs = Delay(delay_seconds=seconds, feedback=effects.DELAY_FEEDBACK,
                       mix=0.5 * amount)(x[None], SR, reset=True)[0]
        np.testing.assert_allclose(ours, theirs, atol=1e-6)


def pedalboard_reverb_rows(audio: np.ndarray, rows: np.ndarray, room_size: np.ndarray,
                           wet_level: np.ndarray, dry_level: np.ndarray, sample_rate: int) -> None:
    """The reference: what the effect stage ran before its numba reverb, pedalboard's mono path."""
    from pedalboard import Reverb

    for k, r in enumerate(rows):
        plugin = Reverb(room_size=float(room_size[k]), damping=effects.REVERB_DAMPING,
                        wet_level=float(wet_level[k]), dry_level=float(dry_level[k]), width=1.0)
        audio[r] = plugin(audio[r : r + 1], sample_rate, reset=True)[0]


@pytest.mark.parametrize("rows, sr", [(1, SR), (5, SR), (20, SR), (50, SR), (3, 44100),
                                      (17, 8000), (2, 48000)])
def test_reverb_equals_pedalboards_bit_for_bit(rows: int, sr: int) -> None:
    """Our numba reverb replaced pedalboard's (JUCE's) for speed; voices were trained on the
    latter, so it must reproduce it exactly: noise bursts and their tails, in both the
    one-row kernel (< 16 rows) and the rows-vectorized one, for many (room size, wet, dry)."""
    rng = np.random.default_rng(rows)
    x = np.zeros((rows, 2 * sr), np.float32)
    x[:, : sr // 4] = (0.3 * rng.standard_normal((rows, sr // 4))).astype(np.float32)
    room = np.concatenate([[0.0, 1.0], rng.random(rows)])[:rows]
    wet, dry = rng.random(rows), rng.random(rows)
    ours, theirs = x.copy(), x.copy()
    effects.reverb_rows(ours, np.arange(rows), room, wet, dry, sr)
    pedalboard_reverb_rows(theirs, np.arange(rows), room, wet, dry, sr)
    np.testing.assert_array_equal(ours, theirs)
    assert np.abs(ours[:, sr:] - x[:, sr:]).max() > 1e-4  # the tail rings on


def test_reverb_rejects_bad_input() -> None:
    audio = np.zeros((2, 100), np.float32)
    with pytest.raises(ValueError, match="room_size must lie in"):
        effects.reverb_rows(audio, np.arange(2), np.array([0.5, 1.5]), 0.1, 0.4, SR)
    with pytest.raises(ValueError, match="float32"):
        effects.reverb_rows(audio.astype(np.float64), np.arange(2), 0.5, 0.1, 0.4, SR)


def test_rendered_notes_equal_the_pedalboard_reverb_path(synth: SubtractiveSynth,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole renders, every effect engaged, equal those with pedalboard's reverb (the sound the
    models were trained on): 64 natural presets with effects set, 64 uniform ones."""
    natural = synth.sample_natural(np.random.default_rng(11), 64)
    rng = np.random.default_rng(12)
    for p in ("drive", "chorus_mix", "delay_mix", "reverb_mix", "reverb_size"):
        natural[:, SPEC.index(p)] = rng.uniform(0.05, 1.0, 64)
    uniform = SPEC.sample_uniform(np.random.default_rng(13), 64)
    uniform[:, SPEC.index("reverb_mix")] = np.maximum(uniform[:, SPEC.index("reverb_mix")], 0.01)
    for presets in (natural, uniform, natural[:3]):
        ours = synth.render(presets, Note(60, 100, 3.0, 4.0), SR)
        with monkeypatch.context() as m:
            m.setattr(effects, "reverb_rows", pedalboard_reverb_rows)
            theirs = synth.render(presets, Note(60, 100, 3.0, 4.0), SR)
        np.testing.assert_array_equal(ours, theirs)
