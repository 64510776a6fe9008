"""Reproduce the shipped Dexed model: render its dataset from Dexed's own cartridges, train
it, evaluate it, and copy it into the package (bridge/assets/models/dexed.pt). Each step
resumes where an interrupted run stopped.

Run: ``.venv/bin/python scripts/ship_dexed_model.py`` (needs Dexed: ``--plugin PATH`` or
``$FLOWSYNTH_DEXED``; in a checkout it finds ../shared/plugins/dexed). The dataset (10000
presets around the 1056 cartridge voices, note 60) renders in about 5 minutes with 2 workers;
the ``dexed`` config trains on one core for at most 38 minutes (``--epochs N`` trains exactly
N epochs instead, to repeat a run on another machine); the evaluation re-renders the inferred
presets through Dexed (a few minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bridge import atomic  # noqa: E402

# Relative to the repo (commands run there), so reports name no machine's folders.
ASSETS = Path("bridge") / "assets" / "models"
DATA, RUN = Path("data") / "dexed10k", Path("runs") / "dexed"
RENDER = [
    "render", "--synth", "dexed", "--sampling", "natural", "--presets", "10000",
    "--shard-size", "250", "--seed", "0", "--out", str(DATA),
]


def flowsynth(*args: str, pin: str | None = None) -> None:
    cmd = [sys.executable, "-m", "bridge.cli", *args]
    if pin is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", pin, *cmd]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin", default=None, help="Dexed.vst3 (default: found as `dexed` is)")
    ap.add_argument("--workers", default="2", help="render workers (2)")
    ap.add_argument("--epochs", type=int, default=None, help="train exactly N epochs")
    ap.add_argument("--core", default="1", help="CPU core training is pinned to (1)")
    args = ap.parse_args()
    os.chdir(ROOT)
    if args.plugin:
        from bridge.synth.dexed import use_plugin

        use_plugin(args.plugin)  # the child commands find it through the environment
    flowsynth(*RENDER, "--workers", args.workers)
    train = ["train", "--data", str(DATA), "--config", "dexed", "--out", str(RUN),
             "--threads", "1"]
    if args.epochs:
        train += ["--set", f"epochs={args.epochs}", "--set", "max_minutes=0"]
    if (RUN / "model.pt").exists():
        print(f"{RUN}/model.pt exists: training skipped (delete {RUN} to train again)")
    else:
        t0 = time.time()
        flowsynth(*train, *(["--resume"] if RUN.exists() else []), pin=args.core)
        print(f"trained in {(time.time() - t0) / 60:.1f} minutes", flush=True)
    ASSETS.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(ASSETS / "dexed.pt") as tmp:  # never a half-copied model
        shutil.copyfile(RUN / "model.pt", tmp)
    size = (ASSETS / "dexed.pt").stat().st_size / 1e6
    print(f"{ASSETS / 'dexed.pt'}: {size:.1f} MB", flush=True)
    if size > 20:
        raise SystemExit(f"{ASSETS / 'dexed.pt'} is {size:.1f} MB, over the 20 MB budget")
    flowsynth("eval", "--model", str(ASSETS / "dexed.pt"), "--data", str(DATA),
              "--out", str(ASSETS / "dexed-eval"), pin=args.core)


if __name__ == "__main__":
    main()
