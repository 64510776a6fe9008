"""Argument checking for OSC requests: every failure becomes a ``RequestError`` that the server
answers as ``/flowsynth/error <slot> <code> <message>`` without touching any slot."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

import numpy as np

N_SLOTS = 16
# One UDP datagram holds at most ~16k floats; no model has more parameters than this, and a
# cap keeps a hostile list from costing anything before it is refused.
MAX_VECTOR = 4096
MAX_STRING = 4096
# Latent units are the prior's standard deviations: the devices' Radius dial reaches 4, and
# beyond a few tens every model answers noise (or overflows).
MAX_EXPLORE_RADIUS = 16.0


class RequestError(Exception):
    """A request that cannot be served. ``code`` is one of the protocol's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_args(message: str) -> RequestError:
    return RequestError("bad_args", message)


def count(args: Sequence, low: int, high: int, what: str) -> None:
    n = len(args)
    if not low <= n <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise bad_args(f"{what} takes {want} argument(s), got {n}")


def number(value: object, what: str) -> float:
    """An OSC int or float (Max and Pd blur them), finite. Booleans (T/F) are not numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_args(f"{what} must be a number, got {_kind(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise bad_args(f"{what} must be finite, got {x}")
    return x


def unit(value: object, what: str) -> float:
    x = number(value, what)
    if not 0.0 <= x <= 1.0:
        raise bad_args(f"{what} must be in [0, 1], got {x:g}")
    return x


def integer(value: object, what: str, low: int, high: int) -> int:
    """An int, or a float with an integral value (a Max float box sending 3.)."""
    x = number(value, what)
    if x != int(x):
        raise bad_args(f"{what} must be a whole number, got {x:g}")
    i = int(x)
    if not low <= i <= high:
        raise bad_args(f"{what} must be in {low}..{high}, got {i}")
    return i


def text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise bad_args(f"{what} must be a string, got {_kind(value)}")
    if not value or len(value) > MAX_STRING or "\x00" in value:
        raise bad_args(f"{what} must be a non-empty string of at most {MAX_STRING} characters")
    return value


def vector(args: Sequence, n: int, what: str, low: float | None = None,
           high: float | None = None) -> np.ndarray:
    """Exactly ``n`` finite numbers (optionally within [low, high]) as float32."""
    if len(args) != n:
        raise bad_args(f"{what} takes {n} numbers, got {len(args)}")
    out = np.empty(n, dtype=np.float32)
    for k, value in enumerate(args):
        x = number(value, f"{what} value {k + 1}")
        if (low is not None and x < low) or (high is not None and x > high):
            raise bad_args(f"{what} value {k + 1} must be in [{low:g}, {high:g}], got {x:g}")
        out[k] = x
    return out


def slot_number(segment: str) -> int:
    # isascii guards against unicode digits such as '²', which isdigit() accepts. A leading
    # zero is refused: '016' would be answered as '/16', an address the client never used.
    if not (segment.isascii() and segment.isdigit() and len(segment) <= 2
            and segment[0] != "0"):
        raise bad_args(f"slot {segment[:20]!r} must be a number 1..{N_SLOTS} written without "
                       "leading zeros")
    s = int(segment)
    if not 1 <= s <= N_SLOTS:
        raise bad_args(f"slot {s} is outside 1..{N_SLOTS}")
    return s


def which(value: object) -> str:
    w = text(value, "anchor name")
    if w not in ("a", "b"):
        raise bad_args(f"anchor must be 'a' or 'b', got {w[:20]!r}")
    return w


# Max writes paths as "Macintosh HD:/Users/me/x.wav" unless told `conformpath native`.
_MAX_VOLUME = re.compile(r"^([^/:\\]{2,}):(/.*)$")


def native_path(path: str) -> str:
    """A Max-style volume path made native; other paths are returned as they are."""
    m = _MAX_VOLUME.match(path)
    if not m or os.name == "nt":
        return path
    volume, rest = m.groups()
    # The boot volume is "/", any other is mounted under /Volumes on macOS.
    volumes = os.path.join("/Volumes", volume)
    return os.path.join(volumes, rest.lstrip("/")) if os.path.isdir(volumes) else rest


def inside(path: str, folders: Sequence[str], what: str) -> str:
    """The real path of ``path`` if it lies inside one of ``folders`` (symlinks and '..'
    resolved first, so neither can lead out); ``not_allowed`` otherwise."""
    path = native_path(path)
    if not os.path.isabs(path):
        raise RequestError("not_allowed", f"{what} {path[:200]!r} must be an absolute path")
    real = os.path.realpath(path)
    for folder in folders:
        root = os.path.realpath(folder)
        try:
            if os.path.commonpath([real, root]) == root:
                return real
        except ValueError:  # different drives on Windows
            continue
    where = ", ".join(folders) if folders else "none (start the server with --allow-dir)"
    raise RequestError("not_allowed",
                       f"{what} {path[:200]!r} is outside the allowed folders: {where}")


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bytes, bytearray)):
        return "a blob"
    if value is None:
        return "nil"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__
