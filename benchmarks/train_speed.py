"""Training throughput (spectrograms per second) and peak memory of each model config.

Run: ``.venv/bin/python benchmarks/train_speed.py [--configs default,baseline-cnn] [--steps 20]``.
Times full optimisation steps (forward, loss, backward, Adam) on random spectrograms of the
shipped model's shape (1 note, 64 mels, 87 frames, the subtractive 32-parameter subset), after
warm-up steps, with all CPU threads (``--threads``) as training uses them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, peak_rss_mb, write_result  # noqa: E402

from bridge.models.configs import get_config  # noqa: E402
from bridge.models.saved import build_net  # noqa: E402
from bridge.synth import get_synth  # noqa: E402

SHAPE = (1, 64, 87)


def measure(config: str, steps: int, warmup: int, device: str) -> dict:
    cfg = get_config(config)
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
        "spectrograms_per_s": round(cfg.batch_size / step, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="default,baseline-mlp,baseline-cnn,baseline-vae-mlp")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [measure(c, args.steps, args.warmup, args.device) for c in args.configs.split(",")]
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
            "cases": cases,
            "peak_rss_mb": peak_rss_mb(),
        },
    )


if __name__ == "__main__":
    main()
