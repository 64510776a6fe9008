"""Training throughput (spectrograms per second) and peak memory of each model config.

Run: ``taskset -c 1 .venv/bin/python benchmarks/train_speed.py [--configs "default;baseline-cnn"]
[--steps 20]``. Times full optimisation steps (forward, loss, backward, Adam) on random
spectrograms of the shipped model's shape (1 note, 64 mels, 87 frames, the subtractive
32-parameter subset), after warm-up steps, with all CPU threads (``--threads``) as training uses
them. A config may carry overrides, ``NAME:key=value,key=value`` (e.g. ``default:morph_weight=0``
to time a loss term's cost). Each config runs in its own process, so its peak memory (resident
set; on a GPU also torch's peak allocation) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, peak_rss_mb, write_result  # noqa: E402

from bridge.commands.train import parse_overrides  # noqa: E402
from bridge.models.configs import get_config  # noqa: E402
from bridge.models.saved import build_net  # noqa: E402
from bridge.synth import get_synth  # noqa: E402

SHAPE = (1, 64, 87)


def measure(config: str, steps: int, warmup: int, device: str) -> dict:
    name, _, sets = config.partition(":")
    cfg = get_config(name, **parse_overrides([s for s in sets.split(",") if s]))
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    spec = get_synth("subtractive").spec.subset("32")
    torch.manual_seed(0)
    net = build_net(cfg, spec, *SHAPE).to(device).train()
    opt = torch.optim.Adam(net.parameters(), cfg.lr)
    rng = np.random.default_rng(0)
    x = torch.randn(cfg.batch_size, *SHAPE, device=device)
    v = torch.from_numpy(spec.encode(spec.sample_uniform(rng, cfg.batch_size), cfg.encoding)).to(
        device
    )
    tags = torch.from_numpy(
        rng.integers(-1, 2, (cfg.batch_size, len(cfg.tag_pairs))).astype(np.float32)
    )
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        out = net.loss(x, v, tags.to(device), cfg.beta)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    step = float(np.median(times))
    return {
        "config": config,
        "kind": cfg.kind,
        "batch_size": cfg.batch_size,
        "weights": sum(p.numel() for p in net.parameters()),
        "median_step_s": round(step, 4),
        "p90_step_s": round(float(np.percentile(times, 90)), 4),
        "spectrograms_per_s": round(cfg.batch_size / step, 1),
        "peak_rss_mb": peak_rss_mb(),
        "peak_cuda_mb": (
            round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else None
        ),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def measure_in_subprocess(config: str, args: argparse.Namespace) -> dict:
    """One config per process: peak memory is a per-process high-water mark."""
    cmd = [sys.executable, __file__, "--one", config, "--steps", str(args.steps)]
    cmd += ["--warmup", str(args.warmup), "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"timing {config} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--configs",
        default="default;default:morph_weight=0,onehot_weight=0;"
        "baseline-mlp;baseline-cnn;baseline-vae-mlp",
        help="configs separated by ';', each NAME or NAME:key=value,key=value",
    )
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a child: print one case
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure(args.one, args.steps, args.warmup, args.device)))
        return
    load_before = [round(x, 2) for x in os.getloadavg()]
    cases = [measure_in_subprocess(c, args) for c in args.configs.split(";")]
    write_result(
        "train_speed",
        {
            "benchmark": "train_speed",
            "settings": {
                "input_shape": SHAPE,
                "steps": args.steps,
                "warmup": args.warmup,
                "device": args.device,
                "synth": "subtractive",
                "subset": "32",
            },
            "machine": machine_info(),
            "load_average_before": load_before,
            "cases": cases,
        },
    )


if __name__ == "__main__":
    main()
