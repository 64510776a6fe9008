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

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.data.dataset import Dataset  # noqa: E402
from bridge.models.macros import define_macros  # noqa: E402
from bridge.models.saved import SavedModel  # noqa: E402
from bridge.train import prepare  # noqa: E402


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
    synth, note = ds.synth(), ds.notes[0]

    def render(learned: np.ndarray) -> np.ndarray:
        return synth.render(ds.spec.expand(ds.learn_spec, learned), note, ds.features.sample_rate)

    torch.manual_seed(0)
    _, _, tags = ds.load()
    descriptors = {n: tags[n][tr] for n in ds.descriptor_names}
    model.macros = define_macros(model, x, data.v[tr], render=render, descriptors=descriptors)
    model.save(args.out or args.model)
    print("dials:", ", ".join(model.macros.names))


if __name__ == "__main__":
    main()
