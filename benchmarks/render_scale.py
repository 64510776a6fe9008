"""How rendering scales with workers: ``flowsynth render --workers N`` against ``--ray`` with N.

Run: ``.venv/bin/python benchmarks/render_scale.py --out benchmarks/results/render_scale.json
[--synth subtractive|dexed] [--presets 1536] [--shard-size 64] [--reps 3]``. ``--out`` has no
default, so the committed result is only re-made on purpose.

Each case renders the same dataset (natural presets, the paper's 4 s note) into a fresh folder,
``--reps`` times, with the cases interleaved so that a change in the machine's load falls on all
of them; the JSON has the median shards per second of each. A Ray case starts a local Ray
instance with N CPUs first; its start-up is timed apart (``ray_start_s``) and left out of
shards per second, since a cluster is started once for many renders; the worker processes' own
start (importing torch, loading the synth) is inside both kinds of case. The load average is
recorded before and after.

Goals, judged on the medians: two Ray workers render at least 1.6x the shards per second of
one (the machine has 2 cores, and the driver writes every shard), and Ray with N workers is
within 15% of ``--workers N``'s rate for N = 1 and 2 (Ray's scheduling costs little).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_info, write_result  # noqa: E402

SPEEDUP_GOAL = 1.6
RAY_OVERHEAD_GOAL = 0.15


def _settings(args: argparse.Namespace):
    from bridge.data.render import RenderSettings
    from bridge.synth import PAPER_NOTE

    return RenderSettings(args.synth, args.presets, notes=(PAPER_NOTE,), seed=0,
                          sampling="natural", shard_size=args.shard_size)  # fmt: skip


def _time_case(kind: str, workers: int, settings, scratch: Path) -> dict:
    from bridge import cluster
    from bridge.data.render import render_dataset

    out = scratch / f"{kind}{workers}"
    shutil.rmtree(out, ignore_errors=True)
    quiet = dict(progress=False, log=lambda m: None)
    if kind == "workers":
        t0 = time.perf_counter()
        render_dataset(settings, out, workers=workers, **quiet)
        return {"render_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    with cluster.connect("local", num_cpus=workers):
        t1 = time.perf_counter()
        render_dataset(settings, out, workers=workers, ray="local", **quiet)
        t2 = time.perf_counter()
    return {"render_s": t2 - t1, "ray_start_s": t1 - t0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="JSON file to write")
    p.add_argument("--synth", default="subtractive")
    p.add_argument("--presets", type=int, default=1536)
    p.add_argument("--shard-size", type=int, default=64)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args(argv)
    from bridge import cluster

    cluster.require_ray()
    settings = _settings(args)
    cases = [(kind, n) for n in args.workers for kind in ("workers", "ray")]
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: dict[str, list[dict]] = {f"{k}{n}": [] for k, n in cases}
    with tempfile.TemporaryDirectory(prefix="render_scale-") as tmp:
        for rep in range(args.reps):
            # every rep in another order: a slow spell of the shared machine hits all cases
            order = cases if rep % 2 == 0 else cases[::-1]
            for kind, n in order:
                r = _time_case(kind, n, settings, Path(tmp))
                runs[f"{kind}{n}"].append(r)
                print(f"rep {rep + 1}/{args.reps} {kind} {n}: {r['render_s']:.2f} s",
                      file=sys.stderr)  # fmt: skip
    n_shards = settings.n_shards
    table = {}
    for name, rs in runs.items():
        secs = np.array([r["render_s"] for r in rs])
        table[name] = {
            "shards_per_s_median": round(n_shards / float(np.median(secs)), 3),
            "presets_per_s_median": round(args.presets / float(np.median(secs)), 1),
            "render_s": [round(float(s), 2) for s in secs],
        }
        if "ray_start_s" in rs[0]:
            table[name]["ray_start_s"] = [round(r["ray_start_s"], 2) for r in rs]

    def rate(name: str) -> float:
        return table[name]["shards_per_s_median"]

    checks = {}
    if {"ray1", "ray2"} <= set(table):
        checks["ray_2_over_1"] = {"value": round(rate("ray2") / rate("ray1"), 3),
                                  "threshold": SPEEDUP_GOAL}  # fmt: skip
    for n in args.workers:
        checks[f"ray{n}_over_workers{n}"] = {
            "value": round(rate(f"ray{n}") / rate(f"workers{n}"), 3),
            "threshold": round(1 - RAY_OVERHEAD_GOAL, 3),
        }
    met = all(c["value"] >= c["threshold"] for c in checks.values())
    result = {
        "benchmark": "render_scale",
        "command": "python benchmarks/render_scale.py " + " ".join(argv or sys.argv[1:]),
        "settings": {"synth": args.synth, "presets": args.presets, "shard_size": args.shard_size,
                     "shards": n_shards, "note": "pitch 60, 4 s", "sampling": "natural",
                     "reps": args.reps},  # fmt: skip
        "machine": machine_info() | {"load_average_before": load_before},
        "cases": table,
        "goal": {
            "what": f"2 Ray workers >= {SPEEDUP_GOAL}x the shards/s of 1, and Ray with N "
            f"workers >= {1 - RAY_OVERHEAD_GOAL:.2f}x --workers N (medians)",
            "checks": checks,
            "met": met,
        },
    }
    write_result("render_scale", result, args.out)
    _plot(table, args.workers, args.out.with_suffix(".png"))
    return 0


def _plot(table: dict, workers: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    width = 0.38
    x = np.arange(len(workers))
    for i, (kind, label) in enumerate((("workers", "--workers N"), ("ray", "--ray, N CPUs"))):
        ax.bar(x + (i - 0.5) * width, [table[f"{kind}{n}"]["shards_per_s_median"]
                                       for n in workers], width, label=label)  # fmt: skip
    ax.set_xticks(x, [str(n) for n in workers])
    ax.set_xlabel("workers")
    ax.set_ylabel("shards per second (median)")
    ax.legend()
    fig.tight_layout()
    from bridge import atomic

    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
