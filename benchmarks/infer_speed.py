"""Inference latency of a hosted model on one core: p50/p99 of z -> v for one point,
v -> z, and audio file -> v (load, log-mel, encoder, flows, regression).

Run: ``taskset -c 1 .venv/bin/python benchmarks/infer_speed.py [--model PATH] [--n 500]
[--n-audio 200]``. The model defaults to the shipped one. The audio file is a 4 s note rendered
by the model's synth. Paths in the result are relative to the repository (or just a file name).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, peak_rss_mb, pin_one_core, write_result  # noqa: E402

from bridge.audio.io import load_audio, save_wav  # noqa: E402
from bridge.hosting.registry import load_hosted, resolve_model_path  # noqa: E402
from bridge.synth import PAPER_NOTE, get_synth  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def percentiles(fn, n: int, warmup: int = 20) -> dict:
    for _ in range(warmup):
        fn()
    times = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t
    us = times * 1e6
    return {
        "n": n,
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
        "mean_us": round(float(us.mean()), 1),
    }


def _portable(path: Path) -> str:
    """A path that names no machine's folders: relative to the repo, else the file name."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return path.name


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (default: the shipped model)")
    ap.add_argument("--n", type=int, default=500, help="calls per measurement")
    ap.add_argument(
        "--n-audio", type=int, default=200, help="audio file -> preset calls (p99 needs >= 100)"
    )
    args = ap.parse_args(argv)
    if args.n < 100 or args.n_audio < 100:
        raise SystemExit("--n and --n-audio must be >= 100: a p99 needs at least 100 samples")
    pin_one_core()
    path = resolve_model_path(args.model)
    host = load_hosted(str(path))
    rng = np.random.default_rng(0)
    z = host.latent_from_macros(
        rng.random((1, len(host.macro_names))).astype(np.float32),
        np.zeros((1, host.latent_dim), np.float32),
    )
    v = host.params_from_latent(z)
    synth = get_synth(host.synth_name)
    preset = synth.spec.expand(synth.spec.subset(host.param_names), v)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "note.wav"
        save_wav(wav, synth.render(preset, PAPER_NOTE, host.sample_rate)[0], host.sample_rate)

        def from_audio() -> None:
            host.params_from_latent(host.latent_from_audio(load_audio(wav, host.sample_rate)[None]))

        cases = {
            "params_from_latent": percentiles(lambda: host.params_from_latent(z), args.n),
            "latent_from_params": percentiles(lambda: host.latent_from_params(v), args.n),
            "macros_to_params": percentiles(
                lambda: host.params_from_latent(
                    host.latent_from_macros(host.macros_from_latent(z), z)
                ),
                args.n,
            ),
            "audio_file_to_params": percentiles(from_audio, args.n_audio, warmup=5),
        }
    write_result(
        "infer_speed",
        {
            "benchmark": "infer_speed",
            "settings": {
                "model": _portable(path),
                "batch": 1,
                "threads": 1,
                "audio_seconds": 4.0,
                "latent_dim": host.latent_dim,
                "n_params": len(host.param_names),
            },
            "machine": machine_info(),
            "cases": cases,
            "peak_rss_mb": peak_rss_mb(),
        },
    )


if __name__ == "__main__":
    main()
