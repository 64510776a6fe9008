"""Find a synth by name: a built-in one, ``dexed`` (the real plugin, pinned: see
bridge/synth/dexed.py), or ``vst3:/path/to/Plugin.vst3``.

A name may carry a plugin's pinned parameters (``vst3:/x/A.vst3#{"learn": [...]}``, see
:func:`bridge.synth.vst3.synth_identifier`): that is what datasets and models store, so
:func:`rebuild_synth` gives back the synth they were made with, TOML file or not.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bridge.synth.base import Synth
from bridge.synth.spec import ParamSpec, SpecError


def _subtractive() -> Synth:
    from bridge.synth.subtractive import SubtractiveSynth

    return SubtractiveSynth()


def _fm() -> Synth:
    from bridge.synth.fm import FMSynth

    return FMSynth()


BUILTIN_SYNTHS: dict[str, Callable[[], Synth]] = {"subtractive": _subtractive, "fm": _fm}
# Named plugins: found on the system (or where the user points), with a shipped configuration.
PLUGIN_SYNTHS = ("dexed",)


def get_synth(
    name: str, config: str | os.PathLike | Mapping[str, Any] | None = None
) -> Synth:
    """A synth by name. ``config`` pins a VST3 plugin's parameters: a TOML file, or its table.

    A pinned identifier (what ``synth.name`` of a pinned plugin is) needs no ``config``.
    """
    if name.startswith("vst3:"):
        from bridge.synth.vst3 import VST3Synth, split_identifier

        path, pins = split_identifier(name)
        if pins is not None and config is not None:
            raise SpecError(
                f"synth {path!r} already carries its pinned parameters in its name; "
                "drop --synth-config (or give the plain vst3:/path with the TOML file)"
            )
        return VST3Synth(path[len("vst3:") :], config=pins if pins is not None else config)
    if name == "dexed":
        from bridge.synth.dexed import DexedSynth

        if config is not None:
            raise SpecError("dexed is pinned by flowsynth's own configuration; drop "
                            "--synth-config (or use vst3:/path/Dexed.vst3 with your TOML)")
        return DexedSynth()
    if name not in BUILTIN_SYNTHS:
        raise SpecError(
            f"unknown synth {name!r}; built-in synths are {', '.join(BUILTIN_SYNTHS)}, "
            "dexed (the free DX7 plugin), or give a plugin as vst3:/path/to/Plugin.vst3"
        )
    if config is not None:
        raise SpecError("--synth-config applies to vst3: synths only")
    return BUILTIN_SYNTHS[name]()


def rebuild_synth(
    name: str,
    spec: ParamSpec | Mapping | None = None,
    legacy_config: str | os.PathLike | None = None,
) -> Synth:
    """The synth a dataset or model was made with, from the name (and spec) it stored.

    Every consumer of a saved dataset or model goes through here, so a pinned plugin comes
    back with its pinned parameters rather than its full list. With ``spec`` the result is
    checked: other parameter names raise (presets would go to the wrong controls), other
    ranges or defaults warn. ``legacy_config`` is the TOML path that datasets rendered
    before pins were stored recorded; it is used only when ``name`` carries no pins.
    """
    config = None
    if legacy_config is not None and name.startswith("vst3:") and "#{" not in name:
        if not Path(legacy_config).is_file():
            raise SpecError(
                f"{name} was pinned by {legacy_config}, which no longer exists; restore it "
                "or re-render the dataset (new datasets carry their pins themselves)"
            )
        config = legacy_config
    synth = get_synth(name, config)
    if spec is None:
        return synth
    want = spec if isinstance(spec, ParamSpec) else ParamSpec.from_dict(spec)
    if synth.spec.names != want.names:
        extra = [n for n in synth.spec.names if n not in want.names]
        missing = [n for n in want.names if n not in synth.spec.names]
        raise SpecError(
            f"synth {name[:120]!r} now has other parameters than it was saved with "
            f"({len(synth.spec)} instead of {len(want)}; new: {extra[:5]}, gone: {missing[:5]}). "
            "A plugin update or a model saved before pins were stored: re-render the dataset "
            "(with the same --synth-config) and re-train"
        )
    if synth.spec.to_dict() != want.to_dict():
        warnings.warn(
            f"synth {name[:120]!r}: parameter ranges or defaults changed since it was saved; "
            "presets may not sound the same (re-render the dataset to be sure)",
            stacklevel=2,
        )
    return synth
