"""Building a Max patcher as data: boxes, patch cords, Live parameters, Push banks.

Box ids are given in creation order ("obj-1", "obj-2", ...) so the same source always gives
the same bytes. Inlet and outlet counts come from ``objects`` (or the [js] file's own
declarations), so a box the allow-list does not know cannot even be built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.maxpat import objects

Rect = tuple[float, float, float, float]
APPVERSION = {"major": 8, "minor": 5, "revision": 5, "architecture": "x64", "modernui": 1}


class Patcher:
    def __init__(self, *, device_width: float | None = None, js_dir: Path | None = None,
                 rect: Rect = (100.0, 100.0, 1200.0, 800.0)) -> None:
        self.boxes: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.device_width = device_width
        self.js_dir = js_dir
        self.rect = rect
        self.params: dict[str, list[Any]] = {}
        self.banks: list[tuple[str, list[str]]] = []
        self.js_files: list[str] = []

    # -- boxes ------------------------------------------------------------------------
    def _add(self, box: dict[str, Any]) -> str:
        box["id"] = f"obj-{len(self.boxes) + 1}"
        self.boxes.append({"box": box})
        return box["id"]

    def obj(self, text: str, x: float, y: float, width: float | None = None,
            **attrs: Any) -> str:
        """An object box, e.g. ``obj("udpsend 127.0.0.1 9123", 10, 10)``."""
        if text.split()[0] == "js":
            js_file = text.split()[1]
            source = (self.js_dir / js_file).read_text(encoding="utf-8") if self.js_dir else ""
            n_in, n_out = objects.js_counts(source)
            if js_file not in self.js_files:
                self.js_files.append(js_file)
        else:
            counts = objects.counts_for("newobj", text)
            if counts is None:
                raise ValueError(f"[{text}] is not on the allow-list of Max's own objects")
            n_in, n_out = counts
        w = width if width is not None else max(40.0, 7.0 * len(text) + 14)
        box = {"maxclass": "newobj", "text": text, "numinlets": n_in, "numoutlets": n_out,
               "outlettype": [""] * n_out, "patching_rect": [float(x), float(y), w, 22.0]}
        box.update(attrs)
        return self._add(box)

    def ui(self, maxclass: str, x: float, y: float, w: float, h: float,
           present: Rect | None = None, **attrs: Any) -> str:
        counts = objects.counts_for(maxclass, "")
        if counts is None:
            raise ValueError(f"{maxclass} is not on the allow-list of Max's own objects")
        box = {"maxclass": maxclass, "numinlets": counts[0], "numoutlets": counts[1],
               "outlettype": [""] * counts[1], "patching_rect": [float(x), float(y), w, h]}
        if present is not None:
            box["presentation"] = 1
            box["presentation_rect"] = [float(v) for v in present]
        box.update(attrs)
        return self._add(box)

    def msg(self, text: str, x: float, y: float, **attrs: Any) -> str:
        return self.ui("message", x, y, max(40.0, 7.0 * len(text) + 14), 22.0, text=text,
                       **attrs)

    def comment(self, text: str, x: float, y: float, w: float = 200.0,
                present: Rect | None = None, **attrs: Any) -> str:
        return self.ui("comment", x, y, w, 20.0, present, text=text, **attrs)

    def param(self, maxclass: str, x: float, y: float, w: float, h: float, present: Rect,
              *, longname: str, shortname: str, kind: str = "float", lo: float = 0.0,
              hi: float = 1.0, initial: float = 0.0, enum: list[str] | None = None,
              unitstyle: int = 1, hidden: bool = False, **attrs: Any) -> str:
        """A live.* object that is a Live parameter: automatable, saved with the set, on Push.
        ``hidden`` keeps it out of automation (stored only), for set-up values like ports."""
        types = {"float": 0, "int": 1, "enum": 2}
        valueof: dict[str, Any] = {
            "parameter_longname": longname, "parameter_shortname": shortname,
            "parameter_type": types[kind], "parameter_mmin": float(lo), "parameter_mmax": float(hi),
            "parameter_initial_enable": 1, "parameter_initial": [initial],
            "parameter_unitstyle": unitstyle,
        }
        if enum is not None:
            valueof["parameter_enum"] = list(enum)
            valueof["parameter_mmax"] = float(len(enum) - 1)
        if hidden:
            valueof["parameter_invisible"] = 1
        box_id = self.ui(maxclass, x, y, w, h, present, parameter_enable=1, varname=longname,
                         saved_attribute_attributes={"valueof": valueof}, **attrs)
        self.params[box_id] = [longname, shortname, 0]
        return box_id

    def stored(self, varname: str, x: float, y: float, *, longname: str,
               shortname: str) -> str:
        """A [pattr] whose value Live keeps with the set (a blob parameter, stored only: never
        automated, never on Push), for set-up choices such as a folder or a target device."""
        box_id = self.obj(f"pattr {varname}", x, y, 150, parameter_enable=1, varname=varname,
                          saved_attribute_attributes={"valueof": {
                              "parameter_longname": longname, "parameter_shortname": shortname,
                              "parameter_type": 3, "parameter_invisible": 1}})
        self.params[box_id] = [longname, shortname, 0]
        return box_id

    def bank(self, name: str, longnames: list[str]) -> None:
        """A Push bank of up to 8 parameters; the first bank is what Push shows first."""
        if len(longnames) > 8:
            raise ValueError(f"a Push bank holds 8 parameters, not {len(longnames)}")
        self.banks.append((name, longnames + ["-"] * (8 - len(longnames))))

    # -- cords ------------------------------------------------------------------------
    def connect(self, src: str, outlet: int, dst: str, inlet: int = 0) -> None:
        self.lines.append({"patchline": {"destination": [dst, inlet], "source": [src, outlet]}})

    def chain(self, *ids: str) -> None:
        """Left outlet to left inlet, down a column."""
        for a, b in zip(ids, ids[1:], strict=False):
            self.connect(a, 0, b, 0)

    # -- document ---------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        p: dict[str, Any] = {
            "fileversion": 1, "appversion": APPVERSION, "classnamespace": "box",
            "rect": list(self.rect), "openinpresentation": 1, "default_fontsize": 10.0,
            "default_fontface": 0, "default_fontname": "Arial", "gridonopen": 1,
            "gridsize": [8.0, 8.0], "gridsnaponopen": 1, "toolbarvisible": 1,
            "description": "", "digest": "", "tags": "", "style": "",
        }
        if self.device_width is not None:
            p["devicewidth"] = float(self.device_width)
        p["boxes"] = self.boxes
        p["lines"] = self.lines
        params: dict[str, Any] = dict(self.params)
        if self.banks:
            params["parameterbanks"] = {
                str(i): {"index": i, "name": name, "parameters": names}
                for i, (name, names) in enumerate(self.banks)}
        if params:
            params["inherited_shortname"] = 1
            p["parameters"] = params
        # Not frozen: Max finds the [js] file beside the device (patcherrelativepath ".").
        p["dependency_cache"] = [{"name": f, "patcherrelativepath": ".", "type": "TEXT",
                                  "implicit": 1} for f in self.js_files]
        p["autosave"] = 0
        return {"patcher": p}
