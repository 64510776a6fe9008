import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from bridge.synth.base import Note
from bridge.synth.registry import get_synth
from bridge.synth.spec import SpecError
from bridge.synth.vst3 import (
    VST3Error,
    VST3Synth,
    build_plan,
    describe_parameters,
    sanitize_name,
    skip_reason,
    spec_from_parameter_descriptions,
)


def cont(name, lo="0.0", mid="0.5", hi="1.0", label="", default=0.5, **kw):
    return {"name": name, "label": label, "range_text": [lo, mid, hi], "default": default, **kw}


def disc(name, values, default=0.0, **kw):
    return {"name": name, "discrete": True, "steps": len(values), "values": values,
            "range_text": [values[0], values[len(values) // 2], values[-1]], "default": default,
            **kw}


DEXED = Path(__file__).resolve().parents[2] / "shared" / "plugins" / "dexed" / "Dexed.vst3"

DESCRIPTIONS = [
    cont("Cutoff", "20 Hz", "632 Hz", "20 kHz", label="Hz", default=1.0),
    cont("Resonance", "0 %", "50 %", "100 %", default=0.2),
    disc("Osc 1 Wave", ["Sine", "Saw", "Square", "Noise"], default=1 / 3),
    disc("Octave", ["-2", "-1", "0", "+1", "+2"], default=0.5),
    disc("Unison", ["1", "2", "4", "8"]),
    disc("Filter On", ["Off", "On"], boolean=True, default=1.0),
    cont("Volume", "-inf dB", "-6.0 dB", "0.0 dB", default=0.8),
    cont("Bypass"),
    cont("MIDI CC 0|0"),
    cont("Program"),
    cont("Internal", automatable=False),
    cont("Macro 1", meta=True),
    disc("Constant", ["x", "x"]),
]


def test_kinds_from_descriptions() -> None:
    spec = spec_from_parameter_descriptions("vst3:/x/Test.vst3", DESCRIPTIONS)
    assert spec.names == ["Cutoff", "Resonance", "Osc_1_Wave", "Octave", "Unison", "Filter_On",
                          "Volume"]
    cutoff = spec["Cutoff"]
    assert (cutoff.kind, cutoff.curve, cutoff.low, cutoff.high, cutoff.unit) == (
        "numerical", "exp", 20.0, 20000.0, "Hz")
    res = spec["Resonance"]
    assert (res.curve, res.low, res.high, res.unit, res.steps) == ("linear", 0.0, 100.0, "%", 0)
    wave = spec["Osc_1_Wave"]
    assert wave.kind == "categorical" and wave.categories == ("Sine", "Saw", "Square", "Noise")
    assert wave.default == 1.0 and wave.description == "Osc 1 Wave"
    octave = spec["Octave"]
    assert (octave.kind, octave.low, octave.high, octave.steps) == ("numerical", -2, 2, 5)
    assert octave.default == 0.0
    unison = spec["Unison"]  # numbers, unequal gaps: steps kept, values only in the description
    assert (unison.kind, unison.low, unison.high, unison.steps) == ("numerical", 0, 1, 4)
    assert "1, 2, 4, 8" in unison.description
    assert spec["Filter_On"].categories == ("Off", "On") and spec["Filter_On"].default == 1
    vol = spec["Volume"]  # -inf at 0: no numeric range, so normalized with the display noted
    assert (vol.low, vol.high, vol.unit) == (0.0, 1.0, "")
    assert "-inf dB at 0" in vol.description


def test_normalized_values_are_the_plugin_raw_values() -> None:
    spec = spec_from_parameter_descriptions("t", DESCRIPTIONS)
    # A VST3 step k of n sits at raw k / (n - 1): the spec's normalized grid is the same.
    assert spec["Osc_1_Wave"].to_norm(np.array(2.0)) == pytest.approx(2 / 3)
    assert spec["Octave"].to_norm(np.array(1.0)) == pytest.approx(0.75)
    np.testing.assert_allclose(spec.defaults()[:2], [1.0, 0.2], atol=1e-6)


def test_skip_rule() -> None:
    plan = build_plan("t", DESCRIPTIONS)
    assert plan.skipped == {
        "Bypass": "bypass", "MIDI CC 0|0": "MIDI CC placeholder",
        "Program": "program selection", "Internal": "not automatable",
        "Macro 1": "meta parameter", "Constant": "fewer than two values",
    }
    assert skip_reason({"name": "Soft Bypass"}) == "bypass"
    assert skip_reason({"name": "  "}) == "no name"
    assert skip_reason({"name": "Bypass Mix"}) is None  # a real control that merely says bypass
    assert skip_reason({"name": "Preset Morph"}) is None


def test_boolean_without_texts_and_missing_texts() -> None:
    spec = spec_from_parameter_descriptions("t", [
        {"name": "Sync", "boolean": True, "discrete": True, "steps": 2, "values": ["1", "1"]},
        {"name": "Mode", "discrete": True, "steps": 3, "values": []},
        {"name": "Huge", "discrete": True, "steps": 100000, "range_text": ["0", "50000", "1e5"]},
        {"name": "Shape", "discrete": True, "steps": 3, "values": ["Saw", "Saw", "Pulse"]},
    ])
    assert spec["Shape"].categories == ("Saw", "Saw (2)", "Pulse")
    assert spec["Sync"].categories == ("off", "on")
    assert (spec["Mode"].kind, spec["Mode"].steps, spec["Mode"].high) == ("numerical", 3, 2.0)
    assert spec["Huge"].steps == 0  # too many steps to list: continuous


def test_names_sanitized_and_deduplicated() -> None:
    spec = spec_from_parameter_descriptions("t", [
        cont("Filter Cutoff"), cont("Level"), cont("Level"), cont("Level 2"),
        cont("Hüllkurve Attack"), cont("Cut-off (Hz)"), cont("***"), cont("level"),
    ])
    assert spec.names == ["Filter_Cutoff", "Level", "Level_2", "Level_2_2", "Hullkurve_Attack",
                          "Cut-off_Hz", "param_6", "level"]
    assert [p.description for p in spec.params][:3] == ["Filter Cutoff", "Level", "Level"]
    assert all(" " not in n for n in spec.names)
    assert sanitize_name("A  b\tc") == "A_b_c"


CONFIG = {
    "learn": ["Cutoff", "Resonance", "Osc 1 Wave", "Octave"],
    "subsets": {"filter": ["Cutoff", "Resonance"]},
    "fixed": {"Volume": 0.8, "Filter On": True, "Unison": "4", "Program": 0.0},
}


def test_config_learn_fixed_subsets() -> None:
    plan = build_plan("t", DESCRIPTIONS, CONFIG)
    assert plan.spec.names == ["Cutoff", "Resonance", "Osc_1_Wave", "Octave"]
    assert plan.plugin_names == ("Cutoff", "Resonance", "Osc 1 Wave", "Octave")
    assert plan.spec.subsets == {"filter": ("Cutoff", "Resonance")}
    names = [d["name"] for d in DESCRIPTIONS]
    fixed = {names[i]: v for i, v in plan.fixed.items()}
    assert fixed == {"Volume": 0.8, "Filter On": 1.0, "Unison": pytest.approx(2 / 3),
                     "Program": 0.0}
    # Unison was fixed, so no longer learned; nothing else is held.
    assert plan.held == {}
    assert plan.spec.subset("filter").names == ["Cutoff", "Resonance"]


def test_config_without_learn_holds_nothing_and_drops_fixed() -> None:
    plan = build_plan("t", DESCRIPTIONS, {"fixed": {"Osc_1_Wave": "saw"}})
    assert "Osc_1_Wave" not in plan.spec.names and "Cutoff" in plan.spec.names
    assert list(plan.fixed.values()) == [pytest.approx(1 / 3)]


def test_unlearned_parameters_are_held_at_default() -> None:
    plan = build_plan("t", DESCRIPTIONS, {"learn": ["Cutoff"]})
    names = [d["name"] for d in DESCRIPTIONS]
    held = {names[i]: v for i, v in plan.held.items()}
    assert set(held) == {"Resonance", "Osc 1 Wave", "Octave", "Unison", "Filter On", "Volume"}
    assert held["Resonance"] == 0.2


@pytest.mark.parametrize(
    "config, message",
    [
        ({"learn": ["Cutof"]}, r"unknown parameter 'Cutof'.*did you mean 'Cutoff'"),
        ({"fixed": {"Nope": 0.5}}, r"\[fixed\] names unknown parameter 'Nope'"),
        ({"learn": ["Bypass"]}, r"'Bypass' cannot be learned \(bypass\)"),
        ({"learn": ["Volume"], "fixed": {"Volume": 0.1}}, "both learned and fixed"),
        ({"learn": ["Volume", "Volume"]}, "listed twice"),
        ({"fixed": {"Volume": 1.5}}, r"normalized values in \[0, 1\]"),
        ({"fixed": {"Osc 1 Wave": "Triangle"}}, r"'Triangle' is not a value of 'Osc 1 Wave'"),
        ({"fixed": {"Resonance": "loud"}}, r"give a number in \[0, 1\]"),
        ({"fixed": {"Resonance": True}}, "not an on/off switch"),
        ({"subsets": {"f": ["Cutoff", "Volume"]}, "learn": ["Cutoff"]}, "not learned"),
        ({"lern": ["Cutoff"]}, r"unknown key\(s\) \['lern'\]"),
        ({"learn": "Cutoff"}, "learn must be a list"),
        ({"fixed": {"Constant": "x"}}, "single value"),
    ],
)
def test_config_errors(config: dict, message: str) -> None:
    with pytest.raises(VST3Error, match=message):
        build_plan("t", DESCRIPTIONS, config)


def test_ambiguous_plugin_name_asks_for_the_spec_name() -> None:
    two = [cont("Level A"), cont("Level A")]
    with pytest.raises(VST3Error, match=r"2 times; use one of \['Level_A', 'Level_A_2'\]"):
        build_plan("t", two, {"learn": ["Level A"]})
    assert build_plan("t", two, {"learn": ["Level_A_2"]}).learned == (1,)


def test_vst3error_is_a_spec_error() -> None:
    assert issubclass(VST3Error, SpecError) and issubclass(VST3Error, ValueError)


# --- files and paths ------------------------------------------------------------------------
def test_plugin_path_errors(tmp_path: Path) -> None:
    with pytest.raises(VST3Error, match="no such plugin"):
        VST3Synth(tmp_path / "Missing.vst3")
    (tmp_path / "synth.dll").write_bytes(b"")
    with pytest.raises(VST3Error, match="not a .vst3 plugin"):
        VST3Synth(tmp_path / "synth.dll")
    with pytest.raises(VST3Error, match="no such plugin"):
        get_synth(f"vst3:{tmp_path}/Missing.vst3")


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "Fake.vst3").mkdir()
    cfg = tmp_path / "pins.toml"
    cfg.write_text('learn = ["Cutoff"]\n[fixed]\n"Volume" = \n')
    with pytest.raises(VST3Error, match=r"pins\.toml: invalid TOML: .*line 3"):
        VST3Synth(tmp_path / "Fake.vst3", config=cfg)
    with pytest.raises(VST3Error, match="does not exist"):
        VST3Synth(tmp_path / "Fake.vst3", config=tmp_path / "none.toml")


def test_unknown_name_in_toml_reports_line(tmp_path: Path) -> None:
    from bridge.synth.vst3 import load_config

    cfg = tmp_path / "pins.toml"
    cfg.write_text('# my pins\nlearn = ["Cutoff", "Reso"]\n')
    parsed, text = load_config(cfg)
    with pytest.raises(VST3Error, match=r"pins\.toml, line 2: learn names unknown .* 'Reso'"):
        build_plan("t", DESCRIPTIONS, parsed, source=str(cfg), text=text)


# --- rendering with a stand-in plugin -------------------------------------------------------
class FakeParam:
    def __init__(self, d: dict) -> None:
        self.name = d["name"]
        self.label = d.get("label", "")
        self.is_discrete = d.get("discrete", False)
        self.is_boolean = d.get("boolean", False)
        self.num_steps = d.get("steps", 0) if self.is_discrete else 0x7FFFFFFF
        self.default_raw_value = d.get("default", 0.0)
        self.is_automatable = d.get("automatable", True)
        self.is_meta_parameter = d.get("meta", False)
        self._d = d
        self.raw_value = self.default_raw_value

    def get_text_for_raw_value(self, x: float) -> str:
        if self.is_discrete and self._d.get("values"):
            return self._d["values"][round(x * (self.num_steps - 1))]
        texts = self._d.get("range_text", ["0", "0.5", "1"])
        return texts[min(range(3), key=lambda i: abs(i / 2 - x))]

    @property
    def string_value(self) -> str:
        return self.get_text_for_raw_value(self.raw_value)


class FakeInstrument:
    """Plays a sine at the MIDI pitch, its level the 'Resonance' raw value, in stereo."""

    is_instrument, is_effect = True, False

    def __init__(self, descriptions: list[dict]) -> None:
        self._params = {f"p{i}": FakeParam(d) for i, d in enumerate(descriptions)}
        self.calls: list[dict] = []

    @property
    def parameters(self) -> dict:
        return dict(self._params)

    def value(self, name: str) -> float:
        return next(p.raw_value for p in self._params.values() if p.name == name)

    def __call__(self, midi, duration, sample_rate, num_channels, buffer_size, reset):
        self.calls.append({name: p.raw_value for name, p in self._params.items()})
        (on, t_on), (off, t_off) = midi
        assert on[0] == 0x90 and off[0] == 0x80 and t_on == 0.0
        t = np.arange(int(duration * sample_rate)) / sample_rate
        f = 440.0 * 2 ** ((on[1] - 69) / 12)
        x = self.value("Resonance") * np.sin(2 * np.pi * f * t) * (t < t_off)
        return np.stack([x, 0 * x]).astype(np.float32)


def test_describe_parameters_reads_a_plugin() -> None:
    plugin = FakeInstrument(DESCRIPTIONS)
    described = describe_parameters(plugin)
    assert [d["name"] for d in described] == [d["name"] for d in DESCRIPTIONS]
    wave = described[2]
    assert wave["values"] == ["Sine", "Saw", "Square", "Noise"] and wave["steps"] == 4
    assert described[0]["range_text"] == ["20 Hz", "632 Hz", "20 kHz"]
    assert described[10]["automatable"] is False and described[11]["meta"] is True
    spec = spec_from_parameter_descriptions("t", described)
    assert spec.names == spec_from_parameter_descriptions("t", DESCRIPTIONS).names


def test_render_routes_values_and_mixes_to_mono() -> None:
    plugin = FakeInstrument(DESCRIPTIONS)
    synth = VST3Synth.from_plugin(plugin, "vst3:fake", CONFIG)
    plugin._params["p7"].raw_value = plugin._params["p11"].raw_value = 0.123
    assert synth.plugin_names["Osc_1_Wave"] == "Osc 1 Wave"
    presets = np.array([[0.5, 1.0, 2 / 3, 0.25], [0.5, 0.25, 0.0, 1.0]], dtype=np.float32)
    note = Note(pitch=69, velocity=100, held=0.05, duration=0.1)
    audio = synth.render(presets, note, sample_rate=8000)
    assert audio.shape == (2, 800) and audio.dtype == np.float32
    # Mono is the mean of a full-level left and a silent right channel.
    assert np.max(np.abs(audio[0])) == pytest.approx(0.5, abs=0.01)
    assert np.max(np.abs(audio[1])) == pytest.approx(0.125, abs=0.01)
    assert np.all(audio[:, 400:] == 0)  # note off at 0.05 s
    first = plugin.calls[0]
    assert first["p2"] == pytest.approx(2 / 3) and first["p6"] == 0.8 and first["p5"] == 1.0
    assert first["p4"] == pytest.approx(2 / 3)  # fixed by its step text "4"
    assert first["p7"] == first["p11"] == 0.123  # skipped ones are never touched
    assert plugin.calls[1]["p3"] == 1.0


def test_render_checks_presets_and_survives_nan_output() -> None:
    plugin = FakeInstrument(DESCRIPTIONS)
    synth = VST3Synth.from_plugin(plugin, "vst3:fake", {"learn": ["Resonance"]})
    with pytest.raises(SpecError, match="expected presets of 1"):
        synth.render(np.zeros((1, 3)))
    plugin.__class__ = type("Broken", (FakeInstrument,), {
        "__call__": lambda self, *a, **k: np.full((2, 80), np.nan, np.float32)})
    out = synth.render(np.zeros((1, 1)), Note(60, 100, 0.01, 0.02), sample_rate=8000)
    assert out.shape == (1, 160) and np.all(out == 0)


def test_effects_are_refused() -> None:
    effect = FakeInstrument(DESCRIPTIONS)
    effect.is_instrument, effect.is_effect = False, True
    with pytest.raises(VST3Error, match="is an effect; flowsynth needs an instrument"):
        VST3Synth.from_plugin(effect, "vst3:/x/Reverb.vst3")


def test_from_plugin_synths_refuse_pickling() -> None:
    synth = VST3Synth.from_plugin(FakeInstrument(DESCRIPTIONS), "vst3:fake")
    with pytest.raises(TypeError, match="another process"):
        pickle.dumps(synth)


# --- a real plugin, when one is named ---------------------------------------------------------
def test_real_plugin_renders() -> None:
    # Dexed from ../shared is the real plugin CI has; FLOWSYNTH_TEST_VST3 names another.
    path = os.environ.get("FLOWSYNTH_TEST_VST3") or str(DEXED)
    if not Path(path).exists():
        pytest.skip(f"no real plugin: {DEXED} is absent and FLOWSYNTH_TEST_VST3 names none")
    synth = get_synth(f"vst3:{path}", config=os.environ.get("FLOWSYNTH_TEST_VST3_CONFIG"))
    assert len(synth.spec) > 0 and all(" " not in n for n in synth.spec.names)
    presets = np.stack([synth.spec.defaults(), synth.spec.sample_uniform(np.random.default_rng(0),
                                                                         1)[0]])
    note = Note(60, 100, 0.5, 1.0)
    audio = synth.render(presets, note, sample_rate=22050)
    assert audio.shape == (2, 22050) and np.all(np.isfinite(audio))
    assert np.max(np.abs(audio[0])) > 1e-4, "the default preset rendered silence"
    clone = pickle.loads(pickle.dumps(synth))
    assert clone.spec == synth.spec


def test_a_folder_that_is_no_plugin_fails_to_load_clearly(tmp_path: Path) -> None:
    (tmp_path / "Empty.vst3").mkdir()
    with pytest.raises(VST3Error, match=r"could not load .*Empty\.vst3"):
        VST3Synth(tmp_path / "Empty.vst3")


# --- pins travel with datasets and models ---------------------------------------------------
PINS_TOML = """
learn = ["Cutoff", "Resonance", "Osc 1 Wave", "Octave"]
[subsets]
filter = ["Cutoff", "Resonance"]
[fixed]
"Volume" = 0.8
"Filter On" = true
"Unison" = "4"
"""


@pytest.fixture
def fake_bundle(tmp_path: Path, monkeypatch) -> Path:
    """A .vst3 path whose 'plugin' is the stand-in instrument (a fresh one per load)."""
    import bridge.synth.vst3 as vst3

    bundle = tmp_path / "Fake.vst3"
    bundle.mkdir()
    loads: list[FakeInstrument] = []

    def load(path: Path, plugin_name: str | None) -> FakeInstrument:
        assert Path(path) == bundle
        loads.append(FakeInstrument(DESCRIPTIONS))
        return loads[-1]

    monkeypatch.setattr(vst3, "_load_plugin", load)
    return bundle


def test_pinned_identifier_rebuilds_the_synth_without_the_toml(tmp_path: Path,
                                                               fake_bundle: Path) -> None:
    from bridge.synth.registry import rebuild_synth
    from bridge.synth.vst3 import split_identifier

    toml = tmp_path / "pins.toml"
    toml.write_text(PINS_TOML)
    synth = get_synth(f"vst3:{fake_bundle}", config=str(toml))
    assert synth.spec.names == ["Cutoff", "Resonance", "Osc_1_Wave", "Octave"]
    path, pins = split_identifier(synth.name)
    assert path == f"vst3:{fake_bundle}" and pins is not None
    assert pins["fixed"] == {"Filter_On": 1.0, "Unison": pytest.approx(2 / 3), "Volume": 0.8}
    toml.unlink()  # what a model copied to another machine faces
    again = rebuild_synth(synth.name, synth.spec)
    assert again.spec == synth.spec and again.name == synth.name
    presets = synth.spec.sample_uniform(np.random.default_rng(0), 3)
    note = Note(69, 100, 0.05, 0.1)
    np.testing.assert_array_equal(synth.render(presets, note, 8000),
                                  again.render(presets, note, 8000))
    assert again.plugin.calls[-1] == synth.plugin.calls[-1]  # fixed and held values too
    clone = pickle.loads(pickle.dumps(synth))  # how dataset workers get it
    assert clone.name == synth.name and clone.spec == synth.spec
    # The unpinned plugin has every parameter: that is what the pins protect against.
    with pytest.raises(SpecError, match="other parameters than it was saved with"):
        rebuild_synth(f"vst3:{fake_bundle}", synth.spec)
    with pytest.raises(SpecError, match="already carries its pinned parameters"):
        get_synth(synth.name, config="pins.toml")
    with pytest.raises(VST3Error, match="not valid JSON"):
        get_synth(f"vst3:{fake_bundle}#{{oops}}")


def test_dataset_and_model_consumers_get_the_pinned_synth(tmp_path: Path,
                                                          fake_bundle: Path) -> None:
    """Dataset.synth(), export's real-audio check, plots and the server all rebuild the
    pinned synth from what the dataset stored, after the TOML file is gone."""
    from types import SimpleNamespace

    from bridge.data.dataset import Dataset
    from bridge.data.render import RenderSettings, make_features, render_dataset
    from bridge.export import _real_audio
    from bridge.synth.registry import rebuild_synth

    toml = tmp_path / "pins.toml"
    toml.write_text(PINS_TOML)
    settings = RenderSettings(
        synth=f"vst3:{fake_bundle}", n_presets=6, shard_size=3, subset="filter",
        notes=(Note(69, 100, 0.05, 0.1),), features=make_features(8000, 16),
        synth_config=str(toml),
    )
    render_dataset(settings, tmp_path / "ds", progress=False, log=lambda m: None)
    toml.unlink()
    ds = Dataset(tmp_path / "ds")
    assert "#{" in ds.synth_name and ds.learn_spec.names == ["Cutoff", "Resonance"]
    assert ds.synth().spec == ds.spec and len(ds.spec) == 4

    # What a SavedModel trained on it holds (train.py copies these from the dataset).
    model = SimpleNamespace(synth_name=ds.synth_name, spec=ds.spec, learn_spec=ds.learn_spec,
                            notes=ds.notes, features=ds.features)
    audio = _real_audio(model, 2, np.random.default_rng(0))  # type: ignore[arg-type]
    assert audio is not None and audio.shape == (2, 800)
    # The server renders with get_synth(model.synth_name); plots with rebuild_synth.
    assert get_synth(model.synth_name).spec == ds.spec
    assert rebuild_synth(model.synth_name, model.spec).spec.names == ds.spec.names
