"""`flowsynth plot macros|morph`: pictures of what a model's macros and morphs do."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=("macros", "morph"), help="macro traversals or a preset morph")
    p.add_argument("--model", default=None, help="model.pt (default: the shipped model)")
    p.add_argument("--out", default=None, help="PNG path (default: macros.png / morph.png)")
    p.add_argument("--steps", type=int, default=7, help="points along each traversal")
    p.add_argument("--a", default=None, help="morph start: JSON preset file {name: value}")
    p.add_argument("--b", default=None, help="morph end: JSON preset file {name: value}")
    p.add_argument("--seed", type=int, default=0, help="seed for random natural presets")


def _preset(spec, path: str | None):
    if path is None:
        return None
    values = json.loads(Path(path).read_text())
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a JSON object of parameter name -> value")
    return spec.from_values(values)


def run(args: argparse.Namespace) -> int:
    from bridge.hosting.registry import resolve_model_path
    from bridge.models.saved import SavedModel
    from bridge.plots import plot_macros, plot_morph

    if args.steps < 2 or args.steps > 32:
        raise ValueError("--steps must be between 2 and 32")
    model = SavedModel.load(resolve_model_path(args.model))
    out = Path(args.out or f"{args.what}.png")
    if args.what == "macros":
        plot_macros(model, out, args.steps)
    else:
        plot_morph(
            model,
            out,
            _preset(model.spec, args.a),
            _preset(model.spec, args.b),
            args.steps,
            args.seed,
        )
    print(f"wrote {out}")
    return 0
