"""`flowsynth render`: render a dataset of (preset, spectrogram, tags) to sharded files."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bridge.data import DEFAULT_SHARD_SIZE
from bridge.synth.base import NOTE_SETS, SAMPLING_MODES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--synth",
        default="subtractive",
        help="built-in synth name or vst3:/path/Plugin.vst3 (default: subtractive)",
    )
    p.add_argument(
        "--synth-config",
        default=None,
        metavar="TOML",
        help="TOML file pinning a VST3 plugin's parameters",
    )
    p.add_argument(
        "--plugin",
        default=None,
        metavar="PATH",
        help="the Dexed.vst3 for --synth dexed (default: $FLOWSYNTH_DEXED, then the "
        "standard VST3 folders)",
    )
    p.add_argument(
        "--presets-from",
        default=None,
        metavar="DIR",
        help="natural presets around the voices of these preset files (dexed: DX7 .syx "
        "cartridges; --synth dexed --sampling natural uses Dexed's own by default)",
    )
    p.add_argument("--presets", type=int, required=True, help="how many presets to sample")
    p.add_argument("--out", required=True, help="dataset folder (created; resumed if it exists)")
    p.add_argument(
        "--notes",
        default="60",
        help=f"MIDI pitches '60,64', pitch:velocity pairs '60:100,64:80' or a named "
        f"set ({', '.join(NOTE_SETS)}); several notes give multi-channel inputs",
    )
    p.add_argument("--velocity", type=int, default=100, help="velocity of notes given as pitches")
    p.add_argument("--held", type=float, default=3.0, help="seconds the key is held (3.0)")
    p.add_argument("--duration", type=float, default=4.0, help="seconds rendered per note (4.0)")
    p.add_argument("--sample-rate", type=int, default=22050)
    p.add_argument("--n-mels", type=int, default=64, help="mel bands (64, or 128)")
    p.add_argument(
        "--shard-size",
        type=int,
        default=DEFAULT_SHARD_SIZE,
        help=f"presets per shard file ({DEFAULT_SHARD_SIZE}); the unit of parallel work and resume",
    )
    p.add_argument(
        "--sampling",
        choices=SAMPLING_MODES,
        default=None,
        help="uniform over each parameter's range, or natural (how people program); "
        "default uniform, natural with --presets-from",
    )
    p.add_argument(
        "--subset",
        default=None,
        help="learn only this named subset (or comma-separated parameters); "
        "the others stay at their defaults",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel processes (default: CPU count); results do not depend on it",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="auto|local|ADDRESS",
        help="render the shards as Ray tasks: on the cluster this machine belongs to (auto, "
        "the default), a Ray instance started here (local) or the cluster at ADDRESS; "
        "--workers then caps the tasks in flight. Needs the cluster extra: "
        "pip install 'flowsynth-bridge[cluster]'",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset rendered with other settings in --out",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from bridge.data.render import RenderSettings, make_features, parse_notes, render_dataset

    if args.synth_config is not None and not Path(args.synth_config).is_file():
        raise FileNotFoundError(f"--synth-config {args.synth_config} does not exist")
    if args.plugin is not None:
        from bridge.synth.dexed import use_plugin

        use_plugin(args.plugin)  # the workers find it through the environment too
    presets_from = None
    if args.presets_from is not None:
        if not Path(args.presets_from).is_dir():
            raise FileNotFoundError(f"--presets-from {args.presets_from} is not a folder")
        presets_from = str(Path(args.presets_from).resolve())
    sampling = args.sampling or ("natural" if presets_from else "uniform")
    notes = parse_notes(args.notes, args.velocity, args.held, args.duration)
    settings = RenderSettings(
        synth=args.synth,
        n_presets=args.presets,
        notes=tuple(notes),
        features=make_features(args.sample_rate, args.n_mels),
        seed=args.seed,
        sampling=sampling,
        presets_from=presets_from,
        subset=args.subset,
        shard_size=args.shard_size,
        synth_config=str(Path(args.synth_config).resolve()) if args.synth_config else None,
    )
    workers = args.workers
    if workers is None and args.ray is None:
        workers = min(os.cpu_count() or 1, settings.n_shards)
    manifest = render_dataset(
        settings,
        args.out,
        workers=workers,
        overwrite=args.overwrite,
        progress=not args.quiet,
        ray=args.ray,
    )
    c = manifest["counts"]
    print(
        f"{args.out}: {c['kept']} presets kept of {c['rendered']} rendered "
        f"({c['dropped_silent']} silent dropped, {c['dropped_nonfinite']} non-finite dropped) "
        f"in {len(manifest['shards'])} shard(s), {len(notes)} note(s) each"
    )
    return 0
