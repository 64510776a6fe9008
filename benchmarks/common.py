"""What every benchmark records beside its numbers: the machine, and an atomic JSON write."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import sys
from pathlib import Path

from bridge import atomic

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    import numpy
    import torch

    info = {
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpu_affinity"] = sorted(os.sched_getaffinity(0))
    return info


def rss_kb(pid: int) -> int:
    """Another process's resident memory in kB (Linux), -1 where it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmRSS:\s*(\d+)", text).group(1))
    except (OSError, AttributeError):
        return -1


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pin_one_core() -> None:
    """One thread, one CPU: the setting the goals are stated for."""
    import torch

    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def write_result(name: str, result: dict, out: Path | None = None) -> Path:
    """Print the result and write it under benchmarks/results/ (temporary name, then rename)."""
    out = out or RESULTS_DIR / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    atomic.write_text(out, text)
    print(text, end="")
    return out
