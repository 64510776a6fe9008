"""Reproduce the shipped model: render its dataset, train it, evaluate it, and copy it into
the package (bridge/assets/models/). Each step resumes where an interrupted run stopped.

Run: ``.venv/bin/python scripts/ship_default_model.py`` (about 45 minutes on 2 CPU cores).
The training config `default` stops after 42 minutes, so a faster or slower machine trains a
different number of epochs; set ``--set max_minutes=0 --set epochs=N`` via ``--epochs N`` to
repeat a given run exactly (its epoch count is in the model's info and the eval report).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Relative to the repo (commands run there), so reports name no machine's folders.
ASSETS = Path("bridge") / "assets" / "models"
DATA, RUN = Path("data") / "sub8k", Path("runs") / "default"
RENDER = [
    "render",
    "--synth",
    "subtractive",
    "--subset",
    "32",
    "--sampling",
    "natural",
    "--presets",
    "8000",
    "--seed",
    "0",
    "--out",
    str(DATA),
]


def flowsynth(*args: str) -> None:
    print("+ flowsynth " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "bridge.cli", *args], check=True, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="2")
    ap.add_argument(
        "--epochs", type=int, default=None, help="train exactly N epochs, no time limit"
    )
    args = ap.parse_args()
    os.chdir(ROOT)
    flowsynth(*RENDER, "--workers", args.workers)
    train = ["train", "--data", str(DATA), "--config", "default", "--out", str(RUN)]
    if args.epochs:
        train += ["--set", f"epochs={args.epochs}", "--set", "max_minutes=0"]
    if (RUN / "model.pt").exists():
        print(f"{RUN}/model.pt exists: training skipped (delete {RUN} to train again)")
    else:
        flowsynth(*train, *(["--resume"] if RUN.exists() else []))
    add_mean_preset(RUN / "model.pt")
    ASSETS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RUN / "model.pt", ASSETS / "subtractive.pt")
    flowsynth(
        "eval",
        "--model",
        str(ASSETS / "subtractive.pt"),
        "--data",
        str(DATA),
        "--out",
        str(ASSETS / "subtractive-eval"),
    )


def add_mean_preset(path: Path) -> None:
    """Models trained before the mean preset was recorded get it from their dataset."""
    from bridge.data.dataset import Dataset
    from bridge.models.saved import SavedModel

    model = SavedModel.load(path)
    if "mean_preset" in model.info:
        return
    ds_path = Path(model.info["dataset"])
    ds = Dataset(ds_path if ds_path.is_absolute() else ROOT / ds_path)
    params, _, _ = ds.load()
    train = ds.split(seed=int(model.info.get("split_seed", 0)))["train"]
    enc = ds.learn_spec.encode(ds.spec.restrict(ds.learn_spec, params[train]), model.cfg.encoding)
    model.info["mean_preset"] = model.mean_preset(enc).round(6).tolist()
    model.save(path)
    print(json.dumps({"mean_preset": np.round(model.info["mean_preset"], 3).tolist()}))


if __name__ == "__main__":
    main()
