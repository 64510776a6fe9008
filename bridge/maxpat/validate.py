"""Check a .amxd or .maxpat without Max: container, JSON, boxes, cords, objects, parameters.

``python -m bridge.maxpat.validate FILE...`` prints every problem and exits 1 if there is one.
What it checks:
- .amxd: the ampf/meta/ptch chunks and their little-endian lengths (``amxd.read_amxd``);
- the patcher JSON: unique box ids; every patch cord between existing boxes, from an outlet
  and into an inlet the boxes have; declared inlet/outlet counts equal to the allow-list's;
- only Max's own objects (``objects``), and [js] files that exist beside the patch;
- every live.* parameter: a unique long name, a short name, a range and an initial value
  inside it (menus: their items);
- every parameter (live.* objects and anything with parameter_enable, such as a stored
  [pattr]) listed in the patcher's ``parameters`` map under its own long name: Live saves
  only what that map lists;
- Push banks naming existing parameters, 8 slots each, none of them hidden from automation;
  a device with automatable parameters has at least one bank;
- a device: opens in presentation, has a width, every presented box inside width x 169 px.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bridge.maxpat import amxd, objects

DEVICE_HEIGHT = 169.0  # Live's device view height, in Max pixels


def load(path: Path) -> tuple[dict[str, Any], str | None]:
    """(document, device type or None for a .maxpat); raises ValueError saying what is wrong."""
    data = path.read_bytes()
    if path.suffix == ".amxd":
        dev = amxd.read_amxd(data)
        return dev.patcher, dev.device_type
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not UTF-8 JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("patcher"), dict):
        raise ValueError("the JSON has no 'patcher' object")
    return doc, None


def _box_counts(box: dict[str, Any], js_dir: Path, errors: list[str]) -> tuple[int, int] | None:
    cls, text = box.get("maxclass", ""), str(box.get("text", ""))
    if cls == "newobj" and text.split()[:1] == ["js"]:
        words = text.split()
        if len(words) < 2 or not (js_dir / words[1]).is_file():
            errors.append(f"{box.get('id')}: [{text}] needs its file beside the patch")
            return None
        return objects.js_counts((js_dir / words[1]).read_text(encoding="utf-8"))
    counts = objects.counts_for(cls, text)
    if counts is None:
        what = f"[{text}]" if cls == "newobj" else cls
        errors.append(f"{box.get('id')}: {what} is not one of Max's own objects on the allow-list")
    return counts


def _claim_longname(
    bid: Any, v: dict[str, Any], longnames: dict[str, str], errors: list[str], what: str
) -> Any:
    """Record the box's long name, reporting a missing or repeated one; returns the name."""
    name = v.get("parameter_longname")
    if not name:
        errors.append(f"{bid}: {what} without a long name")
    elif name in longnames:
        errors.append(f"{bid}: long name {name!r} already used by {longnames[name]}")
    else:
        longnames[name] = bid
    return name


def _check_parameter(box: dict[str, Any], longnames: dict[str, str], errors: list[str]) -> None:
    bid = box.get("id")
    if box.get("parameter_enable") != 1:
        errors.append(f"{bid}: {box['maxclass']} is not a Live parameter (parameter_enable)")
        return
    v = box.get("saved_attribute_attributes", {}).get("valueof", {})
    stored = v.get("parameter_type") == 3  # blob (a stored pattr): a name, no range or default
    name = _claim_longname(bid, v, longnames, errors, "stored parameter" if stored else "parameter")
    if stored:
        return
    if not v.get("parameter_shortname"):
        errors.append(f"{bid}: parameter {name!r} without a short name")
    lo, hi = v.get("parameter_mmin"), v.get("parameter_mmax")
    enum = v.get("parameter_enum")
    if v.get("parameter_type") == 2:
        if not enum or len(enum) < 2:
            errors.append(f"{bid}: menu parameter {name!r} needs at least 2 items")
        else:
            lo, hi = 0.0, float(len(enum) - 1)
    if not isinstance(lo, int | float) or not isinstance(hi, int | float) or not lo < hi:
        errors.append(f"{bid}: parameter {name!r} has no range (min {lo}, max {hi})")
        return
    init = v.get("parameter_initial")
    if v.get("parameter_initial_enable") != 1 or not isinstance(init, list) or len(init) != 1:
        errors.append(f"{bid}: parameter {name!r} has no default (parameter_initial)")
    elif not lo <= init[0] <= hi:
        errors.append(f"{bid}: parameter {name!r} default {init[0]} outside [{lo}, {hi}]")


def _valueof(box: dict[str, Any]) -> dict[str, Any]:
    return box.get("saved_attribute_attributes", {}).get("valueof", {})


def validate_doc(doc: dict[str, Any], js_dir: Path, device: bool) -> list[str]:
    p = doc["patcher"]
    errors: list[str] = []
    boxes: dict[str, dict[str, Any]] = {}
    counts: dict[str, tuple[int, int]] = {}
    longnames: dict[str, str] = {}
    for entry in p.get("boxes", []):
        box = entry.get("box", {})
        bid = box.get("id")
        if not bid or bid in boxes:
            errors.append(f"box id {bid!r} missing or repeated")
            continue
        boxes[bid] = box
        c = _box_counts(box, js_dir, errors)
        if c is not None:
            counts[bid] = c
            declared = (box.get("numinlets"), box.get("numoutlets"))
            if declared != c:
                errors.append(f"{bid}: declares {declared[0]} inlets/{declared[1]} outlets, "
                              f"{box.get('text', box.get('maxclass'))} has {c[0]}/{c[1]}")
        if box.get("maxclass") in objects.LIVE_PARAMETERS or box.get("parameter_enable") == 1:
            _check_parameter(box, longnames, errors)
    for entry in p.get("lines", []):
        line = entry.get("patchline", {})
        (src, out), (dst, inl) = line.get("source", [None, 0]), line.get("destination", [None, 0])
        for end, port, side in ((src, out, 1), (dst, inl, 0)):
            if end not in boxes:
                errors.append(f"cord {src}:{out} -> {dst}:{inl} touches a missing box {end}")
            elif end in counts and not 0 <= port < counts[end][side]:
                kind = "outlet" if side else "inlet"
                errors.append(f"cord {src}:{out} -> {dst}:{inl}: {end} has no {kind} {port}")
    params = p.get("parameters", {})
    for key in params:
        if key.startswith("obj-") and key not in boxes:
            errors.append(f"parameters lists {key}, which is not a box")
    for name, bid in longnames.items():
        entry = params.get(bid)
        if not isinstance(entry, list) or not entry:
            errors.append(f"{bid}: parameter {name!r} is missing from the patcher's parameters "
                          "map, so Live would not save it; rebuild the device")
        elif entry[0] != name:
            errors.append(f"{bid}: parameters map calls it {entry[0]!r}, the box {name!r}")
    banks = params.get("parameterbanks", {})
    for key, bank in banks.items():
        names = bank.get("parameters", [])
        if len(names) != 8:
            errors.append(f"Push bank {key} has {len(names)} slots, not 8")
        for n in names:
            if n != "-" and n not in longnames:
                errors.append(f"Push bank {key} names {n!r}, which is no parameter")
            elif n != "-" and _valueof(boxes[longnames[n]]).get("parameter_invisible", 0):
                errors.append(f"Push bank {key} holds {n!r}, which is hidden from automation "
                              "(Push cannot show it): make it automatable or take it out")
    visible = [n for n, bid in longnames.items()
               if not _valueof(boxes[bid]).get("parameter_invisible", 0)]
    if device and visible and not banks:
        errors.append(f"a device with automatable parameters ({', '.join(visible[:3])}...) "
                      "needs Push banks (parameterbanks); without them Push guesses")
    if device:
        width = p.get("devicewidth")
        if p.get("openinpresentation") != 1:
            errors.append("a device must open in presentation mode")
        if not isinstance(width, int | float) or width <= 0:
            errors.append("a device needs a devicewidth")
        else:
            for bid, box in boxes.items():
                if box.get("presentation") != 1:
                    continue
                x, y, w, h = box.get("presentation_rect", [0, 0, 0, 0])
                if x < 0 or y < 0 or x + w > width + 0.01 or y + h > DEVICE_HEIGHT + 0.01:
                    errors.append(f"{bid}: presented at {[x, y, w, h]}, outside the device's "
                                  f"{width:g} x {DEVICE_HEIGHT:g}")
    return errors


def validate_file(path: Path) -> list[str]:
    """Every problem with one file, as readable lines; empty when it is sound."""
    try:
        doc, kind = load(path)
    except (ValueError, OSError) as e:
        return [f"{path.name}: {e}"]
    return [f"{path.name}: {e}" for e in validate_doc(doc, path.parent, device=kind is not None)]


def main(argv: list[str] | None = None) -> int:
    problems = [e for f in (argv if argv is not None else sys.argv[1:])
                for e in validate_file(Path(f))]
    print("\n".join(problems) if problems else "ok")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
