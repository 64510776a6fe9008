"""Synthesizers: parameter specs, the built-in synths, and VST3 instruments via pedalboard."""

from bridge.synth.base import NOTE_SETS, PAPER_NOTE, Note, Synth
from bridge.synth.registry import BUILTIN_SYNTHS, get_synth
from bridge.synth.spec import Param, ParamSpec, SpecError

__all__ = [
    "BUILTIN_SYNTHS",
    "NOTE_SETS",
    "PAPER_NOTE",
    "Note",
    "Param",
    "ParamSpec",
    "SpecError",
    "Synth",
    "get_synth",
]
