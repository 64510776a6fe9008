"""Make the out-of-domain (OOD) evaluation sounds: audio the evaluated model never saw.

Run: ``flowsynth ood-set --out runs/ood/subtractive --synth subtractive``
(``--per-kind 12 --seed 0 --seconds 4 --sample-rate 22050`` are the defaults). Three kinds:

- ``other_synth/``: natural presets of the *other* built-in synth, one note (MIDI 60, velocity 100);
- ``noise/``: white, pink or brown noise under an envelope, through a random pedalboard chain;
- ``voice/``: espeak-ng speech and chanted syllables, numpy sung vowels and hums, sox vowels.

Everything is generated here from a seed (nothing is downloaded); docs/ood_set.md says why each
kind is out of domain. Files are mono 24-bit WAV, exactly ``seconds`` long, peaks at -6 dBFS.
``manifest.json`` lists each file with how it was made and its sha256, plus tool versions.
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    # One thread per numeric library before they start their pools: the machine is shared.
    for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pedalboard  # noqa: E402
import scipy  # noqa: E402
from scipy.signal import lfilter  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bridge import __version__  # noqa: E402
from bridge.audio.io import load_audio, save_wav  # noqa: E402
from bridge.data.dataset import sha256_file, write_json_atomic  # noqa: E402
from bridge.data.render import SILENCE_DB  # noqa: E402
from bridge.synth.base import Note  # noqa: E402
from bridge.synth.registry import BUILTIN_SYNTHS, get_synth  # noqa: E402

FORMAT = "flowsynth-ood-set"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
KINDS = ("other_synth", "noise", "voice")
OTHER_SYNTH = {"subtractive": "fm", "fm": "subtractive"}
PEAK_DBFS = -6.0
# 24-bit PCM, not float: libsndfile stamps float WAVs with the write time (PEAK chunk), which
# would make identical audio hash differently from run to run.
WAV_SUBTYPE = "PCM_24"
# Command-line tool -> Debian package that provides it.
TOOLS = {"espeak-ng": "espeak-ng", "sox": "sox"}
VOICE_METHODS = ("numpy_sung", "espeak_speech", "sox_vowel", "numpy_hum", "espeak_chant")
ESPEAK_VOICES = ("en", "en-us", "en+f2", "en+f3", "en+f4", "en+m1", "en+m3", "en+m7")
# What a user might say into a microphone to ask for a sound: descriptions and onomatopoeia.
PHRASES = (
    "a warm pad that slowly opens up",
    "boom tss boom boom tss",
    "wah wah wah wowww",
    "something bright, glassy and a little metallic",
    "brrrr, a deep growling bass",
    "ding ding dong",
    "make it buzz like an old radio",
    "vroom vroom",
    "a soft bell, far away",
    "zap! pew pew pew",
    "hollow, breathy, like wind in a bottle",
    "dum da dum, da dum da dum",
)
SYLLABLES = ("la", "na", "da", "doo", "mah", "loo", "yah", "ooh")
# Vowel formants (Hz) and bandwidths: textbook averages for an adult male voice.
VOWELS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "a": ((730, 1090, 2440, 3400), (90, 110, 140, 200)),
    "e": ((530, 1840, 2480, 3500), (70, 100, 140, 200)),
    "i": ((280, 2250, 2900, 3600), (60, 100, 140, 200)),
    "o": ((570, 840, 2410, 3300), (80, 90, 140, 200)),
    "u": ((310, 870, 2250, 3300), (60, 90, 140, 200)),
}
# A closed-mouth "m": one low nasal resonance, an anti-resonance, weak upper formants.
HUM_POLES = ((250, 1150, 2300, 3000), (80, 200, 250, 300))
HUM_ZERO = (850.0, 120.0)
SCALE_STEPS = (-5, -3, 0, 2, 4, 5, 7, 9, 12)
NONLINEAR = ("Distortion", "Bitcrush")
NONLINEAR_PEAK = 0.5


class OODSetError(ValueError):
    """The OOD set cannot be made as asked; the message says what to do."""


# --- helpers -------------------------------------------------------------------------------


def _rng(seed: int, kind: str, index: int) -> np.random.Generator:
    # One generator per file: a file's content depends on (seed, kind, index) only, so a set
    # with more files per kind starts with the same files as a smaller one.
    return np.random.default_rng(np.random.SeedSequence([seed, KINDS.index(kind), index]))


def _r(x: float, digits: int = 4) -> float:
    # Settings are rounded before use, so the manifest's numbers remake the file exactly.
    return round(float(x), digits)


def _finish(audio: np.ndarray, n: int, sample_rate: int) -> np.ndarray:
    """Exactly ``n`` samples, no DC, a short fade at the end, peak at PEAK_DBFS."""
    x = np.asarray(audio, dtype=np.float64).ravel()[:n]
    x = np.pad(x, (0, n - len(x)))
    x = x - x.mean()
    # A trimmed tail would end in a click, which is not part of the sound.
    fade = min(n, int(0.01 * sample_rate))
    if fade > 1:
        x[n - fade :] *= np.linspace(1.0, 0.0, fade)
    peak = np.abs(x).max() if n else 0.0
    if not np.isfinite(peak) or peak < 1e-6:
        raise RuntimeError("a generated sound came out silent or non-finite; this is a bug")
    return (x * (10 ** (PEAK_DBFS / 20) / peak)).astype(np.float32)


def _require_tools() -> dict[str, str]:
    """Paths of espeak-ng and sox, or an error naming the packages to install."""
    found = {tool: shutil.which(tool) for tool in TOOLS}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        pkgs = " ".join(TOOLS[t] for t in missing)
        raise OODSetError(
            f"{', '.join(missing)} not found on PATH; the voice sounds need it. Install with "
            f"`sudo apt-get install {pkgs}` (or run scripts/install_system_deps.sh as root)"
        )
    return {tool: str(path) for tool, path in found.items()}


def _run(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as e:
        err = e.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{cmd[0]} failed (exit {e.returncode}): {err}") from e


def _tool_versions(paths: dict[str, str]) -> dict[str, str]:
    out = {}
    for tool, arg in (("espeak-ng", "--version"), ("sox", "--version")):
        res = subprocess.run([paths[tool], arg], capture_output=True, text=True, timeout=30)
        text = (res.stdout or res.stderr).strip().splitlines()
        line = text[0].strip() if text else "unknown"
        # sox prefixes its own path ("/usr/bin/sox:  SoX v14.4.2"); the path is no version.
        line = line.split(":", 1)[1].strip() if line.startswith("/") else line
        # espeak-ng appends where its data lives, which is no version either.
        out[tool] = line.split("Data at:")[0].strip()
    out.update(
        python=platform.python_version(),
        numpy=np.__version__,
        scipy=scipy.__version__,
        pedalboard=pedalboard.__version__,
        flowsynth_bridge=__version__,
    )
    return out


def _public(cmd: list[str], out: str) -> list[str]:
    # Temporary and install paths mean nothing on another machine: the tool's name and a
    # placeholder output make a command anyone can paste.
    return [Path(cmd[0]).name] + ["OUT.wav" if c == out else c for c in cmd[1:]]


# --- other synth ---------------------------------------------------------------------------


def _other_synth(rng: np.random.Generator, synth_name: str, sr: int, seconds: float) -> tuple:
    synth = get_synth(synth_name)
    note = Note(60, 100, held=_r(0.75 * seconds), duration=seconds)
    threshold = 10.0 ** (SILENCE_DB / 20.0)
    # Natural presets are rarely silent; the cap only guards against a broken synth.
    for draw in range(100):
        preset = synth.sample_presets(rng, 1, "natural")
        audio = np.asarray(synth.render(preset, note, sr), dtype=np.float32)[0]
        if np.all(np.isfinite(audio)) and np.abs(audio).max() >= threshold:
            values = {
                k: float(v) for k, v in zip(synth.spec.names, preset[0].tolist(), strict=True)
            }
            settings = {
                "synth": synth_name,
                "sampling": "natural",
                "note": note.to_dict(),
                "silent_draws_skipped": draw,
                "preset_normalized": values,
            }
            return audio, settings, None
    raise RuntimeError(f"{synth_name}: 100 natural presets in a row were silent; it is broken")


# --- noise ---------------------------------------------------------------------------------


def _colored_noise(rng: np.random.Generator, color: str, n: int) -> np.ndarray:
    white = rng.standard_normal(n)
    if color == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    # Pink falls 3 dB per octave (power ~ 1/f), brown 6 dB (power ~ 1/f^2).
    spec = spec / (np.sqrt(f) if color == "pink" else f)
    spec[0] = 0.0
    return np.fft.irfft(spec, n)


def _envelope(rng: np.random.Generator, n: int, sr: int, seconds: float) -> tuple:
    t = np.arange(n) / sr
    shape = str(rng.choice(["swell", "bursts", "gated"]))
    if shape == "swell":
        s = {
            "shape": shape,
            "attack_s": _r(rng.uniform(0.05, 0.5) * seconds),
            "release_s": _r(rng.uniform(0.1, 0.4) * seconds),
        }
        env = np.minimum(t / s["attack_s"], 1.0) * np.clip((seconds - t) / s["release_s"], 0, 1)
        return env**2, s
    if shape == "bursts":
        k = int(rng.integers(1, 5))
        onsets = sorted(_r(rng.uniform(0, 0.7 * seconds)) for _ in range(k))
        decay = _r(rng.uniform(0.05, 0.6))
        env = np.zeros(n)
        for on in onsets:
            d = t - on
            env += np.where(d >= 0, np.exp(-np.maximum(d, 0) / decay) * np.minimum(d / 0.003, 1), 0)
        return np.minimum(env, 1.0), {"shape": shape, "onsets_s": onsets, "decay_s": decay}
    rate = _r(rng.uniform(2.0, 8.0))
    duty = _r(rng.uniform(0.2, 0.7))
    phase = (t * rate) % 1.0
    # Raised-cosine edges (5 % of a period) keep the gate from clicking.
    edge = 0.05
    env = np.clip(np.minimum(phase / edge, (duty - phase) / edge), 0, 1)
    env = 0.5 - 0.5 * np.cos(np.pi * env)
    return env, {"shape": shape, "rate_hz": rate, "duty": duty}


def _random_effects(rng: np.random.Generator) -> list[dict]:
    """A filter, then one or two colourings, then maybe a delay and a reverb."""
    chain: list[dict] = []
    f = str(rng.choice(["LowpassFilter", "HighpassFilter", "LadderFilter", "PeakFilter"]))
    if f == "LowpassFilter":
        chain.append({"effect": f, "cutoff_frequency_hz": _r(300 * 20 ** rng.uniform(0, 1))})
    elif f == "HighpassFilter":
        chain.append({"effect": f, "cutoff_frequency_hz": _r(100 * 30 ** rng.uniform(0, 1))})
    elif f == "LadderFilter":
        chain.append(
            {
                "effect": f,
                "mode": str(rng.choice(["LPF24", "BPF12", "HPF12"])),
                "cutoff_hz": _r(200 * 25 ** rng.uniform(0, 1)),
                "resonance": _r(rng.uniform(0.1, 0.9)),
                "drive": _r(rng.uniform(1, 3)),
            }
        )
    else:
        chain.append(
            {
                "effect": f,
                "cutoff_frequency_hz": _r(300 * 15 ** rng.uniform(0, 1)),
                "gain_db": _r(rng.uniform(6, 18)),
                "q": _r(rng.uniform(1, 8)),
            }
        )
    pool = ["Chorus", "Phaser", "Distortion", "Bitcrush"]
    for name in rng.choice(pool, size=int(rng.integers(1, 3)), replace=False):
        name = str(name)
        if name == "Chorus":
            chain.append(
                {
                    "effect": name,
                    "rate_hz": _r(rng.uniform(0.2, 3)),
                    "depth": _r(rng.uniform(0.1, 0.8)),
                    "mix": _r(rng.uniform(0.3, 0.7)),
                }
            )
        elif name == "Phaser":
            chain.append(
                {
                    "effect": name,
                    "rate_hz": _r(rng.uniform(0.1, 2)),
                    "depth": _r(rng.uniform(0.3, 1)),
                    "feedback": _r(rng.uniform(0, 0.7)),
                    "mix": _r(rng.uniform(0.3, 0.8)),
                }
            )
        elif name == "Distortion":
            chain.append({"effect": name, "drive_db": _r(rng.uniform(5, 30))})
        else:
            chain.append({"effect": name, "bit_depth": _r(rng.uniform(4, 10))})
    if rng.random() < 0.5:
        chain.append(
            {
                "effect": "Delay",
                "delay_seconds": _r(rng.uniform(0.05, 0.5)),
                "feedback": _r(rng.uniform(0.1, 0.6)),
                "mix": _r(rng.uniform(0.2, 0.5)),
            }
        )
    if rng.random() < 0.6:
        chain.append(
            {
                "effect": "Reverb",
                "room_size": _r(rng.uniform(0.2, 0.95)),
                "damping": _r(rng.uniform(0.1, 0.9)),
                "wet_level": _r(rng.uniform(0.1, 0.6)),
                "dry_level": _r(rng.uniform(0.4, 0.9)),
            }
        )
    return chain


def _apply_chain(chain: list[dict], x: np.ndarray, sr: int) -> np.ndarray:
    for item in chain:
        params = {k: v for k, v in item.items() if k != "effect"}
        if item["effect"] == "LadderFilter":
            params["mode"] = getattr(pedalboard.LadderFilter.Mode, params["mode"])
        if item["effect"] in NONLINEAR:
            # Drive and bit depth only mean something at a known input level; a narrow filter
            # before them can leave the noise near silent (a 6-bit crusher then outputs zeros).
            x = x * (NONLINEAR_PEAK / max(float(np.abs(x).max()), 1e-9))
        x = getattr(pedalboard, item["effect"])(**params)(x.astype(np.float32), sr)
    return x


def _noise(rng: np.random.Generator, index: int, sr: int, seconds: float) -> tuple:
    n = int(round(seconds * sr))
    color = ("white", "pink", "brown")[index % 3]
    src = _colored_noise(rng, color, n)
    src = src / (np.abs(src).max() + 1e-12)
    env, env_settings = _envelope(rng, n, sr, seconds)
    chain = _random_effects(rng)
    # Headroom before the chain: distortion and resonant filters should shape, not just clip.
    x = (0.25 * src * env).astype(np.float32)[None, :]
    audio = _apply_chain(chain, x, sr)[0]
    settings = {
        "color": color,
        "envelope": env_settings,
        "pedalboard_chain": chain,
        "peak_before_nonlinear_stages": NONLINEAR_PEAK,
    }
    return audio, settings, None


# --- voice ---------------------------------------------------------------------------------


def _melody(rng: np.random.Generator, base: int, seconds: float) -> list[tuple[float, int]]:
    """(onset seconds, MIDI pitch) pairs: a short tune in a major-ish scale around ``base``."""
    k = int(rng.integers(2, 6))
    cuts = np.sort(rng.uniform(0.15, 0.9, size=k - 1)) * seconds
    onsets = [0.0] + [_r(c, 3) for c in cuts]
    pitches = [base] + [base + int(rng.choice(SCALE_STEPS)) for _ in range(k - 1)]
    return list(zip(onsets, pitches, strict=True))


def _pitch_curve(rng: np.random.Generator, notes: list, n: int, sr: int, vib: dict) -> np.ndarray:
    """f0 in Hz per sample: glides between notes, vibrato that grows in on each held note."""
    t = np.arange(n) / sr
    onsets = np.array([o for o, _ in notes])
    idx = np.searchsorted(onsets, t, side="right") - 1
    midi = np.array([p for _, p in notes], dtype=np.float64)[idx]
    # A one-pole smoother (about 40 ms) turns note steps into portamento, as a voice glides.
    a = np.exp(-1.0 / (0.04 * sr))
    midi = lfilter([1 - a], [1, -a], midi, zi=[a * midi[0]])[0]
    since = t - onsets[idx]
    depth = vib["depth_semitones"] * np.clip((since - 0.2) / 0.3, 0, 1)
    midi = midi + depth * np.sin(2 * np.pi * vib["rate_hz"] * t)
    # Slow random drift of up to 15 cents: nobody holds a pitch perfectly.
    drift = lfilter([1 - 0.9995], [1, -0.9995], rng.standard_normal(n))
    midi = midi + 0.15 * drift / (np.abs(drift).max() + 1e-12)
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _glottal_source(f0: np.ndarray, sr: int, tilt: float) -> np.ndarray:
    """A band-limited pulse train: harmonics summed up to just under Nyquist, none aliasing."""
    phase = 2 * np.pi * np.cumsum(f0) / sr
    top = int(0.45 * sr / f0.max())
    out = np.zeros_like(f0)
    for k in range(1, max(top, 1) + 1):
        out += k ** (-tilt) * np.cos(k * phase)
    return out


def _resonator(freq: float, bw: float, sr: int) -> tuple[list[float], list[float]]:
    r = np.exp(-np.pi * bw / sr)
    c = 2 * r * np.cos(2 * np.pi * freq / sr)
    # Unity gain at 0 Hz, so cascading formants keeps a voice's natural spectral balance.
    return [1 - c + r * r], [1.0, -c, r * r]


def _formant_filter(x: np.ndarray, sr: int, poles, zero=None, scale: float = 1.0) -> np.ndarray:
    y = x
    for f, bw in zip(*poles, strict=True):
        if f * scale < 0.45 * sr:
            b, a = _resonator(f * scale, bw, sr)
            y = lfilter(b, a, y)
    if zero is not None:
        b, a = _resonator(zero[0] * scale, zero[1], sr)
        y = lfilter(a, b, y)  # the inverse of a resonance is a notch
    # Lip radiation lifts the top end by about 6 dB per octave.
    return np.diff(y, prepend=y[0])


def _numpy_voice(rng: np.random.Generator, sr: int, seconds: float, hum: bool) -> tuple:
    n = int(round(seconds * sr))
    base = int(rng.integers(43, 58) if hum else rng.integers(45, 70))
    notes = _melody(rng, base, seconds)
    vib = {"rate_hz": _r(rng.uniform(4.5, 6.5)), "depth_semitones": _r(rng.uniform(0.1, 0.6))}
    f0 = _pitch_curve(rng, notes, n, sr, vib)
    tilt = _r(rng.uniform(2.2, 2.8) if hum else rng.uniform(1.6, 2.2))
    src = _glottal_source(f0, sr, tilt)
    breath = _r(rng.uniform(0.0, 0.03))
    src = src / np.abs(src).max() + breath * rng.standard_normal(n)
    # Higher voices have shorter vocal tracts: their formants sit higher.
    scale = _r(1.0 + 0.15 * np.clip((base - 50) / 20, 0, 1))
    t = np.arange(n) / sr
    settings: dict = {
        "notes": [{"onset_s": o, "midi": p} for o, p in notes],
        "vibrato": vib,
        "spectral_tilt": tilt,
        "breath": breath,
        "formant_scale": scale,
    }
    if hum:
        y = _formant_filter(src, sr, HUM_POLES, HUM_ZERO, scale)
        settings["formants"] = {
            "poles_hz": HUM_POLES[0],
            "bandwidths_hz": HUM_POLES[1],
            "zero_hz": HUM_ZERO,
        }
        amp = np.ones(n)
    else:
        vowels = [str(rng.choice(list(VOWELS))) for _ in notes]
        settings["vowels"] = vowels
        bank = {v: _formant_filter(src, sr, VOWELS[v], None, scale) for v in sorted(set(vowels))}
        onsets = np.array([o for o, _ in notes])
        idx = np.searchsorted(onsets, t, side="right") - 1
        y = np.zeros(n)
        # Each vowel's weight is smoothed (about 60 ms) so the mouth moves, it does not jump.
        a = np.exp(-1.0 / (0.06 * sr))
        for v, filtered in bank.items():
            w = np.array([vv == v for vv in vowels], dtype=np.float64)[idx]
            w = lfilter([1 - a], [1, -a], w, zi=[a * w[0]])[0]
            y += w * filtered
        # A small dip at each new note: a sung line re-articulates, a hum does not.
        d = t[:, None] - onsets[None, 1:]
        dips = np.exp(-(d**2) / (2 * 0.03**2)).sum(axis=1)
        amp = np.clip(1 - 0.4 * dips, 0.2, 1.0)
    attack, release = _r(rng.uniform(0.05, 0.2)), _r(rng.uniform(0.1, 0.3))
    settings.update(attack_s=attack, release_s=release)
    env = np.minimum(t / attack, 1.0) * np.clip((seconds - t) / release, 0, 1)
    return y * env * amp, settings, None


def _espeak(exe: str, tmp: Path, sr: int, args: list[str], text: str) -> tuple[np.ndarray, list]:
    out = str(tmp / "espeak.wav")
    cmd = [exe, *args, "-w", out, text]
    _run(cmd)
    return load_audio(out, sr), _public(cmd, out)


def _espeak_speech(rng, exe: str, tmp: Path, sr: int, seconds: float) -> tuple:
    voice = str(rng.choice(ESPEAK_VOICES))
    pitch, speed = int(rng.integers(20, 80)), int(rng.integers(110, 170))
    text = str(rng.choice(PHRASES))
    audio, cmd = _espeak(exe, tmp, sr, ["-v", voice, "-p", str(pitch), "-s", str(speed)], text)
    return audio, {"voice": voice, "pitch": pitch, "speed_wpm": speed, "text": text}, [cmd]


def _espeak_chant(rng, exe: str, tmp: Path, sr: int, seconds: float) -> tuple:
    """Sung-style syllables: each one spoken slowly on a flat pitch, the pitch set per note."""
    voice = str(rng.choice(ESPEAK_VOICES))
    k = max(2, int(round(seconds / rng.uniform(0.5, 0.9))))
    start = int(rng.integers(20, 70))
    steps = [0] + [int(rng.choice([-12, -8, -4, 4, 8, 12])) for _ in range(k - 1)]
    pitches = np.clip(start + np.cumsum(steps), 0, 99).tolist()
    sylls = [str(rng.choice(SYLLABLES)) for _ in range(k)]
    pieces, cmds = [], []
    for p, s in zip(pitches, sylls, strict=True):
        # range="x-low" flattens espeak's speech intonation into something like a held note.
        ssml = f'<speak><prosody rate="x-slow" range="x-low">{s}</prosody></speak>'
        audio, cmd = _espeak(exe, tmp, sr, ["-m", "-z", "-v", voice, "-p", str(p)], ssml)
        loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
        pieces.append(audio[loud[0] : loud[-1] + 1] if len(loud) else audio)
        cmds.append(cmd)
    xf = int(0.03 * sr)
    out = pieces[0]
    for piece in pieces[1:]:
        # Overlap-add with a short crossfade: legato, like a singer joining syllables.
        m = min(xf, len(out), len(piece))
        ramp = np.linspace(0, 1, m)
        out = np.concatenate(
            [out[: len(out) - m], out[len(out) - m :] * (1 - ramp) + piece[:m] * ramp, piece[m:]]
        )
    return out, {"voice": voice, "syllables": sylls, "pitches": pitches}, cmds


def _sox_vowel(rng, exe: str, tmp: Path, sr: int, seconds: float) -> tuple:
    """A sawtooth "voice" in sox: oversampled (no aliasing), bent through a tune, formant EQ."""
    vowel = str(rng.choice(list(VOWELS)))
    base = int(rng.integers(45, 67))
    notes = _melody(rng, base, seconds)
    rate, depth = _r(rng.uniform(4.5, 6.5), 2), int(rng.integers(15, 50))
    bends: list[str] = []
    now, cents = 0.0, 0
    # bend takes (delay, cents, duration) steps relative to the previous step's end: glide to
    # each note in 80 ms, then triangle vibrato of +/- depth cents until the next note.
    ends = [o for o, _ in notes[1:]] + [seconds]
    for (onset, pitch), end in zip(notes, ends, strict=True):
        target = (pitch - base) * 100
        if target != cents:
            glide_at = max(onset - 0.04, now)
            bends.append(f"{glide_at - now:.3f},{target - cents},0.08")
            now, cents = round(glide_at, 3) + 0.08, target
        # Rounded as sox will read them, so the tracked time matches sox's own.
        half = round(0.5 / rate, 3)
        quarter = round(half / 2, 3)
        sign = 1
        t = max(now, onset + 0.25)
        if t + 2 * half > end:
            continue
        bends.append(f"{t - now:.3f},{depth},{quarter:.3f}")
        now = round(t, 3) + quarter
        while now + 2 * half < end:
            bends.append(f"0,{-2 * depth * sign},{half:.3f}")
            now += half
            sign = -sign
        bends.append(f"0,{-depth * sign},{quarter:.3f}")
        now += quarter
    scale = 1.0 + 0.15 * float(np.clip((base - 50) / 20, 0, 1))
    freqs = [round(f * scale) for f in VOWELS[vowel][0][:3]]
    gains = [18, 14, 10]
    out = str(tmp / "sox.wav")
    hz = 440.0 * 2 ** ((base - 69) / 12)
    cmd = [
        exe,
        "-R",
        "-D",
        "-r",
        str(4 * sr),
        "-n",
        "-r",
        str(sr),
        "-c",
        "1",
        "-b",
        "32",
        "-e",
        "floating-point",
        out,
        "synth",
        f"{seconds:g}",
        "sawtooth",
        f"{hz:.3f}",
        "gain",
        "-24",
    ]
    if bends:
        cmd += ["bend", *bends]
    cmd += ["tremolo", f"{rate:g}", "10", "highpass", "80"]
    for f, g in zip(freqs, gains, strict=True):
        cmd += ["equalizer", str(f), f"{max(f / 90, 1.0):.2f}q", f"+{g}"]
    cmd += [
        "lowpass",
        "-2",
        str(min(5000, int(0.45 * sr))),
        "fade",
        "q",
        "0.12",
        f"{seconds:g}",
        "0.25",
        "rate",
        "-v",
        str(sr),
    ]
    _run(cmd)
    audio = load_audio(out, sr)
    settings = {
        "vowel": vowel,
        "notes": [{"onset_s": o, "midi": p} for o, p in notes],
        "vibrato": {"rate_hz": rate, "depth_cents": depth},
        "formants_hz": freqs,
    }
    return audio, settings, [_public(cmd, out)]


# --- the set -------------------------------------------------------------------------------


def _args_dict(synth: str, sample_rate: int, seconds: float, per_kind: int, seed: int) -> dict:
    return {
        "synth": synth,
        "other_synth": OTHER_SYNTH[synth],
        "sample_rate": sample_rate,
        "seconds": seconds,
        "per_kind": per_kind,
        "seed": seed,
    }


def _check_args(synth: str, sample_rate: int, seconds: float, per_kind: int, seed: int) -> None:
    if synth not in OTHER_SYNTH:
        known = ", ".join(BUILTIN_SYNTHS)
        raise OODSetError(
            f"unknown synth {synth!r}: the OOD set is made for a model of one of the built-in "
            f"synths ({known}); its other_synth/ sounds come from the other one"
        )
    if not 8000 <= sample_rate <= 192000:
        raise OODSetError(
            f"sample rate {sample_rate} Hz should lie in 8000..192000 (22050 is usual)"
        )
    if not 0.5 <= seconds <= 60:
        raise OODSetError(f"--seconds {seconds} should lie in 0.5..60 (the models use 4)")
    if per_kind < 1:
        raise OODSetError(f"--per-kind must be at least 1, got {per_kind}")
    if seed < 0:
        raise OODSetError(f"--seed must be non-negative, got {seed}")


def _is_complete(out: Path, manifest: dict) -> bool:
    if manifest.get("status") != "complete":
        return False
    for item in manifest.get("files", []):
        p = out / item["path"]
        if not p.is_file() or sha256_file(p) != item["sha256"]:
            return False
    return True


def _prepare(out: Path, args: dict, overwrite: bool) -> dict | None:
    """The finished manifest if the set is already there, else None once ``out`` is ready."""
    mpath = out / MANIFEST
    if mpath.exists():
        try:
            old = json.loads(mpath.read_text())
        except (OSError, json.JSONDecodeError) as e:
            if not overwrite:
                raise OODSetError(f"{mpath} is unreadable ({e}); rerun with --overwrite") from e
            old = {"format": FORMAT}
        if old.get("format") != FORMAT:
            # Some other tool's manifest (a dataset's, say): never ours to replace.
            raise OODSetError(
                f"{mpath} is not an OOD set's manifest (format {old.get('format')!r}); "
                "give another --out"
            )
        if old.get("args") == args and _is_complete(out, old):
            return old
        if old.get("args") != args and not overwrite:
            diff = sorted(k for k in args if old.get("args", {}).get(k) != args[k])
            raise OODSetError(
                f"{out} holds an OOD set made with other settings (differing: {', '.join(diff)}); "
                "give another --out, the same settings, or --overwrite to replace it"
            )
    elif out.exists() and any(out.iterdir()) and not overwrite:
        raise OODSetError(
            f"{out} is not empty and has no {MANIFEST}: not an OOD set made here. Give an empty "
            "or new folder, or --overwrite to write into it"
        )
    # Old files of ours could outlive a smaller --per-kind; other files are left alone.
    for kind in KINDS:
        for stale in (out / kind).glob("*.wav") if (out / kind).is_dir() else ():
            stale.unlink()
    for kind in KINDS:
        (out / kind).mkdir(parents=True, exist_ok=True)
    return None


def make_ood_set(
    out_dir: str | os.PathLike,
    synth: str,
    sample_rate: int = 22050,
    seconds: float = 4.0,
    per_kind: int = 12,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Write the OOD sound set for a model of built-in ``synth`` to ``out_dir``; its manifest.

    ``per_kind`` files of each kind (other_synth, noise, voice). A complete set with the same
    settings is left as it is; other settings in ``out_dir`` are an error unless ``overwrite``.
    Raises :class:`OODSetError` for bad settings or missing espeak-ng / sox.
    """
    seconds = float(seconds)
    sample_rate, per_kind, seed = int(sample_rate), int(per_kind), int(seed)
    _check_args(synth, sample_rate, seconds, per_kind, seed)
    tools = _require_tools()
    out = Path(out_dir)
    args = _args_dict(synth, sample_rate, seconds, per_kind, seed)
    done = _prepare(out, args, overwrite)
    if done is not None:
        return done
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "args": args,
        "tools": _tool_versions(tools),
        "peak_dbfs": PEAK_DBFS,
        "wav_subtype": WAV_SUBTYPE,
    }
    # Written first, so a rerun after a crash knows the half-made folder is ours.
    write_json_atomic(out / MANIFEST, {**header, "status": "incomplete", "files": []})
    n = int(round(seconds * sample_rate))
    espeak, sox = tools["espeak-ng"], tools["sox"]
    voice_fns: dict[str, Callable] = {
        "espeak_speech": lambda r, d: _espeak_speech(r, espeak, d, sample_rate, seconds),
        "espeak_chant": lambda r, d: _espeak_chant(r, espeak, d, sample_rate, seconds),
        "sox_vowel": lambda r, d: _sox_vowel(r, sox, d, sample_rate, seconds),
        "numpy_sung": lambda r, d: _numpy_voice(r, sample_rate, seconds, hum=False),
        "numpy_hum": lambda r, d: _numpy_voice(r, sample_rate, seconds, hum=True),
    }
    files = []
    bar = tqdm(total=len(KINDS) * per_kind, desc="OOD set", unit="file", disable=not progress)
    with tempfile.TemporaryDirectory(prefix="ood_set_") as tmpdir:
        tmp = Path(tmpdir)
        for kind in KINDS:
            for i in range(per_kind):
                rng = _rng(seed, kind, i)
                if kind == "other_synth":
                    method = f"{OTHER_SYNTH[synth]}_synth"
                    audio, settings, cmds = _other_synth(
                        rng, OTHER_SYNTH[synth], sample_rate, seconds
                    )
                elif kind == "noise":
                    method = "pedalboard"
                    audio, settings, cmds = _noise(rng, i, sample_rate, seconds)
                else:
                    method = VOICE_METHODS[i % len(VOICE_METHODS)]
                    audio, settings, cmds = voice_fns[method](rng, tmp)
                rel = f"{kind}/{kind}_{i:03d}_{method}.wav"
                save_wav(out / rel, _finish(audio, n, sample_rate), sample_rate, WAV_SUBTYPE)
                entry = {"path": rel, "kind": kind, "method": method, "settings": settings}
                if cmds:
                    entry["commands"] = cmds
                entry["sha256"] = sha256_file(out / rel)
                files.append(entry)
                bar.update(1)
    bar.close()
    # Through JSON and back, so this call returns what a later run reads (tuples -> lists).
    manifest = json.loads(json.dumps({**header, "status": "complete", "files": files}))
    write_json_atomic(out / MANIFEST, manifest)
    return manifest


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--out", required=True, help="folder to write (e.g. runs/ood/subtractive)")
    ap.add_argument("--synth", required=True, help="synth the model learned: subtractive or fm")
    ap.add_argument("--sample-rate", type=int, default=22050)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--per-kind", type=int, default=12, help="files of each of the three kinds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overwrite", action="store_true", help="replace another set")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(a: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        manifest = make_ood_set(
            a.out, a.synth, a.sample_rate, a.seconds, a.per_kind, a.seed, overwrite=a.overwrite
        )
    except OODSetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    counts = {k: sum(f["kind"] == k for f in manifest["files"]) for k in KINDS}
    print(
        json.dumps(
            {
                "out": str(a.out),
                "files": counts,
                "seconds_taken": round(time.perf_counter() - start, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
