"""Preset morphs with and without the training terms that keep them in range.

Run: ``.venv/bin/python benchmarks/morph_quality.py --data data/sub8k [--train 1600]
[--epochs 12] [--variants "base:inverse_weight=0.1;morph:morph_weight=1,onehot_weight=0.1"]``.
Trains the `default` config's model on a subset of a rendered dataset once per variant (the
same subset, seed and epochs), then scores held-out presets with
bridge.models.diagnostics.morph_health: the fraction of numerical outputs outside [0, 1]
(before the clamp) at morph points between encoded presets and between sound latents, and how
far encoded presets land from their own sounds' latents. ``--model PATH`` scores a saved
model on the dataset's test split instead (no training).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_result  # noqa: E402

from bridge.commands.train import parse_overrides  # noqa: E402
from bridge.data.dataset import Dataset  # noqa: E402
from bridge.models.configs import get_config  # noqa: E402
from bridge.models.diagnostics import morph_health  # noqa: E402
from bridge.models.saved import SavedModel  # noqa: E402
from bridge.train import prepare, train  # noqa: E402

DEFAULT_VARIANTS = "base:inverse_weight=0.1,morph_weight=0,onehot_weight=0"


def score(model: SavedModel, ds: Dataset, idx: np.ndarray) -> dict:
    data = prepare(ds, model.cfg, split=ds.split(seed=int(model.info.get("split_seed", 0))))
    x = (data.x[idx] * data.norm["std"] + data.norm["mean"] - model.norm["mean"]) / model.norm[
        "std"
    ]
    return morph_health(model.net, x, data.v[idx])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default=None, help="score this model instead of training")
    ap.add_argument("--train", type=int, default=1600, help="training presets")
    ap.add_argument("--test", type=int, default=400, help="held-out presets scored")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="name:k=v,k=v;name:...")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="morph_quality", help="result file name")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = Dataset(args.data)
    full = ds.split(seed=0)
    if args.model:
        model = SavedModel.load(args.model)
        idx = full["test"][: args.test]
        cases = {Path(args.model).name: {"scores": score(model, ds, idx)}}
        settings = {"model": args.model, "test": len(idx)}
    else:
        split = {
            "train": full["train"][: args.train],
            "valid": full["valid"][: max(64, args.train // 8)],
            "test": full["test"][: args.test],
        }
        cases = {}
        for spec in args.variants.split(";"):
            name, _, sets = spec.partition(":")
            overrides = parse_overrides([s for s in sets.split(",") if s])
            cfg = get_config("default", epochs=args.epochs, max_minutes=0.0, **overrides)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.time()
                model = train(args.data, cfg, Path(tmp) / "run", split=split, quiet=True)
                minutes = (time.time() - t0) / 60
            cases[name] = {
                "overrides": overrides,
                "train_minutes": round(minutes, 2),
                "best_epoch": model.info["best_epoch"],
                "best_valid_loss": round(model.info["best_valid_loss"], 4),
                "scores": score(model, ds, split["test"]),
            }
            print(name, json.dumps(cases[name]), flush=True)
        settings = {
            "data": args.data,
            "config": "default",
            "train": len(split["train"]),
            "valid": len(split["valid"]),
            "test": len(split["test"]),
            "epochs": args.epochs,
        }
    write_result(
        args.name,
        {
            "benchmark": "morph_quality",
            "command": " ".join(["benchmarks/morph_quality.py", *(argv or sys.argv[1:])]),
            "settings": settings,
            "machine": machine_info(),
            "cases": cases,
        },
    )


if __name__ == "__main__":
    main()
