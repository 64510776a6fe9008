"""`flowsynth listen`: render one preset to a WAV file, and print the preset it rendered."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

PRESET_KINDS = ("random", "natural", "default")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--synth", default="subtractive")
    p.add_argument("--synth-config", default=None, metavar="TOML", help="for vst3: synths")
    p.add_argument("--plugin", default=None, metavar="PATH",
                   help="the Dexed.vst3 for dexed (default: $FLOWSYNTH_DEXED, standard folders)")
    p.add_argument(
        "--preset",
        default="random",
        help="random | natural | default | a JSON file of {name: value} (real values "
        "or category names); unnamed parameters keep their defaults",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter (real value or category name); repeatable",
    )
    p.add_argument("--seed", type=int, default=0, help="for random and natural presets")
    p.add_argument("--pitch", type=int, default=60)
    p.add_argument("--velocity", type=int, default=100)
    p.add_argument("--held", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--sample-rate", type=int, default=22050)
    p.add_argument("--out", required=True, help="WAV file to write")


def _parse_value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _base_preset(synth, kind: str, seed: int) -> np.ndarray:
    spec = synth.spec
    if kind == "default":
        return spec.defaults()
    if kind in ("random", "natural"):
        mode = "uniform" if kind == "random" else "natural"
        return synth.sample_presets(np.random.default_rng(seed), 1, mode)[0]
    path = Path(kind)
    if not path.is_file():
        raise FileNotFoundError(
            f"--preset {kind!r} is neither {', '.join(PRESET_KINDS)} nor an existing JSON file"
        )
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"--preset {path}: not valid JSON ({e})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--preset {path}: expected a JSON object of {{name: value}}")
    return spec.from_values(values)


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    from bridge.audio.io import save_wav

    save_wav(path, audio, sample_rate, subtype="PCM_24")


def run(args: argparse.Namespace) -> int:
    from bridge.audio.io import check_output_file
    from bridge.synth.base import Note
    from bridge.synth.registry import get_synth

    note = Note(args.pitch, args.velocity, args.held, args.duration)
    if not 8000 <= args.sample_rate <= 192000:
        raise ValueError(f"--sample-rate {args.sample_rate} should lie in 8000..192000")
    out = Path(args.out)
    if out.suffix.lower() != ".wav":
        raise ValueError(f"--out {out}: give a .wav file name")
    # Before rendering: a bad path must not cost a render and print a preset for nothing.
    check_output_file(out)
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set {item!r}: write NAME=VALUE, e.g. --set cutoff=800")
        overrides[name.strip()] = _parse_value(value.strip())

    if args.plugin is not None:
        from bridge.synth.dexed import use_plugin

        use_plugin(args.plugin)
    synth = get_synth(args.synth, args.synth_config)
    spec = synth.spec
    preset = spec.from_values(overrides, base=_base_preset(synth, args.preset, args.seed))
    audio = np.asarray(synth.render(spec.check_norm(preset), note, args.sample_rate))[0]

    # name=value lines: they paste back into --set or a --preset JSON file.
    for name, value in spec.describe(preset).items():
        print(f"{name}={value}")
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > 1.0:
        print(f"# peak {20 * np.log10(peak):+.1f} dBFS: clipped to full scale in the file")
    _write_wav(out, np.clip(audio, -1.0, 1.0), args.sample_rate)
    level = f"{20 * np.log10(peak):.1f} dBFS" if peak > 0 else "silent"
    print(f"# wrote {out} ({note.duration:g} s, pitch {note.pitch}, peak {level})")
    return 0
