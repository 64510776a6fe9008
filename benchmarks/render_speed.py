"""Render speed of the built-in synths (and Dexed) on one core, as a multiple of real time.

Run: ``.venv/bin/python benchmarks/render_speed.py [--reps 7] [--batch 32]``. Prints JSON and
writes benchmarks/results/render_speed.json. ``--synths dexed`` times the real Dexed plugin
(found as ``flowsynth synths`` finds it) and writes benchmarks/results/render_speed_dexed.json
unless ``--out`` says otherwise, so that the built-in synths' result is never overwritten by
it: flowsynth's path (the plugin reset before every preset, what datasets use), the same with
a fresh instance per 250-preset shard counted in, and pedalboard's ``reset=False`` for
comparison (faster, but state leaks from preset to preset: bridge/synth/dexed.py).
Each case renders a batch of 4 s notes (the papers' note: pitch 60, velocity 100, held 3 s)
at 22.05 kHz; each case reports the best and the median of ``--reps`` repetitions, after a
warm-up render that also pays numba's compile time. Threads are pinned to 1 and the process
to one CPU; the load average is recorded, since the machine may be shared.

Goal: ``subtractive`` at 700x real time or more with effects on, judged on the median of the
all-effects case and of uniform presets (``flowsynth render``'s default sampling, where every
effect amount is above 0); the verdict is the JSON's ``goal`` entry.
"""

from __future__ import annotations

import os

# before numba / torch / numpy start their thread pools
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import pedalboard  # noqa: E402
import torch  # noqa: E402

from bridge import atomic  # noqa: E402
from bridge.synth import PAPER_NOTE, get_synth  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "render_speed.json"
RESULTS_DEXED = Path(__file__).parent / "results" / "render_speed_dexed.json"
SHARD = 250  # presets per shard in the shipped Dexed dataset (one plugin load each)
SAMPLE_RATE = 22050
GOAL_X_REALTIME = 700
GOAL_CASES = ("subtractive/natural+all_effects", "subtractive/uniform")


def best_time(render, presets: np.ndarray, reps: int) -> tuple[float, float]:  # noqa: ANN001
    """(best, median) seconds of one call over ``reps`` repetitions, after a warm-up call."""
    render(presets)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        render(presets)
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def case(name: str, synth, presets: np.ndarray, reps: int) -> dict:  # noqa: ANN001
    def render(p: np.ndarray) -> np.ndarray:
        return synth.render(p, PAPER_NOTE, SAMPLE_RATE)

    best, median = best_time(render, presets, reps)
    audio_s = len(presets) * PAPER_NOTE.duration
    return {
        "case": name,
        "presets": len(presets),
        "best_s": round(best, 5),
        "median_s": round(median, 5),
        "ms_per_note": round(1000 * best / len(presets), 3),
        "x_realtime": round(audio_s / best, 1),
        "x_realtime_median": round(audio_s / median, 1),
    }


def dexed_cases(synth, batch: int, reps: int, seed: int) -> list[dict]:  # noqa: ANN001
    natural = synth.sample_natural(np.random.default_rng(seed), batch)
    out = [case("dexed/natural", synth, natural, reps)]
    t = time.perf_counter()
    for _ in range(3):
        synth.restart()  # a fresh instance, as each dataset shard gets
        synth.render(natural[:1], PAPER_NOTE, SAMPLE_RATE)
    load_s = (time.perf_counter() - t) / 3 - out[0]["median_s"] / batch
    per_note = out[0]["median_s"] / batch + load_s / SHARD
    out.append({"case": f"dexed/natural+load_per_{SHARD}", "plugin_load_s": round(load_s, 3),
                "ms_per_note": round(1000 * per_note, 3),
                "x_realtime_median": round(PAPER_NOTE.duration / per_note, 1)})
    midi = [(bytes([0x90, PAPER_NOTE.pitch, PAPER_NOTE.velocity]), 0.0),
            (bytes([0x80, PAPER_NOTE.pitch, 0]), PAPER_NOTE.held)]

    class NoReset:  # pedalboard's reset=False: for comparison only, state leaks
        def render(self, presets, note, sr):  # noqa: ANN001, ANN202
            for p in presets:
                synth.set_preset(p)
                synth.plugin(midi, duration=note.duration, sample_rate=float(sr),
                             num_channels=2, buffer_size=512, reset=False)

    out.append(case("dexed/natural_reset_false", NoReset(), natural, reps))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7, help="repetitions per case")
    ap.add_argument("--batch", type=int, default=32, help="presets rendered per call")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None,
                    help="result file (default: results/render_speed.json, or "
                    "results/render_speed_dexed.json when --synths names dexed)")
    ap.add_argument("--synths", default="subtractive,fm",
                    help="comma-separated: subtractive, fm, dexed (default subtractive,fm)")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.synths.split(",") if n.strip()]
    unknown = sorted(set(names) - {"subtractive", "fm", "dexed"})
    if unknown or not names:
        ap.error(f"--synths: unknown {unknown}; choose from subtractive, fm, dexed")
    if args.out is None:
        args.out = RESULTS_DEXED if "dexed" in names else RESULTS

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    load_before = [round(x, 2) for x in os.getloadavg()]
    cases = []
    for name in names:
        synth = get_synth(name)
        if name == "dexed":
            cases += dexed_cases(synth, args.batch, args.reps, args.seed)
            continue
        spec = synth.spec
        rng = np.random.default_rng(args.seed)
        natural = synth.sample_natural(rng, args.batch)
        cases.append(case(f"{name}/default", synth, spec.defaults()[None], args.reps))
        cases.append(case(f"{name}/natural", synth, natural, args.reps))
        if name == "subtractive":
            fx = natural.copy()
            for p, value in (("drive", 0.3), ("chorus_mix", 0.5), ("delay_mix", 0.4),
                             ("reverb_mix", 0.4)):
                fx[:, spec.index(p)] = spec[p].to_norm(np.array(value))
            cases.append(case(f"{name}/natural+all_effects", synth, fx, args.reps))
            dry = natural.copy()
            for p in ("drive", "chorus_mix", "delay_mix", "reverb_mix"):
                dry[:, spec.index(p)] = 0.0
            cases.append(case(f"{name}/natural_no_effects", synth, dry, args.reps))
            uniform = spec.sample_uniform(np.random.default_rng(args.seed), args.batch)
            cases.append(case(f"{name}/uniform", synth, uniform, args.reps))

    judged = {c["case"]: c["x_realtime_median"] for c in cases if c["case"] in GOAL_CASES}
    goal = {
        "x_realtime_min": GOAL_X_REALTIME,
        "cases_judged": list(GOAL_CASES),
        "judged_on": "x_realtime_median",
        "medians": judged,
        "met": len(judged) == len(GOAL_CASES)
        and all(v >= GOAL_X_REALTIME for v in judged.values()),
    }
    result = {
        "benchmark": "render_speed",
        "note": "x_realtime = rendered audio seconds / wall seconds on one core, best of reps; "
                "x_realtime_median from the median rep, which the goal is judged on (the "
                "machine may be shared: see load_average). Numba compile time is excluded "
                "(warm-up render first).",
        "settings": {
            "sample_rate": SAMPLE_RATE,
            "note": PAPER_NOTE.to_dict(),
            "batch": args.batch,
            "reps": args.reps,
            "seed": args.seed,
            "threads": {"numba": numba.get_num_threads(), "torch": torch.get_num_threads()},
            "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else None,
        },
        "machine": {
            "platform": platform.platform(),
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "numba": numba.__version__,
            "torch": torch.__version__,
            "pedalboard": pedalboard.__version__,
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "goal": goal if "subtractive" in names else None,
        "cases": cases,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(args.out, result)  # never leave a half-written result
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
