"""Do the dials play like an instrument? Measured on a model as the server serves it.

Run: ``.venv/bin/python benchmarks/macro_quality.py --model subtractive --data data/sub8k
--out benchmarks/results/macro_quality.json [--plot macro_quality.png]``. ``--data`` is the
model's training set (its descriptors' spread is the yardstick of the semantic dials).

From the start point a fresh slot gets (bridge.server.slots.fresh_state), each dial is swept
from 0 to 1 in 21 steps with the others where the start point puts them; every step is
rendered with the model's synth at its first note. Goals (each with ``met``):
- the start point puts under 10% of the numerical outputs outside [0, 1] before the clamp;
- a named dial moves its parameter monotonically (Spearman >= 0.9) over at least half of the
  parameter's range;
- a semantic dial moves its descriptor (bridge.data.tags) monotonically (Spearman >= 0.9) by
  at least one training standard deviation;
- no neighbour step of a sweep is larger than 3 times the sweep's mean step (log-spectral MAE
  between the renders of neighbouring steps).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_result  # noqa: E402

from bridge import atomic  # noqa: E402
from bridge.audio.metrics import log_spectral_mae  # noqa: E402
from bridge.data.dataset import Dataset  # noqa: E402
from bridge.data.tags import DESCRIPTORS, PAIRS, describe_audio  # noqa: E402
from bridge.hosting.registry import load_hosted, resolve_model_path  # noqa: E402
from bridge.models.diagnostics import out_of_range_share  # noqa: E402
from bridge.models.saved import SavedModel  # noqa: E402
from bridge.server.hosting import prepare  # noqa: E402
from bridge.server.slots import fresh_state  # noqa: E402

STEPS = 21
MIN_SPEARMAN = 0.9
MIN_TRAVEL = 0.5
MAX_STEP_RATIO = 3.0
MAX_START_OOR = 0.10


def _rho(u: np.ndarray, y: np.ndarray) -> float:
    return float(spearmanr(u, y)[0]) if np.ptp(y) > 0 else 0.0


def measure(model_name: str, data: str) -> dict:
    host = prepare(load_hosted(model_name))
    saved = SavedModel.load(resolve_model_path(model_name))
    ds = Dataset(data)
    if ds.learn_spec.names != list(host.param_names):
        raise SystemExit(f"{data} does not hold {model_name}'s parameters: pass its training data")
    _, _, tags = ds.load()
    synth, note, sr = ds.synth(), saved.notes[0], ds.features.sample_rate
    start = fresh_state(host).z[None]
    u0 = host.macros_from_latent(start)[0]
    u = np.linspace(0.0, 1.0, STEPS)
    dials = []
    for k, name in enumerate(host.macro_names):
        m = np.repeat(u0[None], STEPS, 0)
        m[:, k] = u
        v = host.params_from_latent(host.latent_from_macros(m, np.repeat(start, STEPS, 0)))
        audio = synth.render(ds.spec.expand(ds.learn_spec, v), note, sr)
        steps = log_spectral_mae(audio[1:], audio[:-1], sr)
        row: dict = {
            "name": name,
            "start_dial": round(float(u0[k]), 4),
            "max_step_over_mean": round(float(steps.max() / max(steps.mean(), 1e-12)), 3),
            "mean_step_log_spec_mae": round(float(steps.mean()), 4),
        }
        pair = PAIRS.get(name.replace("-", "_"))
        if pair is not None:
            desc = pair[0]
            values = tags[desc]
            d = describe_audio(audio, sr, note.held)[:, DESCRIPTORS.index(desc)]
            rho, moved = _rho(u, d), float((d[-1] - d[0]) / values.std())
            row.update(kind="semantic", follows=desc, spearman=round(rho, 3),
                       moved_in_training_stds=round(moved, 3), track=d.round(5).tolist(),
                       ok=bool(rho >= MIN_SPEARMAN and moved >= 1.0))
        elif name in host.param_names:
            y = v[:, list(host.param_names).index(name)]
            rho, travel = _rho(u, y), float(y[-1] - y[0])
            row.update(kind="named", follows=name, spearman=round(rho, 3),
                       travel=round(travel, 3), track=y.round(4).tolist(),
                       ok=bool(rho >= MIN_SPEARMAN and travel >= MIN_TRAVEL))
        else:
            row.update(kind="unnamed", ok=False)
        dials.append(row)
        print(f"{name:18s} {row['kind']:9s} rho {row.get('spearman', float('nan')):+.2f} "
              f"max step/mean {row['max_step_over_mean']:.2f}", flush=True)
    start_oor = out_of_range_share(saved, start)
    named = [d for d in dials if d["kind"] == "named"]
    semantic = [d for d in dials if d["kind"] == "semantic"]
    goal = [
        {"what": "start point: share of numerical outputs outside [0, 1] before the clamp",
         "threshold": MAX_START_OOR, "value": round(start_oor, 4),
         "met": bool(start_oor < MAX_START_OOR)},
        {"what": "every named dial moves its parameter monotonically (Spearman >= 0.9) over "
                 "at least half of its range",
         "value": {d["name"]: d["ok"] for d in named},
         "met": bool(named) and all(d["ok"] for d in named)},
        {"what": "every semantic dial moves its descriptor monotonically (Spearman >= 0.9) by "
                 "at least one training standard deviation",
         "value": {d["name"]: d["ok"] for d in semantic},
         "met": bool(semantic) and all(d["ok"] for d in semantic)},
        {"what": "no neighbour step of a sweep larger than 3x the sweep's mean step "
                 "(log-spectral MAE)",
         "threshold": MAX_STEP_RATIO,
         "value": {d["name"]: d["max_step_over_mean"] for d in dials},
         "met": all(d["max_step_over_mean"] <= MAX_STEP_RATIO for d in dials)},
    ]
    return {"start_point_oor": round(start_oor, 4), "dials": dials, "goal": goal,
            "served_as": type(host).__name__}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dials = result["dials"]
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), sharex=True)
    for ax, d in zip(axes.flat, dials, strict=False):
        if "track" in d:
            ax.plot(np.linspace(0, 1, len(d["track"])), d["track"], marker=".")
        ax.axvline(d["start_dial"], color="grey", lw=0.8, ls="--")
        ax.set_title(f"{d['name']} ({d.get('spearman', float('nan')):+.2f})", fontsize=9)
        ax.set_xlabel("dial")
    fig.suptitle("each dial swept from the start point (dashed): what it follows")
    fig.tight_layout()
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="subtractive", help="a model name or path")
    ap.add_argument("--data", required=True, help="the model's training dataset")
    ap.add_argument("--out", required=True, type=Path, help="where the JSON goes")
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    result = measure(args.model, args.data)
    out = {
        "benchmark": "macro_quality",
        "command": " ".join(["benchmarks/macro_quality.py", *(argv or sys.argv[1:])]),
        "settings": {"model": args.model, "data": args.data, "steps": STEPS},
        "machine": machine_info(),
        "seconds": round(time.time() - t0, 1),
        **result,
    }
    write_result("macro_quality", out, args.out)
    if args.plot:
        plot(out, args.plot)


if __name__ == "__main__":
    main()
