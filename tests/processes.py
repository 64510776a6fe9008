"""Watching the processes a command starts, and killing it part-way (from /proc)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bridge.data.dataset import MANIFEST


def _parents() -> dict[int, int]:
    """Live process -> its parent."""
    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            if not fields["State"].startswith("Z"):
                parents[int(status.parent.name)] = int(fields["PPid"])
        except (OSError, KeyError, ValueError):
            continue
    return parents


def children(pid: int) -> set[int]:
    return {p for p, pp in _parents().items() if pp == pid}


def descendants(pid: int) -> set[int]:
    parents = _parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_after_shards(proc: subprocess.Popen, out: Path, shards: int,
                      watch: Callable[[int], set[int]] = children,
                      poll: float = 0.01) -> set[int]:  # fmt: skip
    """SIGKILL a running `flowsynth render` once its manifest lists ``shards`` shards; the
    processes ``watch`` saw below it meanwhile. The caller checks the return code: a render
    that finished first was not killed."""
    seen: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        seen |= watch(proc.pid)
        try:
            listed = len(json.loads((out / MANIFEST).read_text())["shards"])
        except (OSError, ValueError, KeyError):
            listed = 0
        if listed >= shards:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(poll)
    proc.wait(timeout=60)
    return seen
