"""Max's own objects that our patches may use, with their inlet and outlet counts.

An explicit allow-list: a device that needed a third-party external (or a typo'd class) fails
validation here instead of loading as a dead box in someone's Live set. Counts are Max 8's (the
Max that Live 11 bundles; Live 12's Max 9 keeps them), as Max writes them into "numinlets" and
"numoutlets". Objects whose counts follow their arguments are functions of those arguments.
"""

from __future__ import annotations

from collections.abc import Callable

Counts = tuple[int, int]


def _route(args: list[str]) -> Counts:
    n = max(len(args), 1)
    return n + 1, n + 1  # Max 8: one right inlet per argument, to change what it matches


def _select(args: list[str]) -> Counts:
    n = max(len(args), 1)
    return (2 if n == 1 else 1), n + 1


def _trigger(args: list[str]) -> Counts:
    return 1, max(len(args), 2)


def _channels(args: list[str], default: int = 1) -> int:
    nums = [a for a in args if a.isdigit()]
    return int(nums[0]) if nums else default


def _record(args: list[str]) -> Counts:
    return _channels(args[1:]) + 2, 1  # signals, then start and end points; sync out


def _play(args: list[str]) -> Counts:
    return 1, _channels(args[1:]) + 1  # one inlet; signal outs, then a bang when done


def _sfplay(args: list[str]) -> Counts:
    return 2, _channels(args) + 1  # signal outs, then a bang when the file ends


def _vst(args: list[str]) -> Counts:
    nums = [int(a) for a in args if a.isdigit()]
    ins, outs = (nums + [2, 2])[:2]
    return max(ins, 2), outs + 6  # audio outs, then midi, params, latency... (6 message outlets)


def _pack(args: list[str]) -> Counts:
    return max(len(args), 2), 1


def _unpack(args: list[str]) -> Counts:
    return 1, max(len(args), 2)


def _fixed(n_in: int, n_out: int) -> Callable[[list[str]], Counts]:
    return lambda _args: (n_in, n_out)


# Classes typed into an object box ("newobj"); the key is the first word of its text.
NEWOBJ: dict[str, Callable[[list[str]], Counts]] = {
    "udpsend": _fixed(1, 0),
    "udpreceive": _fixed(1, 1),
    "live.thisdevice": _fixed(1, 3),
    "live.remote~": _fixed(2, 0),
    "live.object": _fixed(2, 1),
    "route": _route,
    "select": _select,
    "sel": _select,
    "t": _trigger,
    "trigger": _trigger,
    "pack": _pack,
    "pak": _pack,
    "unpack": _unpack,
    "prepend": _fixed(1, 1),
    "append": _fixed(1, 1),
    "loadbang": _fixed(1, 1),
    "loadmess": _fixed(1, 1),
    "print": _fixed(1, 0),
    "metro": _fixed(2, 1),
    "delay": _fixed(2, 1),
    "deferlow": _fixed(1, 1),
    "buffer~": _fixed(1, 2),
    "record~": _record,
    "play~": _play,
    "sfplay~": _sfplay,
    "plugin~": _fixed(2, 2),
    "plugout~": _fixed(2, 2),
    "conformpath": _fixed(1, 2),
    "opendialog": _fixed(1, 2),
    "pattr": _fixed(1, 3),
    "+~": _fixed(2, 1),
    "*~": _fixed(2, 1),
    "dac~": _fixed(2, 0),
    "adc~": _fixed(1, 2),
    "vst~": _vst,
    "midiin": _fixed(1, 1),
    "midiout": _fixed(1, 0),
    "s": _fixed(1, 0),
    "r": _fixed(0, 1),
}

# Boxes whose "maxclass" is the object itself (user-interface objects and friends).
UI: dict[str, Counts] = {
    "message": (2, 1),
    "comment": (1, 0),
    "live.comment": (1, 0),
    "live.dial": (1, 2),
    "live.numbox": (1, 2),
    "live.text": (1, 2),
    "live.menu": (1, 3),
    "live.toggle": (1, 1),
    "live.button": (1, 1),
    "live.slider": (1, 2),
    "umenu": (1, 3),
    "button": (1, 1),
    "toggle": (1, 1),
    "number": (1, 2),
    "flonum": (1, 2),
    "panel": (1, 0),
    "textedit": (1, 4),
    "ezdac~": (2, 0),
    "inlet": (0, 1),
    "outlet": (1, 0),
}

# live.* objects that are Live parameters and so need a long name, a range and a default.
LIVE_PARAMETERS = {"live.dial", "live.numbox", "live.text", "live.menu", "live.toggle",
                   "live.button", "live.slider"}


def js_counts(source: str) -> Counts:
    """A [js] box has the inlets and outlets its script declares (`inlets = N; outlets = M;`)."""
    import re

    found = {k: int(v) for k, v in re.findall(r"^\s*(inlets|outlets)\s*=\s*(\d+)\s*;", source,
                                               flags=re.M)}
    return found.get("inlets", 1), found.get("outlets", 1)


def counts_for(maxclass: str, text: str) -> Counts | None:
    """Inlets and outlets of a box, or None when the object is not on the allow-list.
    [js] is not resolved here: its counts depend on its file (see ``js_counts``)."""
    if maxclass != "newobj":
        return UI.get(maxclass)
    words = text.split()
    if not words or words[0] not in NEWOBJ:
        return None
    return NEWOBJ[words[0]](words[1:])
