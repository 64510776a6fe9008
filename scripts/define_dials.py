"""Choose a flow model's start point and dials again (bridge.models.macros) from its training
split, and write the model back: the weights are untouched, so its eval stands.

Run: ``.venv/bin/python scripts/define_dials.py MODEL --data DATASET [--out PATH]``. The dataset
is the one the model was trained on (its split seed is in the model's info); without --out
the model file is replaced (atomically).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.data.dataset import Dataset  # noqa: E402
from bridge.models.saved import SavedModel  # noqa: E402
from bridge.train import choose_dials, prepare  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    model = SavedModel.load(args.model)
    if model.cfg.kind != "flow":
        sys.exit(f"{args.model} is a {model.cfg.kind!r} model: only flow models have dials")
    ds = Dataset(args.data)
    if ds.learn_spec.names != model.learn_spec.names:
        sys.exit(f"{args.data} does not hold {args.model}'s parameters: pass its training data")
    data = prepare(ds, model.cfg, split=ds.split(seed=int(model.info.get("split_seed", 0))))
    tr = data.split["train"]
    # The model's own normalization, in case the dataset's statistics moved.
    x = (data.x[tr] * data.norm["std"] + data.norm["mean"] - model.norm["mean"]) / model.norm["std"]
    torch.manual_seed(0)
    model.macros = choose_dials(model, ds, data, x)
    model.save(args.out or args.model)
    print("dials:", ", ".join(model.macros.names))


if __name__ == "__main__":
    main()
