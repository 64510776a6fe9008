"""Per-call time of each exported method at batch 1 on one core: eager (CheckpointModel, what
the server runs on a checkpoint) vs the TorchScript file called from Python vs the C++ host
(export/cpp), the latter with its default engine (native z -> v where it has one) and with
--engine torchscript (every method through LibTorch). Prints JSON and writes
benchmarks/results/export_speed.json.

    python benchmarks/export_speed.py                     # the shipped model
    python benchmarks/export_speed.py --model runs/default/model.pt --calls 3000

Goal: z -> v (params_from_latent) in the C++ host under 100 us at p50 for the shipped model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bridge import atomic  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "export_speed.json"
GOAL_US = 100.0


def _pin_one_core() -> int | None:
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return core
    except (AttributeError, OSError):
        return None


def _times(f, calls: int) -> dict:
    for _ in range(max(20, calls // 10)):
        f()
    t = []
    for _ in range(calls):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e6)
    a = np.asarray(t)
    return {"p50_us": round(float(np.median(a)), 2),
            "p90_us": round(float(np.percentile(a, 90)), 2), "min_us": round(float(a.min()), 2)}


def _build_host() -> Path | None:
    sys.path.insert(0, str(ROOT))
    from tests.test_cpp_host import SRC, _missing, _torch_cmake_dir

    if _missing():
        return None
    build = Path(tempfile.gettempdir()) / "flowsynth-cpp-host-bench"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(SRC), "-B", str(build), *gen, "-DCMAKE_BUILD_TYPE=Release",
                    f"-DCMAKE_PREFIX_PATH={_torch_cmake_dir()}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    return build / "flowsynth_host"


def _cpp(binary: Path, bundle: Path, row: np.ndarray, mode: str, calls: int, core,
         engine: str) -> dict:
    line = " ".join(f"{x:.9g}" for x in row) + "\n"
    cmd = [str(binary), str(bundle), "--mode", mode, "--engine", engine, "--threads", "1",
           "--bench", str(calls)]
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    done = subprocess.run(cmd, input=line, capture_output=True, text=True, check=True)
    r = json.loads(done.stderr.strip().splitlines()[-1])
    return {"engine": r["engine"], "p50_us": r["bench_p50_us"], "p90_us": r["bench_p90_us"],
            "min_us": r["bench_min_us"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--out", default=str(RESULT))
    args = p.parse_args()

    from bridge.export import export_bundle
    from bridge.hosting.registry import resolve_model_path
    from bridge.models.checkpoint_host import CheckpointModel
    from bridge.models.saved import SavedModel

    core = _pin_one_core()
    torch.set_num_threads(1)
    path = resolve_model_path(args.model)
    model = SavedModel.load(path)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = export_bundle(model, Path(tmp) / "bench").folder
        ts = torch.jit.load(str(bundle / "model.ts"))
        host = CheckpointModel(model)
        rng = np.random.default_rng(0)
        z = rng.standard_normal((1, host.latent_dim)).astype(np.float32)
        v = host.params_from_latent(z)
        m = rng.random((1, len(host.macro_names))).astype(np.float32)
        audio = (0.1 * rng.standard_normal((1, model.note_samples))).astype(np.float32)
        zt, vt, mt, at = (torch.from_numpy(a) for a in (z, v, m, audio))
        center = host.center()
        ct = torch.from_numpy(center)
        results: dict[str, dict] = {}
        with torch.inference_mode():
            cases = {
                "params_from_latent": (lambda: host.params_from_latent(z),
                                       lambda: ts.params_from_latent(zt), "latent", z),
                "latent_from_params": (lambda: host.latent_from_params(v),
                                       lambda: ts.latent_from_params(vt), "encode", v),
                "macros_to_params": (
                    lambda: host.params_from_latent(host.latent_from_macros(m, center)),
                    lambda: ts.params_from_latent(ts.latent_from_macros(mt, ct)), "macros", m),
                "latent_from_audio": (lambda: host.latent_from_audio(audio),
                                      lambda: ts.latent_from_audio(at), None, None),
            }
            binary = _build_host()
            for name, (eager, script, mode, row) in cases.items():
                n = args.calls if name != "latent_from_audio" else max(50, args.calls // 20)
                results[name] = {"eager_python": _times(eager, n),
                                 "torchscript_python": _times(script, n)}
                for key, engine in (("cpp_host", "auto"), ("cpp_host_torchscript", "torchscript")):
                    results[name][key] = (
                        _cpp(binary, bundle, row[0], mode, args.calls, core, engine)
                        if binary is not None and mode is not None else None
                    )
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                .splitlines() if ln.startswith("model name")), platform.processor())
    z_to_v = results["params_from_latent"].get("cpp_host") or {}
    report = {
        "benchmark": "export_speed",
        "model": str(path),
        "model_config": {k: model.cfg.to_dict()[k] for k in
                         ("encoding", "posterior_flow", "posterior_layers", "regression_layers",
                          "regression_hidden", "regression_blocks")},
        "latent_dim": host.latent_dim, "n_params": len(host.param_names),
        "settings": {"batch": 1, "threads": 1, "pinned_core": core, "calls": args.calls,
                     "cpp_mode_macros": "latent_from_macros then params_from_latent, one call",
                     "cpp_host": "default engine: native z -> v (regression flow and decode in "
                                 "plain C++) for params_from_latent and the flow half of "
                                 "macros_to_params, LibTorch for the rest",
                     "cpp_host_torchscript": "--engine torchscript: every method in LibTorch",
                     "eager_python": "CheckpointModel (numpy in/out, what serve runs on a .pt)"},
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "model_note": "no shipped model existed when this was run: a model of the shipped "
                      "(default) architecture trained 1 epoch on a tiny dataset stood in; speed "
                      "depends on the architecture, not the training" if args.model else "",
        "note": "shared machine: other work (a model training job, other test runs) was using "
                "the cores during this run, see load_average; numbers are upper bounds",
        "results": results,
        "goal": {"what": "z -> v in the C++ host, p50", "target_us": GOAL_US,
                 "measured_us": z_to_v.get("p50_us"),
                 "met": bool(z_to_v) and z_to_v["p50_us"] < GOAL_US},
    }
    text = json.dumps(report, indent=1)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
