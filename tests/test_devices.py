"""The Max for Live devices and Max patches: rebuilt byte for byte from their source, and
sound by the validator's rules (container, JSON, cords, objects, parameters, Push, layout)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.maxpat import amxd, objects, validate

ROOT = Path(__file__).resolve().parent.parent
MACROS = ROOT / "m4l_devices" / "FlowSynth Macros.amxd"
SKETCH = ROOT / "m4l_devices" / "FlowSynth Sketch.amxd"
PATCHES = [ROOT / "max_patches" / "flowsynth.maxpat",
           ROOT / "max_patches" / "flowsynth-test.maxpat"]
ALL = [MACROS, SKETCH, *PATCHES]
JS = ROOT / "m4l_devices" / "flowsynth.js"


def test_build_is_byte_identical_to_checked_in_files() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import build_devices

    built = build_devices.build_all()
    assert set(ALL) <= set(built)
    for path, data in built.items():
        assert path.read_bytes() == data, f"{path.name} is stale: run scripts/build_devices.py"
    # twice gives the same bytes (no dict order, time or machine in the output)
    assert build_devices.build_all() == built


def test_build_script_check_mode() -> None:
    r = subprocess.run([sys.executable, "scripts/build_devices.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_file_validates(path: Path) -> None:
    assert validate.validate_file(path) == []


def test_amxd_layout_and_device_types() -> None:
    for path, tag in ((MACROS, b"mmmm"), (SKETCH, b"aaaa")):
        data = path.read_bytes()
        assert data[:4] == b"ampf" and int.from_bytes(data[4:8], "little") == 4
        assert data[8:12] == tag
        assert data[12:16] == b"meta" and int.from_bytes(data[16:20], "little") == 4
        assert data[24:28] == b"ptch"
        assert int.from_bytes(data[28:32], "little") == len(data) - 32
        assert data[-1:] == b"\x00"
        json.loads(data[32:-1])


def _doc(path: Path) -> dict:
    return amxd.read_amxd(path.read_bytes()).patcher


def _boxes(doc: dict) -> list[dict]:
    return [b["box"] for b in doc["patcher"]["boxes"]]


def test_macros_device_push_bank_and_dials() -> None:
    doc = _doc(MACROS)
    p = doc["patcher"]
    bank0 = p["parameters"]["parameterbanks"]["0"]["parameters"]
    assert bank0 == [f"Macro {k}" for k in range(1, 9)]
    dials = {b["saved_attribute_attributes"]["valueof"]["parameter_longname"]: b
             for b in _boxes(doc) if b["maxclass"] == "live.dial"}
    for k in range(1, 9):
        v = dials[f"Macro {k}"]["saved_attribute_attributes"]["valueof"]
        assert (v["parameter_mmin"], v["parameter_mmax"]) == (0.0, 1.0)
        assert v.get("parameter_invisible", 0) == 0  # automatable
    assert p["openinpresentation"] == 1 and p["devicewidth"] > 0
    texts = [b.get("text", "") for b in _boxes(doc)]
    assert sum(t == "live.remote~" for t in texts) == 128
    assert "midiin" in texts and "midiout" in texts  # notes still reach the synth
    assert any(t.startswith("js flowsynth.js macros") for t in texts)


def test_target_choice_and_folder_are_stored_with_the_set() -> None:
    for path, varname, longname in ((MACROS, "flowsynth_target", "Target Device"),
                                    (SKETCH, "flowsynth_folder", "Sketch Folder")):
        p = _doc(path)["patcher"]
        box = next(b for b in _boxes({"patcher": p}) if b.get("varname") == varname)
        v = box["saved_attribute_attributes"]["valueof"]
        assert box["parameter_enable"] == 1 and v["parameter_type"] == 3  # blob: stored
        assert v["parameter_invisible"] == 1  # stored only, never automated
        assert p["parameters"][box["id"]][0] == longname  # Live saves what the map lists


def test_model_menu_and_completion_bangs_are_wired() -> None:
    for path in (MACROS, PATCHES[0]):
        doc = amxd.read_amxd(path.read_bytes()).patcher if path.suffix == ".amxd" else \
            json.loads(path.read_text())
        assert any(b.get("varname") == "model_menu" for b in _boxes(doc)), path.name
    doc = _doc(SKETCH)
    boxes = {b["id"]: b for b in _boxes(doc)}
    cords = [(ln["patchline"]["source"], ln["patchline"]["destination"])
             for ln in doc["patcher"]["lines"]]

    def fed_by(text: str, outlet: int) -> set[str]:
        return {boxes[d[0]].get("text") for s, d in cords
                if boxes[s[0]].get("text", "").startswith(text) and s[1] == outlet}
    assert "written" in fed_by("buffer~", 1)  # the take is sent once it is on disk
    assert "played" in fed_by("play~", 1)  # the Play button resets at the end
    test = json.loads(PATCHES[1].read_text())
    assert any(b.get("text") == "deferlow" for b in _boxes(test))  # pings when opened


def test_sketch_device_records_and_sends() -> None:
    texts = [b.get("text", "") for b in _boxes(_doc(SKETCH))]
    assert any(t.startswith("buffer~ ---") for t in texts)  # unique per device instance
    assert any(t.startswith("record~ ---") for t in texts)
    assert "plugin~" in texts and "plugout~" in texts


def test_no_machine_specific_paths() -> None:
    for path in ALL:
        text = path.read_bytes().decode("utf-8", "replace")
        for bad in ("/Users/", "C:\\\\", "C:/", "/home/", "Macintosh HD"):
            assert bad not in text, f"{path.name} hard-codes {bad}"


def test_js_is_es5_and_patches_have_its_copy() -> None:
    src = JS.read_text()
    code = re.sub(r"//.*", "", src)
    for pattern in (r"\blet\s", r"\bconst\s", r"=>", r"`", r"\bclass\s", r"\.\.\.[A-Za-z_$\[(]"):
        assert not re.search(pattern, code), f"flowsynth.js uses {pattern!r}: not ES5"
    assert (ROOT / "max_patches" / "flowsynth.js").read_bytes() == JS.read_bytes()
    assert objects.js_counts(src) == (2, 6)


# -- the validator catches what it claims to -------------------------------------------

def _errors(doc: dict, device: bool = True) -> list[str]:
    return validate.validate_doc(doc, JS.parent, device)


def test_validator_catches_broken_patches() -> None:
    good = _doc(MACROS)
    assert _errors(good) == []

    def broken(edit) -> list[str]:
        d = copy.deepcopy(good)
        edit(d["patcher"])
        return _errors(d)

    boxes = lambda p: [b["box"] for b in p["boxes"]]  # noqa: E731
    assert any("missing box" in e for e in broken(
        lambda p: p["lines"].append({"patchline": {"source": ["obj-1", 0],
                                                   "destination": ["obj-999", 0]}})))
    assert any("no outlet" in e for e in broken(
        lambda p: p["lines"].append({"patchline": {"source": ["obj-1", 9],
                                                   "destination": ["obj-2", 0]}})))
    assert any("allow-list" in e for e in broken(
        lambda p: boxes(p)[1].update(text="mxj net.udp.send", maxclass="newobj")))
    assert any("repeated" in e for e in broken(
        lambda p: boxes(p)[2].update(id=boxes(p)[1]["id"])))
    dials = lambda p: [b for b in boxes(p) if b["maxclass"] == "live.dial"]  # noqa: E731
    assert any("already used" in e for e in broken(
        lambda p: dials(p)[1]["saved_attribute_attributes"]["valueof"].update(
            parameter_longname="Macro 1")))
    assert any("no range" in e for e in broken(
        lambda p: dials(p)[0]["saved_attribute_attributes"]["valueof"].update(parameter_mmax=0.0)))
    assert any("default" in e for e in broken(
        lambda p: dials(p)[0]["saved_attribute_attributes"]["valueof"].pop("parameter_initial")))
    assert any("outside the device" in e for e in broken(
        lambda p: dials(p)[0].update(presentation_rect=[540.0, 24.0, 44.0, 48.0])))
    assert any("Push bank" in e for e in broken(
        lambda p: p["parameters"]["parameterbanks"]["0"]["parameters"].__setitem__(0, "Nope")))
    assert any("declares" in e for e in broken(lambda p: boxes(p)[0].update(numoutlets=1)))

    # holes an audit found: each broken variant must fail
    def drop_dial_from_map(p) -> None:
        del p["parameters"][dials(p)[3]["id"]]
    assert any("parameters map" in e for e in broken(drop_dial_from_map))
    assert any("hidden from automation" in e for e in broken(
        lambda p: dials(p)[0]["saved_attribute_attributes"]["valueof"].update(
            parameter_invisible=1)))
    assert any("needs Push banks" in e for e in broken(
        lambda p: p["parameters"].pop("parameterbanks")))

    def drop_pattr(p) -> None:
        stored = next(b for b in boxes(p) if b.get("text", "").startswith("pattr"))
        del p["parameters"][stored["id"]]
    assert any("parameters map" in e for e in broken(drop_pattr))
    sketch = _doc(SKETCH)
    assert _errors(sketch) == []
    for b in _boxes(sketch):
        if b.get("varname") == "flowsynth_folder":
            del sketch["patcher"]["parameters"][b["id"]]
    assert any("Sketch Folder" in e for e in _errors(sketch))


def test_object_counts_match_what_max_saves() -> None:
    # as Max 8 writes them into saved patchers (numinlets/numoutlets)
    assert objects.counts_for("newobj", "plugin~") == (2, 2)
    assert objects.counts_for("newobj", "sfplay~ 1") == (2, 2)
    assert objects.counts_for("newobj", "play~ buf 1") == (1, 2)
    assert objects.counts_for("newobj", "play~ buf 2") == (1, 3)
    assert objects.counts_for("newobj", "record~ buf 1") == (3, 1)
    assert objects.counts_for("newobj", "record~ buf 2") == (4, 1)
    assert objects.counts_for("newobj", "buffer~ b 8000 1") == (1, 2)
    assert objects.counts_for("newobj", "pattr x") == (1, 3)
    assert objects.counts_for("newobj", "conformpath slash boot") == (1, 2)
    assert objects.counts_for("newobj", "opendialog fold") == (1, 2)
    assert objects.counts_for("newobj", "route a b c") == (4, 4)


def test_validator_reads_chunks_strictly(tmp_path: Path) -> None:
    data = MACROS.read_bytes()
    cases = {"short.amxd": data[:20], "len.amxd": data[:-5],
             "tag.amxd": data[:8] + b"xxxx" + data[12:],
             "json.amxd": data[:32] + b"{" + data[33:]}
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        assert validate.validate_file(tmp_path / name), name
    with pytest.raises(amxd.AmxdError):
        amxd.write_amxd({"patcher": {}}, "drum-rack")
    round_trip = amxd.read_amxd(amxd.write_amxd({"patcher": {"boxes": []}}, "instrument"))
    assert round_trip.device_type == "instrument"
