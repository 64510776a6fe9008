"""The .amxd container Live reads: three chunks, each a 4-byte tag and a little-endian length.

    b"ampf" <u32 4>  <device type: b"mmmm" MIDI effect, b"aaaa" audio effect, b"iiii" instrument>
    b"meta" <u32 4>  <4 bytes, zero>
    b"ptch" <u32 n>  <n bytes: the patcher JSON, UTF-8, ending in one NUL byte>

Only this uncompressed (unfrozen) form is written and read: a frozen device would carry its
dependencies in an "mx@c" payload, but ours has none except its [js] file, which sits beside it.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

DEVICE_TYPES = {"midi": b"mmmm", "audio": b"aaaa", "instrument": b"iiii"}
_HEADER = struct.Struct("<4sI4s4sI4s4sI")  # ampf, 4, type, meta, 4, meta data, ptch, length


class AmxdError(ValueError):
    """A file that is not an unfrozen .amxd as Live writes it."""


@dataclass(frozen=True)
class Amxd:
    device_type: str  # a key of DEVICE_TYPES
    meta: bytes
    patcher: dict[str, Any]  # the whole JSON document: {"patcher": {...}}


def patcher_json(doc: dict[str, Any]) -> bytes:
    """Max's own layout (tab indent) so a device saved again in Max diffs cleanly; stable bytes."""
    return (json.dumps(doc, indent="\t", ensure_ascii=False) + "\n").encode("utf-8")


def write_amxd(doc: dict[str, Any], device_type: str) -> bytes:
    if device_type not in DEVICE_TYPES:
        raise AmxdError(f"device type {device_type!r}: use one of {', '.join(DEVICE_TYPES)}")
    body = patcher_json(doc) + b"\x00"
    return _HEADER.pack(b"ampf", 4, DEVICE_TYPES[device_type], b"meta", 4, b"\x00" * 4,
                        b"ptch", len(body)) + body


def read_amxd(data: bytes) -> Amxd:
    """Parse and check every tag and length; raise AmxdError saying what is wrong."""
    if len(data) < _HEADER.size:
        raise AmxdError(f"{len(data)} bytes is shorter than the {_HEADER.size}-byte header")
    ampf, n_type, kind, meta, n_meta, meta_data, ptch, n_ptch = _HEADER.unpack_from(data)
    if ampf != b"ampf" or n_type != 4:
        raise AmxdError(f"starts with {ampf!r} length {n_type}, not b'ampf' length 4")
    names = {v: k for k, v in DEVICE_TYPES.items()}
    if kind not in names:
        raise AmxdError(f"device type {kind!r} is not one of {list(DEVICE_TYPES.values())}")
    if meta != b"meta" or n_meta != 4:
        raise AmxdError(f"second chunk is {meta!r} length {n_meta}, not b'meta' length 4")
    if ptch != b"ptch":
        raise AmxdError(f"third chunk is {ptch!r}, not b'ptch'")
    body = data[_HEADER.size:]
    if len(body) != n_ptch:
        raise AmxdError(f"ptch says {n_ptch} bytes but {len(body)} follow")
    if not body.endswith(b"\x00"):
        raise AmxdError("the patcher JSON is not NUL-terminated")
    try:
        doc = json.loads(body[:-1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AmxdError(f"the patcher is not UTF-8 JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("patcher"), dict):
        raise AmxdError("the JSON has no 'patcher' object")
    return Amxd(names[kind], meta_data, doc)
