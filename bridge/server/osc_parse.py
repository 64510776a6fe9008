"""A strict OSC 1.0 reader for the server's input: every byte of a datagram is accounted for
before anything in it is acted on.

Why not python-osc's parser: it loops forever on a bundle element of negative size, reads a
missing trailing float as 0.0, ignores bytes after the arguments, reads RGBA and MIDI
arguments as plain numbers, skips unknown type tags, and logs its complaints through the root
logger (past the server's log limit). Here any of those is a ``ParseError`` naming what was
wrong, and a bundle is taken whole or not at all (OSC 1.0 bundles are atomic).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

BUNDLE_PREFIX = b"#bundle\x00"
# A bundle's messages are answered one by one; this many bound what one datagram can cost
# (and the replies it can cause). A device sends single messages; a script may batch a few.
MAX_MESSAGES = 32
MAX_DEPTH = 4  # nested bundles
# OSC 1.0: timetag 1 means "now". A bundle stamped up to this far ahead (clock skew between
# machines) acts at once; one further ahead is refused, as this server does not schedule.
FUTURE_TOLERANCE_S = 0.05
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
IMMEDIATELY = 1

# Type tags the protocol uses: numbers (i f, and the 64-bit h d that some clients send),
# strings (s S), blobs, true/false/nil (a ping token may be anything of these).
_FIXED = {"i": (4, ">i"), "f": (4, ">f"), "h": (8, ">q"), "d": (8, ">d")}
_NO_DATA = {"T": True, "F": False, "N": None}
_KNOWN_UNUSED = {"r": "an RGBA colour", "m": "a MIDI message", "c": "a character",
                 "t": "a timetag", "I": "an impulse", "[": "an array", "]": "an array"}


class ParseError(ValueError):
    """A datagram that is not well-formed OSC 1.0, or one this server refuses as a whole."""


@dataclass(frozen=True)
class Message:
    address: str
    args: list


def parse(data: bytes, now: float | None = None) -> list[Message]:
    """The messages of one datagram (a message, or a bundle's messages in order)."""
    if data[:1] == b"/":
        return [parse_message(data)]
    if data.startswith(BUNDLE_PREFIX):
        out: list[Message] = []
        _bundle(data, 0, out, time.time() if now is None else now, 0)
        return out
    if not data:
        raise ParseError("empty datagram")
    raise ParseError("neither an OSC message (starts with '/') nor a bundle ('#bundle')")


def _string(data: bytes, at: int, what: str) -> tuple[str, int]:
    end = data.find(b"\x00", at)
    if end < 0:
        raise ParseError(f"{what} is not terminated (no NUL byte)")
    nxt = (end // 4 + 1) * 4
    if nxt > len(data):
        raise ParseError(f"{what} is cut short: its padding is missing")
    if data[end:nxt].strip(b"\x00"):
        raise ParseError(f"{what} has non-NUL bytes in its padding")
    try:
        return data[at:end].decode("utf-8"), nxt
    except UnicodeDecodeError:
        raise ParseError(f"{what} is not UTF-8 text") from None


def parse_message(data: bytes) -> Message:
    address, at = _string(data, 0, "the address")
    if not address.startswith("/"):
        raise ParseError("the address must start with '/'")
    if at == len(data):
        return Message(address, [])  # OSC 1.0 lets old clients omit the type tags
    if data[at:at + 1] != b",":
        raise ParseError("bytes after the address are not a type tag string (',...')")
    tags, at = _string(data, at, "the type tags")
    args: list = []
    for tag in tags[1:]:
        fixed = _FIXED.get(tag)
        if fixed is not None:
            size, fmt = fixed
            if at + size > len(data):
                raise ParseError(f"the message is shorter than its type tags say "
                                 f"('{tags[1:]}' needs more bytes than {len(data)})")
            args.append(struct.unpack_from(fmt, data, at)[0])
            at += size
        elif tag in ("s", "S"):
            s, at = _string(data, at, f"string argument {len(args) + 1}")
            args.append(s)
        elif tag == "b":
            if at + 4 > len(data):
                raise ParseError("the message is shorter than its type tags say (blob size)")
            n = struct.unpack_from(">i", data, at)[0]
            end = at + 4 + n
            pad = end + (-n % 4)
            if n < 0 or pad > len(data):
                raise ParseError(f"blob argument {len(args) + 1} claims {n} bytes, which the "
                                 "message does not hold")
            if data[end:pad].strip(b"\x00"):
                raise ParseError(f"blob argument {len(args) + 1} has non-NUL padding")
            args.append(data[at + 4:end])
            at = pad
        elif tag in _NO_DATA:
            args.append(_NO_DATA[tag])
        elif tag in _KNOWN_UNUSED:
            raise ParseError(f"type tag '{tag}' ({_KNOWN_UNUSED[tag]}) is not used by this "
                             "protocol; send numbers as i or f and text as s")
        else:
            raise ParseError(f"unknown type tag {tag!r}; OSC 1.0 tags are i f s b (and h d "
                             "T F N)")
    if at != len(data):
        raise ParseError(f"{len(data) - at} bytes follow the last argument; the type tags "
                         f"',{tags[1:]}' account for {at} of {len(data)}")
    return Message(address, args)


def timetag_seconds(tag: int) -> float:
    """An NTP timetag as Unix seconds."""
    return (tag >> 32) - NTP_EPOCH_OFFSET + (tag & 0xFFFFFFFF) / 2**32


def _bundle(data: bytes, depth: int, out: list[Message], now: float, outer: int) -> None:
    if depth >= MAX_DEPTH:
        raise ParseError(f"bundles nested deeper than {MAX_DEPTH}")
    if len(data) < 16:
        raise ParseError("the bundle is cut short: no timetag")
    tag = struct.unpack_from(">Q", data, 8)[0]
    if tag != IMMEDIATELY and tag < outer:
        raise ParseError("a nested bundle's timetag is earlier than its enclosing bundle's "
                         "(OSC 1.0 forbids it)")
    if tag != IMMEDIATELY:
        ahead = timetag_seconds(tag) - now
        if ahead > FUTURE_TOLERANCE_S:
            raise ParseError(f"the bundle is stamped {ahead:.3g} s in the future; this server "
                             "does not schedule bundles: send timetag 1 (immediately)")
    at = 16
    while at < len(data):
        if at + 4 > len(data):
            raise ParseError(f"{len(data) - at} stray bytes at the end of the bundle")
        size = struct.unpack_from(">i", data, at)[0]
        at += 4
        if size <= 0 or size % 4 or at + size > len(data):
            raise ParseError(f"bundle element size {size} is not a positive multiple of 4 "
                             f"within the {len(data) - at} bytes left")
        element = data[at:at + size]
        at += size
        if element[:1] == b"/":
            if len(out) >= MAX_MESSAGES:
                raise ParseError(f"the bundle holds more than {MAX_MESSAGES} messages; send "
                                 "fewer at a time")
            out.append(parse_message(element))
        elif element.startswith(BUNDLE_PREFIX):
            _bundle(element, depth + 1, out, now, tag)
        else:
            raise ParseError("a bundle element is neither a message nor a bundle")
