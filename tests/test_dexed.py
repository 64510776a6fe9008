"""Dexed, the real plugin from ../shared/plugins/dexed: cartridge decoding against what the
plugin reads, the pinned spec, reset between presets, worker-count independent datasets, the
devices' name matching on Dexed's own names, and /params values reaching its parameters.

Tests that need the plugin skip, saying so, where ../shared/plugins/dexed is absent; the
cartridge tests need only its cartridges.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bridge.synth import dexed as dx
from bridge.synth import dexed_state
from bridge.synth.dx7 import (
    CART_SIZE,
    VOICE_MAX,
    VOICE_NAMES,
    CartridgeError,
    read_cartridge,
    read_cartridges,
    unpack_voice,
)
from bridge.synth.vst3 import on_plugin_thread

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "plugins" / "dexed"
PLUGIN = SHARED / "Dexed.vst3"
CARTS = SHARED / "cartridges"
NODE = shutil.which("node")

needs_carts = pytest.mark.skipif(not CARTS.is_dir(), reason=f"no Dexed cartridges at {CARTS}")
needs_dexed = pytest.mark.skipif(not PLUGIN.exists(), reason=f"no Dexed plugin at {PLUGIN}")


def plugin_thread(test):
    """Run a test's body on the plugin thread, where every plugin of the process lives and
    Dexed updates its parameter texts."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return on_plugin_thread(test, *args, **kwargs)
    return run


@pytest.fixture(scope="module")
def synth() -> dx.DexedSynth:
    return dx.DexedSynth(PLUGIN)


def _sh_audible(spec, preset: np.ndarray) -> bool:
    """A sample-and-hold LFO that reaches the sound: Dexed draws its values unseeded."""
    v = dict(zip(spec.names, spec.to_real(preset), strict=True))
    if round(v["LFO WAVE"]) != 5:
        return False
    pitch = v["LFO PM DEPTH"] > 0 and v["P MODE SENS."] > 0
    amp = v["LFO AM DEPTH"] > 0 and any(v[f"OP{o} A MOD SENS."] > 0 for o in range(1, 7))
    return bool(pitch or amp)


# --- cartridges ------------------------------------------------------------------------------
def _cart(voice: bytes = bytes(128)) -> bytearray:
    body = voice * 32
    return bytearray(bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00]) + body
                     + bytes([(-sum(body)) & 0x7F, 0xF7]))


def test_cartridge_errors_name_the_file(tmp_path: Path) -> None:
    short = tmp_path / "short.syx"
    short.write_bytes(bytes(163))  # a single-voice dump's size
    with pytest.raises(CartridgeError, match=r"short\.syx: 163 bytes.*4104"):
        read_cartridge(short)
    bad = _cart()
    bad[6] = 5  # data changed, checksum not
    (tmp_path / "sum.syx").write_bytes(bad)
    with pytest.raises(CartridgeError, match=r"sum\.syx: bad checksum"):
        read_cartridge(tmp_path / "sum.syx")
    other = _cart()
    other[3] = 0x00  # format 0: a single voice, not 32
    (tmp_path / "fmt.syx").write_bytes(other)
    with pytest.raises(CartridgeError, match=r"fmt\.syx: not a DX7 32-voice bulk dump"):
        read_cartridge(tmp_path / "fmt.syx")
    with pytest.raises(CartridgeError, match="no such folder"):
        read_cartridges(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CartridgeError, match="no .syx cartridge"):
        read_cartridges(tmp_path / "empty")


def test_unpack_voice_bit_fields() -> None:
    packed = bytearray(128)
    op6 = packed[0:17]
    op6[11] = 0b1110  # left curve 2 (+EX), right curve 3 (+LN)
    op6[12] = (13 << 3) | 5  # detune 13 (+6), rate scaling 5
    op6[13] = (6 << 2) | 2  # key velocity 6, amp mod sens 2
    op6[15] = (17 << 1) | 1  # coarse 17, fixed mode
    op6[14], op6[16] = 88, 42  # output level, fine
    packed[0:17] = op6
    packed[110] = 0xE0 | 21  # algorithm 22, garbage in the high bits masked off
    packed[111] = (1 << 3) | 6  # osc key sync, feedback 6
    packed[116] = (5 << 4) | (4 << 1) | 1  # pitch mod sens 5, sine, LFO key sync
    packed[117] = 60  # transpose over 48: clamped as Dexed does
    packed[118:128] = b"TEST VOICE"
    values, name = unpack_voice(bytes(packed))
    v = dict(zip(VOICE_NAMES, values, strict=True))
    assert name == "TEST VOICE"
    assert (v["OP6 L KEY SCALE"], v["OP6 R KEY SCALE"]) == (2, 3)
    assert (v["OP6 OSC DETUNE"], v["OP6 RATE SCALING"]) == (13, 5)
    assert (v["OP6 KEY VELOCITY"], v["OP6 A MOD SENS."]) == (6, 2)
    assert (v["OP6 F COARSE"], v["OP6 MODE"], v["OP6 OUTPUT LEVEL"], v["OP6 F FINE"]) == (
        17, 1, 88, 42)
    assert (v["ALGORITHM"], v["FEEDBACK"], v["OSC KEY SYNC"]) == (21, 6, 1)
    assert (v["P MODE SENS."], v["LFO WAVE"], v["LFO KEY SYNC"], v["TRANSPOSE"]) == (5, 4, 1, 48)


@needs_carts
def test_every_dexed_cartridge_decodes() -> None:
    voices = read_cartridges(CARTS)
    assert len(voices) == 33 * 32
    values = np.array([v.values for v in voices])
    assert (values >= 0).all() and (values <= VOICE_MAX).all()
    assert all(0.0 <= x <= 1.0 for x in voices[5].normalized().values())
    assert all(f.stat().st_size == CART_SIZE for f in CARTS.glob("*.syx"))


# --- against the plugin ------------------------------------------------------------------------
def _plugin_values(plugin) -> list[int]:
    by = {str(q.name): q for q in plugin.parameters.values()}
    return [round(by[n].raw_value * m) for n, m in zip(VOICE_NAMES, VOICE_MAX.tolist(),
                                                       strict=True)]


@needs_dexed
@needs_carts
@plugin_thread
def test_decoding_equals_dexeds_own_unpacking() -> None:
    # A new instance plays voice 1 of Dexed's built-in cartridge, unpacked by Dexed itself
    # (the one voice pedalboard lets Dexed unpack: SysEx and program changes never reach it).
    plugin = dx.load_plugin(PLUGIN)
    assert _plugin_values(plugin) == list(read_cartridge(CARTS / "Dexed_01.syx")[0].values)


@needs_dexed
@needs_carts
@pytest.mark.parametrize("cart", ["Dexed_01.syx", "SynprezFM_07.syx", "SynprezFM_32.syx"])
@plugin_thread
def test_voice_names_are_the_ones_dexed_reads(cart: str) -> None:
    # With the cartridge in its state, Dexed's program menu lists the names it decoded.
    plugin = dx.load_plugin(PLUGIN)
    plugin.preset_data = dexed_state.state_with_cartridge(
        plugin.preset_data, (CARTS / cart).read_bytes())
    program = {str(q.name): q for q in plugin.parameters.values()}["Program"]
    names = []
    for k in range(32):
        program.raw_value = k / 31
        names.append(str(program.string_value))
    assert names == [v.name for v in read_cartridge(CARTS / cart)]


@needs_dexed
@needs_carts
@plugin_thread
def test_vstpreset_load_reads_back_the_decoded_values(tmp_path: Path) -> None:
    # The decoded voice saved as Dexed's own .vstpreset, loaded by the plugin: every
    # parameter reads back as the normalized value decoding gave (Dexed's step k / largest).
    plugin = dx.load_plugin(PLUGIN)
    by = {str(q.name): q for q in plugin.parameters.values()}
    voices = read_cartridges(CARTS)
    for i in (0, 77, 300, 555, 1055):
        path = tmp_path / f"voice{i}.vstpreset"
        path.write_bytes(dexed_state.state_with_voice(plugin.preset_data, voices[i].values,
                                                      voices[i].name))
        plugin.load_preset(str(path))
        want = voices[i].normalized()
        got = {n: by[n].raw_value for n in VOICE_NAMES}
        assert max(abs(got[n] - want[n]) for n in VOICE_NAMES) < 1e-6, voices[i].source


@needs_dexed
def test_spec_is_pinned_with_the_plugins_names_and_texts(synth) -> None:
    spec = synth.spec
    assert len(spec) == 144
    assert spec.names[:3] == ["ALGORITHM", "FEEDBACK", "OSC KEY SYNC"]
    assert "OP1 OUTPUT LEVEL" in spec.names and "TRANSPOSE" not in spec.names
    assert not any("SWITCH" in n for n in spec.names)
    assert spec["LFO WAVE"].categories == ("TRIANGE", "SAW DOWN", "SAW UP", "SQUARE", "SINE",
                                           "S&HOLD")  # Dexed's own spelling
    assert spec["ALGORITHM"].categories[0] == "1" and spec["ALGORITHM"].steps == 32
    assert (spec["OP3 OSC DETUNE"].low, spec["OP3 OSC DETUNE"].high) == (-7.0, 7.0)
    assert spec["OP2 BREAK POINT"].description == "A-1 .. C8"
    assert sum(p.is_categorical for p in spec.params) == 22
    assert spec.encoded_size("numcat++") == 610  # Le Vaillant et al.'s D for 144 parameters
    assert len(spec.subsets["81"]) == 81


@needs_dexed
@plugin_thread
def test_params_values_set_the_plugin_to_the_intended_values(synth) -> None:
    # What /params carries (normalized values, as Live's automation takes them) goes into
    # Dexed unchanged, and Dexed then shows the value the spec says the preset means.
    spec = synth.spec
    presets = synth.spec.quantize(synth.sample_presets(np.random.default_rng(3), 4, "uniform"))
    by = {str(q.name): q for q in synth.plugin.parameters.values()}
    for preset in presets:
        synth.set_preset(preset)
        real = spec.to_real(preset)
        for i, p in enumerate(spec.params):
            q = by[p.name]
            if p.name == "LFO KEY SYNC":
                continue  # rendered ON (dexed.toml's render_as); checked below
            assert abs(q.raw_value - float(preset[i])) < 1e-6, p.name
            if p.is_categorical:
                want = p.categories[int(real[i])]
            elif p.description:  # break points: the note name of the step
                want = None
            else:
                want = f"{real[i]:.0f}"
            if want is not None:
                assert str(q.string_value).strip() == want, (p.name, real[i])
    assert by["LFO KEY SYNC"].raw_value == 1.0


@needs_dexed
def test_a_preset_renders_the_same_after_other_ones(synth) -> None:
    rng = np.random.default_rng(11)
    presets = synth.sample_presets(rng, 10, "natural")
    presets[-1] = synth.voice_preset(synth.voices()[3])
    synth.restart()
    first = synth.render(presets)
    synth.restart()
    again = synth.render(presets[::-1])[::-1]  # each after different ones
    for i, preset in enumerate(presets):
        if _sh_audible(synth.spec, preset):
            continue  # see the next test
        assert np.array_equal(first[i], again[i]), i
    assert np.abs(first).max(axis=1).min() > 1e-3  # all audible


@needs_dexed
def test_a_silent_preset_renders_at_once(synth) -> None:
    # pedalboard's reset plays a note until the plugin sounds, 10 s at most by default: a
    # silent voice (an untrained model's guess, a search's candidate) cost 10 s a render.
    import time

    preset = synth.voice_preset(synth.voices()[10]).copy()
    for o in range(1, 7):
        preset[synth.spec.index(f"OP{o} OUTPUT LEVEL")] = 0.0
    t = time.perf_counter()
    audio = synth.render(np.stack([preset, preset]))
    assert time.perf_counter() - t < 1.0 and not audio.any()


@needs_dexed
def test_sample_and_hold_voices_differ_within_a_bound(synth) -> None:
    # Dexed's sample-and-hold values are unseeded (even in a new process): the only presets
    # whose renders differ. The 24 cartridge voices where that LFO reaches the sound, each
    # rendered twice after different presets: mean |log-mel difference| per voice measured
    # median 0.9 dB, worst 17.3 dB (docs/dexed.md quotes these bounds).
    from bridge.audio.features import FeatureConfig, log_mel

    presets = np.stack([synth.voice_preset(v) for v in synth.voices()])
    sh = presets[[_sh_audible(synth.spec, p) for p in presets]]
    assert len(sh) == 24
    synth.restart()
    a = synth.render(sh)
    synth.restart()
    synth.render(presets[:3])
    b = synth.render(sh[::-1])[::-1].copy()
    cfg = FeatureConfig()
    per_voice = np.abs(log_mel(a, cfg) - log_mel(b, cfg)).reshape(len(sh), -1).mean(1)
    assert np.median(per_voice) < 2.0 and per_voice.max() < 25.0, per_voice


@needs_dexed
@pytest.mark.slow
def test_dataset_is_the_same_with_one_or_two_workers(tmp_path: Path) -> None:
    from bridge.data.dataset import read_shard
    from bridge.data.render import RenderSettings, parse_notes, render_dataset

    settings = RenderSettings(synth="dexed", n_presets=18, shard_size=6, sampling="natural",
                              notes=tuple(parse_notes("48,60:80")), presets_from=str(CARTS))
    runs = {}
    for workers in (1, 2):
        runs[workers] = render_dataset(settings, tmp_path / f"w{workers}", workers=workers,
                                       progress=False)
    assert runs[1]["counts"] == runs[2]["counts"]
    spec = dx.DexedSynth(PLUGIN).spec
    for s1, s2 in zip(runs[1]["shards"], runs[2]["shards"], strict=True):
        a, b = read_shard(tmp_path / "w1" / s1["file"]), read_shard(tmp_path / "w2" / s2["file"])
        assert np.array_equal(a["params"], b["params"]) and a["mels"].shape[1] == 2
        same = [np.array_equal(a["mels"][i], b["mels"][i]) for i in range(len(a["params"]))]
        for i, ok in enumerate(same):
            assert ok or _sh_audible(spec, a["params"][i]), (s1["file"], i)
        if all(same):
            assert s1["sha256"] == s2["sha256"]


@needs_dexed
def test_cartridge_folder_errors_reach_the_render(tmp_path: Path) -> None:
    from bridge.data.render import RenderSettings, render_dataset

    (tmp_path / "carts").mkdir()
    (tmp_path / "carts" / "broken.syx").write_bytes(bytes(100))
    settings = RenderSettings(synth="dexed", n_presets=2, sampling="natural",
                              presets_from=str(tmp_path / "carts"))
    with pytest.raises(CartridgeError, match=r"broken\.syx: 100 bytes"):
        render_dataset(settings, tmp_path / "out", progress=False)


@needs_dexed
def test_no_dexed_data_in_the_users_home(tmp_path: Path) -> None:
    # Dexed unpacks its cartridges into $XDG_DATA_HOME (~/.local/share by default) on load.
    home = tmp_path / "home"
    home.mkdir()
    code = ("from bridge.synth.dexed import DexedSynth; import numpy as np; "
            f"s = DexedSynth({str(PLUGIN)!r}); s.render(s.spec.defaults()[None])")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run([str(Path(__import__("sys").executable)), "-c", code], cwd=ROOT, env=env,
                   check=True, timeout=120)
    assert not any(home.rglob("*")), sorted(home.rglob("*"))


def test_missing_plugin_says_how_to_point_at_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(dx.ENV_VAR, str(tmp_path / "nowhere" / "Dexed.vst3"))
    with pytest.raises(dx.DexedNotFound, match="FLOWSYNTH_DEXED.*no such file"):
        dx.find_plugin()
    monkeypatch.delenv(dx.ENV_VAR)
    monkeypatch.setattr(dx, "standard_locations", lambda: [tmp_path / "a" / "Dexed.vst3"])
    monkeypatch.setattr(dx, "REPO_PLUGIN", tmp_path / "b" / "Dexed.vst3")
    with pytest.raises(dx.DexedNotFound, match=r"--plugin PATH/Dexed\.vst3 or FLOWSYNTH") as e:
        dx.find_plugin()
    assert str(e.value).index("FLOWSYNTH_DEXED") < 200  # before the folders: servers cut


# --- the devices' name matching on Dexed's real names ---------------------------------------
@needs_dexed
@pytest.mark.skipif(NODE is None, reason="needs node (apt-get install nodejs)")
def test_device_javascript_maps_every_learned_parameter(synth, tmp_path: Path) -> None:
    # Live shows a VST3 plugin's parameters under the plugin's names, each 0..1: the Macros
    # device's own matching (flowsynth.js under node) must find every model parameter there,
    # and a one-shot /params reply must set each to the value sent.
    plugin_params = [{"name": str(q.name)} for q in synth.plugin.parameters.values()]
    values = np.round(np.random.default_rng(1).random(len(synth.spec)), 6).tolist()
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"names": synth.spec.names, "targets": plugin_params,
                                "values": values}))
    r = subprocess.run([NODE, "tests/js/dexed_names.js", str(case)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "matched 144/144 in Diva (16 past 128 follow Explore/sketch only)"
    for i, name in enumerate(synth.spec.names):
        assert out["matched"][i] == name  # the same-named plugin parameter, not a loose one
        assert abs(out["set"][name] - values[i]) < 1e-9
