"""Any VST3 instrument as a flowsynth synth, hosted by pedalboard.

The parameter spec is read from the plugin. Each parameter is first turned into a plain
description dict (:func:`describe_parameters`); everything after that is the pure function
:func:`spec_from_parameter_descriptions`, testable without a plugin. A description holds:

``name``        the plugin's own parameter name (required)
``label``       its unit text ("Hz", "dB", ...), "" when none
``discrete``    True when the plugin declares a number of steps; ``steps`` is that number
``boolean``     True for on/off switches
``values``      the display text of each step of a discrete parameter, in raw-value order
``range_text``  display texts at raw values 0, 0.5 and 1 (continuous parameters)
``default``     the raw value in [0, 1] a freshly loaded instance holds
``automatable`` False for parameters a host must not automate; ``meta`` True for macros

Kinds. A boolean, or a discrete parameter whose step texts are not all plain numbers (with
a unit), becomes categorical, its categories the step texts. A discrete parameter with
numeric texts is numerical with ``steps``. A continuous parameter is numerical; its real
range and unit come from the display texts when the text at 0.5 shows a linear or
exponential curve, otherwise it is described as 0..1 with the display range noted in
``description``. Whatever the kind, a parameter's normalized value *is* the plugin's raw
value (VST3 puts step k of n at k / (n - 1), as the spec does), so hosts such as Live can
apply the protocol's values unchanged.

Parameters left out (the skip rule): an empty name; "Bypass"/"Soft Bypass"; "Program",
"Preset" or "Program Change" (host-side program selection); the "MIDI CC <n>|<m>"
placeholders some plugins add for each MIDI controller; parameters not automatable or marked
meta (macros that move other parameters would fight the values set for them); and parameters
with fewer than two distinct values. Skipped parameters are never touched when rendering.

Names. Spec names must be unique and space-free for the OSC protocol: accents are dropped,
every run of characters other than letters, digits and ``_ - . +`` becomes ``_``, and a
repeated name gets ``_2``, ``_3``... The plugin's own name is kept in ``description`` and in
:attr:`VST3Synth.plugin_names`.

Configuration (TOML, all keys optional; see docs/vst3.md)::

    plugin_name = "Synth A"          # which plugin of a multi-plugin bundle
    learn = ["Cutoff", "Resonance"]  # learn only these (default: every kept parameter)
    [subsets]
    filter = ["Cutoff", "Resonance"]
    [fixed]                          # set before every render, left out of the spec
    "Volume" = 0.8                   # numbers are normalized values in [0, 1]
    "Osc 1 Wave" = "Saw"             # strings are step texts (category names)
    "Unison" = true                  # booleans for on/off switches

Parameters neither learned, fixed nor skipped are held at the plugin's default.

Pins. The config resolved to spec names and raw values (:attr:`PluginPlan.pins`) is kept in
the synth's name, ``vst3:/abs/path/X.vst3#{...}`` (:func:`synth_identifier`): datasets and
models store that name, so they rebuild the pinned synth without the TOML file.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bridge.synth.base import PAPER_NOTE, Note, Synth
from bridge.synth.spec import Param, ParamSpec, SpecError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser is on PyPI as tomli
    import tomli as tomllib

# Step texts are read one by one; a "discrete" parameter with more steps is in effect
# continuous, and reading thousands of texts would slow loading for nothing.
MAX_LISTED_STEPS = 1024
RENDER_BUFFER_SIZE = 512
CONFIG_KEYS = ("plugin_name", "learn", "subsets", "fixed")

_SKIP_NAMES = [
    (re.compile(r"^\s*(soft\s*)?bypass\s*$", re.I), "bypass"),
    (re.compile(r"^\s*(program|programs|preset|program\s*change)\s*$", re.I), "program selection"),
    (re.compile(r"^\s*MIDI CC\b", re.I), "MIDI CC placeholder"),
]
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([^\d\s]{0,8})\s*$")
# Units some plugins switch between across one range ("900 ms" then "1.2 s").
_UNIT_BASE = {"hz": ("Hz", 1.0), "khz": ("Hz", 1e3), "ms": ("s", 1e-3), "s": ("s", 1.0),
              "sec": ("s", 1.0)}


class VST3Error(SpecError):
    """A plugin or its configuration cannot be used; the message says what to do."""


# --- from descriptions to a spec (pure) --------------------------------------------------------
@dataclass(frozen=True)
class PluginPlan:
    """What a VST3Synth needs: the spec and how each value reaches the plugin."""

    spec: ParamSpec
    plugin_names: tuple[str, ...]  # the plugin's name of each spec parameter, in spec order
    learned: tuple[int, ...]  # the description index of each spec parameter
    # Description index -> raw value set before every render: [fixed] values, and the
    # defaults of parameters neither learned, fixed nor skipped.
    fixed: dict[int, float] = field(default_factory=dict)
    held: dict[int, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # plugin name -> why
    # The config resolved to spec names and raw values: build_plan(pins) gives this plan
    # again, with no TOML file. It travels in the synth's name (see synth_identifier).
    pins: dict = field(default_factory=dict)


# JUCE lets only the thread that first made a plugin (its message thread) make another, and
# pedalboard's reset=True re-makes some plugins before each render. Which thread asks first
# differs (the server's worker, a test's main thread), so every load and render of this
# process runs on one thread of its own; so does reading parameter texts, which the plugin
# updates on that thread.
_plugin_thread: ThreadPoolExecutor | None = None
_plugin_thread_lock = threading.Lock()


def on_plugin_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on the process's plugin thread (at once if already on it)."""
    global _plugin_thread
    if threading.current_thread().name.startswith("flowsynth-plugin"):
        return fn(*args, **kwargs)
    with _plugin_thread_lock:
        if _plugin_thread is None:
            _plugin_thread = ThreadPoolExecutor(1, thread_name_prefix="flowsynth-plugin")
    return _plugin_thread.submit(fn, *args, **kwargs).result()


def render_notes(plugin: Any, set_preset, norm: np.ndarray, note: Note, sample_rate: int,
                 buffer_size: int) -> np.ndarray:
    """[B, N] snapped presets -> [B, T] float32 mono renders of one note through a plugin,
    each preset set by ``set_preset`` and played from a reset instance (released voices and
    running phases must not reach the next preset)."""
    return on_plugin_thread(_render_notes, plugin, set_preset, norm, note, sample_rate,
                            buffer_size)


def _render_notes(plugin: Any, set_preset, norm: np.ndarray, note: Note, sample_rate: int,
                  buffer_size: int) -> np.ndarray:
    n = int(round(note.duration * sample_rate))
    midi = [
        (bytes([0x90, note.pitch, note.velocity]), 0.0),
        (bytes([0x80, note.pitch, 0]), float(note.held)),
    ]
    out = np.zeros((len(norm), n), dtype=np.float32)
    for b, preset in enumerate(norm):
        set_preset(preset)
        audio = np.asarray(plugin(
            midi, duration=float(note.duration), sample_rate=float(sample_rate),
            num_channels=2, buffer_size=buffer_size, reset=True,
        ), dtype=np.float32)
        mono = audio.mean(axis=0) if audio.ndim == 2 else audio
        m = min(n, mono.shape[-1])
        # A plugin that blows up must not poison a dataset with NaN.
        out[b, :m] = np.nan_to_num(mono[:m], nan=0.0, posinf=0.0, neginf=0.0)
    return out


def skip_reason(d: Mapping[str, Any]) -> str | None:
    """Why a described parameter is not learned (the rule in the module doc), or None."""
    name = str(d.get("name", "")).strip()
    if not name:
        return "no name"
    for pattern, why in _SKIP_NAMES:
        if pattern.match(name):
            return why
    if not d.get("automatable", True):
        return "not automatable"
    if d.get("meta", False):
        return "meta parameter"
    return None


def sanitize_name(name: str, fallback: str = "param") -> str:
    """A protocol-safe name: ASCII letters, digits and ``_ - . +``, no spaces."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^0-9A-Za-z_.+\-]+", "_", ascii_name).strip("_")
    return s or fallback


def _parse_number(text: str, label: str) -> tuple[float, str] | None:
    t = str(text).strip()
    m = _NUMBER.match(t)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2) or label.strip()
    return (value, unit) if math.isfinite(value) else None


def _parse_numbers(texts: Sequence[str], label: str) -> tuple[list[float], str] | None:
    """Numbers shown by ``texts`` in one unit, or None when they are not all numbers."""
    parsed = [_parse_number(t, label) for t in texts]
    if not parsed or any(p is None for p in parsed):
        return None
    units = {p[1] for p in parsed}
    if len(units) == 1:
        return [p[0] for p in parsed], units.pop()
    bases = {_UNIT_BASE.get(u.lower(), (None, 0))[0] for u in units}
    if len(bases) != 1 or None in bases:
        return None
    return [p[0] * _UNIT_BASE[p[1].lower()][1] for p in parsed], bases.pop()


def _unique(texts: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    out = []
    for t in texts:
        t = str(t).strip() or "-"
        seen[t] = seen.get(t, 0) + 1
        out.append(t if seen[t] == 1 else f"{t} ({seen[t]})")
    return tuple(out)


def _param_for(spec_name: str, d: Mapping[str, Any]) -> Param | None:
    """The Param of one description, or None when it has fewer than two values."""
    real = str(d["name"])
    label = str(d.get("label") or "")
    default = min(max(float(d.get("default", 0.0)), 0.0), 1.0)
    steps = int(d.get("steps") or 0)
    discrete = bool(d.get("discrete")) and 2 <= steps <= MAX_LISTED_STEPS
    boolean = bool(d.get("boolean"))
    values = [str(v) for v in d.get("values") or []]
    if (boolean or discrete) and steps < 2:
        steps = 2
    if (boolean or discrete) and len(values) != steps:
        values = []  # texts that do not match the steps cannot name them
    k_default = round(default * (steps - 1)) if (boolean or discrete) else 0

    if boolean or discrete:
        numbers = _parse_numbers(values, label) if values else None
        if boolean or (values and numbers is None):
            # Repeated texts still name distinct steps (suffixed); one text for all is constant.
            cats = _unique(values) if len(set(values)) >= 2 else ()
            if boolean and len(set(values)) != 2:
                cats = ("off", "on")
            if len(cats) >= 2:
                return Param(spec_name, "categorical", categories=cats, default=float(k_default),
                             description=real)
            return None
        if numbers is not None:
            nums, unit = numbers
            gaps = np.diff(nums)
            span = nums[-1] - nums[0]
            if span > 0 and np.allclose(gaps, span / (steps - 1), rtol=1e-3, atol=1e-9 * span):
                low, high = nums[0], nums[-1]
                return Param(spec_name, low=low, high=high, steps=steps, unit=unit,
                             default=low + k_default / (steps - 1) * span, description=real)
            note = f"{real} (steps: {', '.join(values[:8])}{', ...' if steps > 8 else ''})"
            return Param(spec_name, steps=steps, default=k_default / (steps - 1), description=note)
        return Param(spec_name, steps=steps, low=0.0, high=float(steps - 1), unit=label,
                     default=float(k_default), description=real)

    texts = [str(t) for t in d.get("range_text") or []]
    numbers = _parse_numbers(texts, label) if len(texts) == 3 else None
    if numbers is not None:
        (lo, mid, hi), unit = numbers
        span = hi - lo
        if span > 0 and abs(mid - (lo + hi) / 2) <= 0.02 * span:
            return Param(spec_name, low=lo, high=hi, unit=unit, default=lo + default * span,
                         description=real)
        exp_like = lo > 0 and hi > lo and mid > 0
        if exp_like and abs(math.log(mid / math.sqrt(lo * hi))) <= 0.05 * math.log(hi / lo):
            return Param(spec_name, low=lo, high=hi, unit=unit, curve="exp",
                         default=lo * (hi / lo) ** default, description=real)
    note = real
    if len(texts) == 3 and texts[0] != texts[2]:
        note = f"{real} ({texts[0].strip()} at 0, {texts[2].strip()} at 1)"
    return Param(spec_name, default=default, description=note)


class _Names:
    """Finds a configured name among spec names and plugin names, with helpful errors."""

    def __init__(self, spec_names: list[str], real_names: list[str], source: str, text: str | None):
        self.spec_names, self.real_names, self.source, self.text = (
            spec_names, real_names, source, text)

    def where(self, key: str) -> str:
        if self.text:
            for i, line in enumerate(self.text.splitlines(), 1):
                if key in line:
                    return f"{self.source}, line {i}"
        return self.source

    def find(self, key: str, section: str) -> int:
        if key in self.spec_names:
            return self.spec_names.index(key)
        if self.real_names.count(key) == 1:
            return self.real_names.index(key)
        if self.real_names.count(key) > 1:
            options = [self.spec_names[i] for i, r in enumerate(self.real_names) if r == key]
            raise VST3Error(f"{self.where(key)}: {section} names {key!r}, which the plugin has "
                            f"{len(options)} times; use one of {options}")
        lowered = [n.lower() for n in self.spec_names]
        if sanitize_name(key).lower() in lowered:
            return lowered.index(sanitize_name(key).lower())
        close = difflib.get_close_matches(key, self.spec_names + self.real_names, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise VST3Error(f"{self.where(key)}: {section} names unknown parameter {key!r}{hint} "
                        f"(the plugin has {len(self.spec_names)} parameters)")


def _fixed_raw(p: Param, d: Mapping[str, Any], value: Any, where: str) -> float:
    """A [fixed] value as the plugin's raw value (see the module doc for the three forms)."""
    name = str(d["name"])
    if isinstance(value, bool):
        if not (p.is_discrete and p.steps == 2):
            raise VST3Error(f"{where}: {name!r} is not an on/off switch; give a number in [0, 1]")
        return 1.0 if value else 0.0
    if isinstance(value, str):
        texts = list(p.categories) or [str(v) for v in d.get("values") or []]
        for candidates in (texts, [t.lower() for t in texts]):
            key = value if candidates is texts else value.lower()
            if key in candidates:
                return candidates.index(key) / (len(texts) - 1)
        raise VST3Error(f"{where}: {value!r} is not a value of {name!r}; "
                        + (f"one of {texts}" if texts else "give a number in [0, 1]"))
    if isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0:
        return float(p.quantize(np.array(float(value))))
    raise VST3Error(f"{where}: {name!r} = {value!r}; fixed numbers are normalized values in "
                    "[0, 1], strings are value names")


def build_plan(
    name: str,
    descriptions: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    source: str = "synth config",
    text: str | None = None,
) -> PluginPlan:
    """The spec and the value routing of a plugin, from its descriptions and a config dict.

    ``source`` and ``text`` (the TOML file's path and content) only make error messages
    point at the line to fix.
    """
    config = dict(config or {})
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise VST3Error(f"{source}: unknown key(s) {unknown}; allowed: {', '.join(CONFIG_KEYS)}")

    params: list[Param | None] = []
    skipped: dict[str, str] = {}
    spec_names: list[str] = []
    used: set[str] = set()
    for i, d in enumerate(descriptions):
        if "name" not in d:
            raise VST3Error(f"parameter description {i} of {name} has no 'name'")
        base = sanitize_name(str(d["name"]), fallback=f"param_{i}")
        n, k = base, 2
        while n in used:
            n, k = f"{base}_{k}", k + 1
        used.add(n)
        spec_names.append(n)
        why = skip_reason(d)
        p = _param_for(n, d)
        if p is None and why is None:
            why = "fewer than two values"
        if why is not None:
            skipped[str(d["name"])] = why
        params.append(p)
    real_names = [str(d["name"]) for d in descriptions]
    names = _Names(spec_names, real_names, source, text)

    fixed: dict[int, float] = {}
    fixed_cfg = config.get("fixed", {})
    if not isinstance(fixed_cfg, Mapping):
        raise VST3Error(f"{source}: [fixed] must be a table of name = value")
    for key, value in fixed_cfg.items():
        i = names.find(str(key), "[fixed]")
        if params[i] is None:
            raise VST3Error(f"{names.where(key)}: {real_names[i]!r} has a single value; "
                            "there is nothing to fix")
        fixed[i] = _fixed_raw(params[i], descriptions[i], value, names.where(key))
    fixed_idx = set(fixed)

    learn_cfg = config.get("learn")
    if learn_cfg is None:
        learn = [i for i, d in enumerate(descriptions)
                 if real_names[i] not in skipped and i not in fixed_idx]
    else:
        if not isinstance(learn_cfg, list) or not all(isinstance(x, str) for x in learn_cfg):
            raise VST3Error(f"{source}: learn must be a list of parameter names")
        learn = []
        for key in learn_cfg:
            i = names.find(key, "learn")
            if real_names[i] in skipped:
                raise VST3Error(f"{names.where(key)}: {real_names[i]!r} cannot be learned "
                                f"({skipped[real_names[i]]})")
            if i in fixed_idx:
                raise VST3Error(f"{names.where(key)}: {real_names[i]!r} is both learned and fixed")
            if i in learn:
                raise VST3Error(f"{names.where(key)}: {real_names[i]!r} is listed twice in learn")
            learn.append(i)
    if not learn:
        raise VST3Error(f"{name}: no parameter left to learn (all skipped or fixed)")

    subsets: dict[str, tuple[str, ...]] = {}
    subsets_cfg = config.get("subsets", {})
    if not isinstance(subsets_cfg, Mapping):
        raise VST3Error(f"{source}: [subsets] must be a table of name = [parameter names]")
    for sub, members in subsets_cfg.items():
        if not isinstance(members, list):
            raise VST3Error(f"{names.where(sub)}: subset {sub!r} must be a list of names")
        idx = [names.find(str(m), f"subset {sub!r}") for m in members]
        outside = [real_names[i] for i in idx if i not in learn]
        if outside:
            raise VST3Error(f"{names.where(sub)}: subset {sub!r} names {outside}, which are "
                            "not learned (add them to learn, or drop them from [fixed])")
        subsets[str(sub)] = tuple(spec_names[i] for i in idx)

    held = {i: min(max(float(d.get("default", 0.0)), 0.0), 1.0)
            for i, d in enumerate(descriptions)
            if i not in learn and i not in fixed_idx and real_names[i] not in skipped}
    spec = ParamSpec(name, tuple(params[i] for i in learn), subsets)  # type: ignore[misc]
    pins: dict[str, Any] = {}
    if config.get("plugin_name") is not None:
        pins["plugin_name"] = config["plugin_name"]
    if learn_cfg is not None:
        pins["learn"] = [spec_names[i] for i in learn]
    if subsets:
        pins["subsets"] = {k: list(v) for k, v in subsets.items()}
    if fixed:
        pins["fixed"] = {spec_names[i]: fixed[i] for i in sorted(fixed)}
    return PluginPlan(
        spec, tuple(real_names[i] for i in learn), tuple(learn), fixed, held, skipped, pins
    )


def spec_from_parameter_descriptions(
    name: str, descriptions: list[dict], config: dict | None = None
) -> ParamSpec:
    """The ParamSpec of a plugin described by plain dicts (see the module doc) and a config."""
    return build_plan(name, descriptions, config).spec


def load_config(path: str | os.PathLike) -> tuple[dict, str]:
    """A synth config TOML file: (parsed dict, its text). Errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise VST3Error(f"synth config {p} does not exist")
    text = p.read_text(encoding="utf-8", errors="replace")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise VST3Error(f"{p}: invalid TOML: {e}") from e


# --- the plugin --------------------------------------------------------------------------------
def describe_parameters(plugin: Any) -> list[dict]:
    """Description dicts (see the module doc) of a loaded pedalboard plugin's parameters."""
    out = []
    for p in plugin.parameters.values():
        # The value a fresh instance holds is what a user hears on inserting the plugin; some
        # plugins (Dexed) report 0 as every parameter's default_raw_value. Read before
        # _text_reader, which may move the value.
        initial = float(p.raw_value)
        steps = int(p.num_steps) if p.is_discrete else 0
        text = _text_reader(p)
        values = []
        if p.is_discrete and 2 <= steps <= MAX_LISTED_STEPS:
            values = [text(k / (steps - 1)) for k in range(steps)]
        out.append({
            "name": str(p.name),
            "label": str(p.label or ""),
            "discrete": bool(p.is_discrete),
            "boolean": bool(p.is_boolean),
            "steps": steps,
            "values": values,
            "range_text": [text(0.0), text(0.5), text(1.0)],
            "default": initial,
            "automatable": bool(getattr(p, "is_automatable", True)),
            "meta": bool(getattr(p, "is_meta_parameter", False)),
        })
    return out


def _text_reader(p: Any):
    # Some plugins answer get_text_for_raw_value with the current text whatever the value;
    # for them, set the value, read the text and put the value back (as pedalboard does).
    fast = [str(p.get_text_for_raw_value(x)) for x in (0.0, 1.0)]
    if fast[0] != fast[1]:
        return lambda x: str(p.get_text_for_raw_value(x))

    def slow(x: float) -> str:
        before = p.raw_value
        try:
            p.raw_value = x
            return str(p.string_value)
        finally:
            p.raw_value = before

    return slow


def _load_plugin(path: Path, plugin_name: str | None) -> Any:
    import pedalboard

    try:
        return on_plugin_thread(pedalboard.load_plugin, str(path), plugin_name=plugin_name)
    except RuntimeError as e:
        if "plugin_name" in str(e) or "more than one" in str(e).lower():
            try:
                names = pedalboard.VST3Plugin.get_plugin_names_for_file(str(path))
            except Exception:  # noqa: BLE001 - only for a better message
                names = []
            raise VST3Error(f"{path} holds several plugins {names}; pick one with "
                            'plugin_name = "..." in the --synth-config TOML') from e
        raise VST3Error(f"could not load {path}: {e}") from e
    except ImportError as e:
        raise VST3Error(f"could not load {path} as a VST3 plugin: {e}") from e


# Between a plugin path and its pins in a synth identifier: ``vst3:/x/A.vst3#{"learn": ...}``.
_PINNED = re.compile(r"^(vst3:.*?\.vst3)#(\{.*\})$", re.IGNORECASE | re.DOTALL)


def synth_identifier(path: str | os.PathLike, pins: Mapping[str, Any] | None) -> str:
    """The name that rebuilds a plugin synth with its pins, TOML file or not.

    Datasets and models store this one string, so a model trained on a pinned plugin
    renders the same parameters wherever it is used (plots, export, the server).
    """
    base = f"vst3:{Path(path).expanduser().absolute()}"
    if not pins:
        return base
    return f"{base}#{json.dumps(dict(pins), sort_keys=True, separators=(',', ':'))}"


def split_identifier(identifier: str) -> tuple[str, dict | None]:
    """``vst3:/x/A.vst3#{...}`` -> (``vst3:/x/A.vst3``, pins); other names -> (name, None)."""
    m = _PINNED.match(identifier)
    if m is None:
        return identifier, None
    try:
        pins = json.loads(m.group(2))
    except json.JSONDecodeError as e:
        raise VST3Error(f"synth {identifier[:80]!r}...: its pinned parameters are not valid "
                        f"JSON ({e}); re-render the dataset or re-train the model") from None
    if not isinstance(pins, dict):
        raise VST3Error(f"synth {identifier[:80]!r}...: pins must be a JSON object")
    return m.group(1), pins


class VST3Synth(Synth):
    """A VST3 instrument; ``config`` pins its parameters (module doc): the path of a TOML
    file, or the parsed table itself (what a synth identifier carries)."""

    def __init__(
        self,
        path: str | os.PathLike,
        config: str | os.PathLike | Mapping[str, Any] | None = None,
    ) -> None:
        p = Path(path).expanduser().absolute()
        if p.suffix.lower() != ".vst3":
            raise VST3Error(f"{p} is not a .vst3 plugin; give the path of a .vst3 bundle or file")
        if not p.exists():
            raise VST3Error(f"no such plugin: {p}")
        if isinstance(config, Mapping):
            cfg, text, source = dict(config), None, "pinned parameters"
        elif config is not None:
            (cfg, text), source = load_config(config), str(config)
        else:
            cfg, text, source = {}, None, "synth config"
        plugin_name = cfg.get("plugin_name")
        if plugin_name is not None and not isinstance(plugin_name, str):
            raise VST3Error(f"{source}: plugin_name must be a string")
        self._path = str(p)
        # Parameter texts are read on the thread the plugin lives on (on_plugin_thread).
        on_plugin_thread(lambda: self._setup(_load_plugin(p, plugin_name), f"vst3:{p}", cfg,
                                             source=source, text=text))
        self.name = synth_identifier(p, self.plan.pins)

    @classmethod
    def from_plugin(cls, plugin: Any, name: str, config: Mapping | None = None) -> VST3Synth:
        """Wrap an already loaded plugin (or a stand-in with the same interface)."""
        self = cls.__new__(cls)
        self._path = None
        self._setup(plugin, name, dict(config or {}))
        return self

    def _setup(self, plugin: Any, name: str, cfg: Mapping, source: str = "synth config",
               text: str | None = None) -> None:
        if not getattr(plugin, "is_instrument", False):
            kind = "an effect" if getattr(plugin, "is_effect", False) else "not an instrument"
            raise VST3Error(f"{name} is {kind}; flowsynth needs an instrument that plays MIDI "
                            "notes (a synth, not an audio effect)")
        self.plugin = plugin
        self.name = name
        try:
            descriptions = describe_parameters(plugin)
        except Exception as e:  # noqa: BLE001 - a plugin can fail in many ways; say which
            raise VST3Error(f"{name}: could not read the plugin's parameters ({e})") from e
        self.plan = build_plan(name, descriptions, cfg, source=source, text=text)
        self.spec = self.plan.spec
        self.descriptions = descriptions
        # Same order as the descriptions: routing goes by index, immune to repeated names.
        params = list(plugin.parameters.values())
        self._learned = [params[i] for i in self.plan.learned]
        self._constant = [(params[i], v) for i, v in {**self.plan.held, **self.plan.fixed}.items()]

    @property
    def plugin_names(self) -> dict[str, str]:
        """Spec name -> the plugin's own parameter name."""
        return dict(zip(self.spec.names, self.plan.plugin_names, strict=True))

    def __reduce__(self):
        # Plugins cannot be pickled; a worker process loads its own copy from the same files.
        if self._path is None:
            raise TypeError("a VST3Synth made with from_plugin cannot be sent to another process")
        return (VST3Synth, (self._path, self.plan.pins or None))

    def set_preset(self, preset: np.ndarray) -> None:
        """Put one normalized preset [N] (and the fixed and held values) into the plugin."""
        for param, value in self._constant:
            param.raw_value = value
        for param, value in zip(self._learned, preset, strict=True):
            param.raw_value = float(value)

    def render(
        self, presets: np.ndarray, note: Note = PAPER_NOTE, sample_rate: int = 22050
    ) -> np.ndarray:
        """[B, N] normalized presets -> [B, T] float32 mono, T = duration * sample_rate."""
        norm = self.spec.quantize(self.spec.check_norm(presets))
        return render_notes(self.plugin, self.set_preset, norm, note, sample_rate,
                            RENDER_BUFFER_SIZE)
