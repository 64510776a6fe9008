"""Find a synth by name: a built-in one, or ``vst3:/path/to/Plugin.vst3``."""

from __future__ import annotations

from collections.abc import Callable

from bridge.synth.base import Synth
from bridge.synth.spec import SpecError


def _subtractive() -> Synth:
    from bridge.synth.subtractive import SubtractiveSynth

    return SubtractiveSynth()


def _fm() -> Synth:
    from bridge.synth.fm import FMSynth

    return FMSynth()


BUILTIN_SYNTHS: dict[str, Callable[[], Synth]] = {"subtractive": _subtractive, "fm": _fm}


def get_synth(name: str, config: str | None = None) -> Synth:
    """A synth by name. ``config`` is a TOML file pinning a VST3 plugin's parameters."""
    if name.startswith("vst3:"):
        from bridge.synth.vst3 import VST3Synth

        return VST3Synth(name[len("vst3:") :], config=config)
    if name not in BUILTIN_SYNTHS:
        raise SpecError(
            f"unknown synth {name!r}; built-in synths are {', '.join(BUILTIN_SYNTHS)}, "
            "or give a plugin as vst3:/path/to/Plugin.vst3"
        )
    if config is not None:
        raise SpecError("--synth-config applies to vst3: synths only")
    return BUILTIN_SYNTHS[name]()
