"""Add (or rebuild) the matcher's retrieval index inside an existing model file.

Models trained before the index existed match sketches from the model alone; this gives them
the index of their training split, read from the dataset they were trained on:

    .venv/bin/python scripts/add_retrieval_index.py bridge/assets/models/subtractive.pt \\
        --data data/sub8k

The dataset must be the model's own (same synth and parameters; the split comes from the
model's recorded seed). The file is rewritten atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.data.dataset import Dataset  # noqa: E402
from bridge.matching.index import DEFAULT_COMPONENTS, PREFIX, RetrievalIndex  # noqa: E402
from bridge.models.saved import SavedModel  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, required=True, help="the dataset the model trained on")
    ap.add_argument("--components", type=int, default=DEFAULT_COMPONENTS)
    args = ap.parse_args(argv)
    model = SavedModel.load(args.model)
    ds = Dataset(args.data)
    if ds.synth_name != model.synth_name or ds.learn_spec.names != model.learn_spec.names:
        print(f"error: {args.data} holds {ds.synth_name} ({len(ds.learn_spec)} parameters), "
              f"but the model learned {model.synth_name} ({len(model.learn_spec)}); give the "
              "model's own dataset", file=sys.stderr)
        return 2
    params, mels, _ = ds.load()
    train = ds.split(seed=int(model.info.get("split_seed", 0)))["train"]
    learned = ds.spec.restrict(ds.learn_spec, params[train])
    index = RetrievalIndex.build(mels[train].astype(np.float32), learned, args.components)
    model.extras = {k: v for k, v in model.extras.items() if not k.startswith(PREFIX)}
    model.extras.update(index.to_tensors())
    model.save(args.model)
    size = args.model.stat().st_size / 1e6
    print(f"{args.model}: index of {len(index)} training sounds on {index.basis.shape[0]} "
          f"components ({index.nbytes() / 1e6:.1f} MB); the file is now {size:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
