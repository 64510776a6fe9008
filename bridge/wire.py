"""OSC messages as bytes: what the server replies with and what the command-line clients
(`flowsynth send`, `flowsynth monitor`) and benchmarks send.

Built here rather than with python-osc's builder: a params reply is the server's hot path and
packing an array in one call is several times cheaper than argument by argument.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

_address_cache: dict[str, bytes] = {}


def _osc_string(s: str) -> bytes:
    b = s.encode("utf-8", "replace")
    return b + b"\x00" * (4 - len(b) % 4)


def encode(address: str, args: Sequence[object]) -> bytes:
    """An OSC message; a numpy array argument stands for its values as floats."""
    head = _address_cache.get(address)
    if head is None:
        head = _osc_string(address)
        if len(_address_cache) < 4096:
            _address_cache[address] = head
    tags = [","]
    body: list[bytes] = []
    for a in args:
        if isinstance(a, np.ndarray):
            tags.append("f" * a.size)
            body.append(a.astype(">f4").tobytes())
        elif isinstance(a, bool):
            tags.append("T" if a else "F")
        elif isinstance(a, int):
            if -(2**31) <= a < 2**31:
                tags.append("i")
                body.append(struct.pack(">i", a))
            else:
                tags.append("h")
                body.append(struct.pack(">q", a & 0xFFFFFFFFFFFFFFFF if a < 0 else a))
        elif isinstance(a, float):
            tags.append("f")
            body.append(struct.pack(">f", a))
        elif isinstance(a, (bytes, bytearray)):
            tags.append("b")
            n = len(a)
            body.append(struct.pack(">i", n) + bytes(a) + b"\x00" * (-n % 4))
        elif a is None:
            tags.append("N")
        else:
            tags.append("s")
            body.append(_osc_string(str(a)))
    return head + _osc_string("".join(tags)) + b"".join(body)
