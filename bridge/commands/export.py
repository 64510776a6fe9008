"""`flowsynth export`: write a TorchScript bundle that runs without Python (LibTorch, nn~)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="NAME_OR_PATH",
                   help="model to export (default: the shipped model, as in `flowsynth serve`)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="bundle folder to write, e.g. export/subtractive (an earlier bundle "
                        "there is replaced; any other non-empty folder is refused)")
    p.add_argument("--name", help="bundle name (default: the --out folder's name); the nn~ "
                                  "file is NAME.ts")
    p.add_argument("--nn-tilde", action="store_true",
                   help="also write NAME.ts following nn~'s contract (`nn~ NAME decode`)")
    p.add_argument("--nn-ratio", type=int, default=256, metavar="SAMPLES",
                   help="nn~ control ratio: one model call per this many samples, a power of "
                        "two (default 256)")
    p.add_argument("--no-check", action="store_true",
                   help="skip comparing the scripted model with the eager one (not advised)")


def run(args: argparse.Namespace) -> int:
    from bridge.export import export_bundle
    from bridge.hosting.registry import resolve_model_path

    path = resolve_model_path(args.model)
    result = export_bundle(path, Path(args.out), name=args.name, nn_tilde=args.nn_tilde,
                           nn_ratio=args.nn_ratio, check=not args.no_check)
    print(f"exported {path} -> {result.folder}")
    for kind, f in result.files.items():
        print(f"  {kind}: {f}")
    if result.checks:
        print(f"  checked against the eager model: max abs error {result.max_error:.3g} "
              f"over {len(result.checks)} method/input cases at batch sizes 1, 7, 64")
    print(f"serve it: flowsynth serve --model {result.folder}")
    if args.nn_tilde:
        print(f"in Max: [nn~ {result.files['nn_tilde'].stem} decode] (file on Max's search path; "
              f"--name sets the name); every outlet is 0 for nn~'s first buffer")
    return 0


if __name__ == "__main__":
    from bridge.commands.serve import standalone

    sys.exit(standalone("flowsynth export", __doc__, add_arguments, run))
