"""DX7 voices: 32-voice cartridges (.syx bulk dumps) decoded to Dexed's parameter values.

A cartridge is the DX7's public 32-voice bulk dump, 4104 bytes: ``F0 43 0n 09 20 00``, 4096
bytes of 32 packed 128-byte voices, a checksum (the low 7 bits of minus the data's sum) and
``F7``. Unpacking follows Dexed's own (Source/PluginData.cpp): each field is masked to its
bits and clamped to its largest value, so a voice decoded here is the voice Dexed plays.

Dexed shows a voice's 145 sound values as parameters named after the DX7's front panel
(``OP1 OUTPUT LEVEL``, ``ALGORITHM``); value ``k`` of a field whose largest value is ``m``
sits at the normalized (host) value ``k / m``, which is how every host automates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

VOICES_PER_CART = 32
PACKED_VOICE = 128
CART_SIZE = 4104
HEADER = bytes([0xF0, 0x43])  # SysEx start, Yamaha
BULK_FORMAT = (0x09, 0x20, 0x00)  # format 9 (32 voices), byte count 0x2000 = 4096
NAME_LEN = 10

# The 21 fields of one operator, in the DX7's unpacked order, with their largest values.
OP_FIELDS: tuple[tuple[str, int], ...] = (
    ("EG RATE 1", 99), ("EG RATE 2", 99), ("EG RATE 3", 99), ("EG RATE 4", 99),
    ("EG LEVEL 1", 99), ("EG LEVEL 2", 99), ("EG LEVEL 3", 99), ("EG LEVEL 4", 99),
    ("BREAK POINT", 99), ("L SCALE DEPTH", 99), ("R SCALE DEPTH", 99),
    ("L KEY SCALE", 3), ("R KEY SCALE", 3), ("RATE SCALING", 7), ("A MOD SENS.", 3),
    ("KEY VELOCITY", 7), ("OUTPUT LEVEL", 99), ("MODE", 1), ("F COARSE", 31),
    ("F FINE", 99), ("OSC DETUNE", 14),
)
# The voice-wide fields after the six operators (unpacked bytes 126..144).
GLOBAL_FIELDS: tuple[tuple[str, int], ...] = (
    ("PITCH EG RATE 1", 99), ("PITCH EG RATE 2", 99), ("PITCH EG RATE 3", 99),
    ("PITCH EG RATE 4", 99), ("PITCH EG LEVEL 1", 99), ("PITCH EG LEVEL 2", 99),
    ("PITCH EG LEVEL 3", 99), ("PITCH EG LEVEL 4", 99), ("ALGORITHM", 31), ("FEEDBACK", 7),
    ("OSC KEY SYNC", 1), ("LFO SPEED", 99), ("LFO DELAY", 99), ("LFO PM DEPTH", 99),
    ("LFO AM DEPTH", 99), ("LFO KEY SYNC", 1), ("LFO WAVE", 5), ("P MODE SENS.", 7),
    ("TRANSPOSE", 48),
)


def _voice_fields() -> tuple[tuple[str, int], ...]:
    # The unpacked voice stores operator 6 first, operator 1 last.
    ops = tuple((f"OP{op} {name}", top) for op in range(6, 0, -1) for name, top in OP_FIELDS)
    return ops + GLOBAL_FIELDS


#: (Dexed parameter name, largest value) of unpacked bytes 0..144, in order.
VOICE_FIELDS = _voice_fields()
VOICE_NAMES = tuple(n for n, _ in VOICE_FIELDS)
VOICE_MAX = np.array([m for _, m in VOICE_FIELDS], dtype=np.int64)


# The DX7's display differs from ASCII at three codes (as Dexed shows them): yen, arrows.
_DX7_CHARS = {92: "Y", 126: ">", 127: "<"}


class CartridgeError(ValueError):
    """A .syx file is not a DX7 32-voice cartridge; the message names the file and why."""


@dataclass(frozen=True)
class Voice:
    """One unpacked voice: its 145 sound values (DX7 units) and its name."""

    values: tuple[int, ...]
    name: str
    source: str = ""  # "<file>#<1-based index>"

    def normalized(self) -> dict[str, float]:
        """Dexed parameter name -> host value in [0, 1] (``k / largest``)."""
        return {n: v / m for (n, m), v in zip(VOICE_FIELDS, self.values, strict=True)}


def unpack_voice(packed: bytes) -> tuple[list[int], str]:
    """A 128-byte packed voice -> (145 unpacked values, name), masked and clamped as Dexed."""
    if len(packed) != PACKED_VOICE:
        raise ValueError(f"a packed voice is {PACKED_VOICE} bytes, got {len(packed)}")
    b = [x & 0x7F for x in packed]
    out: list[int] = []
    for op in range(6):  # operator 6 first
        o = b[op * 17 : op * 17 + 17]
        curves, rs_detune, kvs_ams, mode_coarse = o[11], o[12], o[13], o[15]
        out += o[0:11]  # rates, levels, break point, depths
        out += [curves & 3, (curves >> 2) & 3, rs_detune & 7, kvs_ams & 3, (kvs_ams >> 2) & 7,
                o[14], mode_coarse & 1, (mode_coarse >> 1) & 0x1F, o[16], (rs_detune >> 3) & 0xF]
    out += b[102:110]  # pitch EG rates and levels
    out += [b[110] & 0x1F, b[111] & 7, (b[111] >> 3) & 1]
    out += b[112:116]  # LFO speed, delay, PM depth, AM depth
    out += [b[116] & 1, (b[116] >> 1) & 7, (b[116] >> 4) & 7, b[117]]
    values = [min(v, int(m)) for v, m in zip(out, VOICE_MAX, strict=True)]
    name = "".join(_DX7_CHARS.get(c, chr(c) if 32 <= c < 127 else " ") for c in b[118:128])
    return values, name


def read_cartridge(path: str | Path) -> list[Voice]:
    """The 32 voices of a DX7 32-voice bulk dump; CartridgeError names what is wrong."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise CartridgeError(f"cannot read cartridge {p}: {e.strerror}") from None
    if len(data) != CART_SIZE:
        raise CartridgeError(
            f"{p}: {len(data)} bytes, but a DX7 32-voice cartridge is {CART_SIZE} "
            "(a single-voice dump or another synth's file?)"
        )
    if data[:2] != HEADER or data[-1] != 0xF7 or tuple(data[3:6]) != BULK_FORMAT:
        raise CartridgeError(
            f"{p}: not a DX7 32-voice bulk dump (header {data[:6].hex(' ')}, expected "
            "f0 43 0n 09 20 00 ... f7)"
        )
    body = data[6 : 6 + VOICES_PER_CART * PACKED_VOICE]
    want = (-sum(body)) & 0x7F
    if data[6 + len(body)] != want:
        raise CartridgeError(
            f"{p}: bad checksum {data[6 + len(body)]:#04x} (the data sums to {want:#04x}); "
            "the file is damaged"
        )
    voices = []
    for i in range(VOICES_PER_CART):
        values, name = unpack_voice(body[i * PACKED_VOICE : (i + 1) * PACKED_VOICE])
        voices.append(Voice(tuple(values), name, f"{p.name}#{i + 1}"))
    return voices


def read_cartridges(folder: str | Path) -> list[Voice]:
    """Every voice of every ``.syx`` file in ``folder`` and its subfolders, sorted by path."""
    d = Path(folder)
    if not d.is_dir():
        raise CartridgeError(f"--presets-from {d}: no such folder of .syx cartridges")
    files = sorted(f for f in d.rglob("*") if f.suffix.lower() == ".syx" and f.is_file())
    if not files:
        raise CartridgeError(f"--presets-from {d}: the folder holds no .syx cartridge")
    return [v for f in files for v in read_cartridge(f)]
