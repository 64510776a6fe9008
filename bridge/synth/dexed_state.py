"""Dexed's saved state (a ``.vstpreset``'s component chunk): read and rewrite its voice.

pedalboard's ``preset_data`` is a VST3 preset file: a 48-byte header (``VST3``, version, class
id, the offset of the chunk list), the chunks, and the list (``List``, a count, then id,
offset and size of each chunk). Dexed's component chunk is JUCE's ``copyXmlToBinary``:
``VC2!``, a little-endian length, Dexed's XML (``<dexedState ...>`` with the cartridge and the
current voice as JUCE base64: ``base64:sysex``, ``base64:program``), then JUCE's private data.
The voice is the DX7's 155 unpacked bytes (:mod:`bridge.synth.dx7` order, operator 6
first) and Dexed's 6 extra bytes (operator switches first). SysEx never reaches Dexed through
pedalboard, so this is how a cartridge or a voice gets into the plugin other than by
parameters.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

# JUCE's MemoryBlock::toBase64Encoding alphabet: "<size>." then 6 bits a character, LSB first.
_ALPHABET = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}


class DexedStateError(ValueError):
    """Bytes that are not a Dexed state or .vstpreset."""


def juce_b64decode(text: str) -> bytes:
    size_text, _, data = text.partition(".")
    size = int(size_text)
    bits = 0
    for i, c in enumerate(data):
        bits |= _INDEX[c] << (6 * i)
    return bits.to_bytes(max(size, (6 * len(data) + 7) // 8), "little")[:size]


def juce_b64encode(data: bytes) -> str:
    bits = int.from_bytes(data, "little")
    n = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(_ALPHABET[(bits >> (6 * i)) & 63] for i in range(n))


def _chunks(state: bytes) -> list[tuple[bytes, int, int]]:
    if state[:4] != b"VST3" or len(state) < 48:
        raise DexedStateError("not a .vstpreset (no VST3 header)")
    list_at = struct.unpack("<q", state[40:48])[0]
    if state[list_at : list_at + 4] != b"List":
        raise DexedStateError("a .vstpreset without its chunk list")
    count = struct.unpack("<i", state[list_at + 4 : list_at + 8])[0]
    out = []
    for e in range(count):
        at = list_at + 8 + 20 * e
        cid = state[at : at + 4]
        offset, size = struct.unpack("<qq", state[at + 4 : at + 20])
        out.append((cid, offset, size))
    return out


def read_xml(state: bytes) -> bytes:
    """Dexed's XML from a .vstpreset's component chunk."""
    for cid, offset, size in _chunks(state):
        if cid == b"Comp":
            chunk = state[offset : offset + size]
            if chunk[:4] != b"VC2!":
                raise DexedStateError("the component chunk is not JUCE XML (no VC2! magic)")
            n = struct.unpack("<I", chunk[4:8])[0]
            return chunk[8 : 8 + n]
    raise DexedStateError("a .vstpreset without a component chunk")


def with_xml(state: bytes, xml: bytes) -> bytes:
    """``state`` with Dexed's XML replaced (lengths, offsets and the list rewritten)."""
    body, pos, entries = b"", 48, []
    for cid, offset, size in _chunks(state):
        data = state[offset : offset + size]
        if cid == b"Comp":
            n = struct.unpack("<I", data[4:8])[0]
            data = b"VC2!" + struct.pack("<I", len(xml)) + xml + data[8 + n :]
        entries.append((cid, pos, len(data)))
        body += data
        pos += len(data)
    listing = b"List" + struct.pack("<i", len(entries)) + b"".join(
        cid + struct.pack("<qq", o, s) for cid, o, s in entries
    )
    return state[:40] + struct.pack("<q", pos) + body + listing


def _blob(xml: bytes, key: str) -> bytes:
    m = re.search(rb'base64:' + key.encode() + rb'="([^"]*)"', xml)
    if m is None:
        raise DexedStateError(f"Dexed's state holds no base64:{key}")
    return juce_b64decode(m.group(1).decode("ascii"))


def _set_blob(xml: bytes, key: str, data: bytes) -> bytes:
    new = f'base64:{key}="{juce_b64encode(data)}"'.encode()
    out, n = re.subn(rb'base64:' + key.encode() + rb'="[^"]*"', new, xml)
    if n != 1:
        raise DexedStateError(f"Dexed's state holds no base64:{key}")
    return out


def voice_bytes(state: bytes) -> bytes:
    """The current voice: 155 unpacked DX7 bytes and Dexed's extra ones (161 in all)."""
    return _blob(read_xml(state), "program")


def state_with_voice(state: bytes, values: Sequence[int], name: str = "flowsynth") -> bytes:
    """``state`` whose current voice has the 145 sound ``values`` (dx7 order) and ``name``."""
    if len(values) != 145:
        raise ValueError(f"a voice has 145 sound values, got {len(values)}")
    xml = read_xml(state)
    voice = bytearray(_blob(xml, "program"))
    voice[:145] = bytes(int(v) for v in values)
    voice[145:155] = name.encode("ascii", "replace")[:10].ljust(10)
    voice[155] = 0x3F  # all six operators on
    return with_xml(state, _set_blob(xml, "program", bytes(voice)))


def state_with_cartridge(state: bytes, sysex: bytes) -> bytes:
    """``state`` holding the 4104-byte cartridge ``sysex`` (its voice names become Dexed's
    program names; the current voice stays as it is)."""
    return with_xml(state, _set_blob(read_xml(state), "sysex", sysex))
