"""100,000 malformed datagrams at a real `flowsynth serve` process: it must answer every one,
stay up, keep its slots exactly as they were, and keep its memory flat. Prints JSON and writes
benchmarks/results/osc_fuzz.json.

    .venv/bin/python benchmarks/osc_fuzz.py                  # 100,000 datagrams (a minute or two)
    .venv/bin/python benchmarks/osc_fuzz.py --datagrams 20000  # shorter; writes to the temp folder

The datagrams come from tests/test_server_fuzz.py's generator (random bytes, wrong types and
counts, NaN and infinities, huge lists, bad paths and model names, unknown addresses, bundles
with negative, zero, unaligned and overlong element sizes, truncated or junk-trailed messages,
RGBA/MIDI/unknown type tags, future timetags, too many or too deeply nested messages). They are
sent in batches of 100, each followed by a ping that must be answered, so the kernel never
drops one. Slots are compared through the protocol: `explore 0` answers the current point
unchanged, and `morph 0` / `morph 1` the anchors.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_info, rss_kb, write_result  # noqa: E402
from bridge.server import osc_parse  # noqa: E402
from bridge.wire import encode  # noqa: E402
from tests.server_model import make_model  # noqa: E402
from tests.test_server_fuzz import malformed  # noqa: E402

FULL = 100_000
BATCH = 100
GOALS = {"rss_growth_kb": 10_000}  # after the first tenth (imports, caches warmed)


def start_server(reply_port: int, tmp: str) -> tuple[subprocess.Popen, int]:
    os.makedirs(os.path.join(tmp, "renders"), exist_ok=True)
    cmd = [sys.executable, "-m", "bridge.commands.serve", "--port", "0", "--reply-port",
           str(reply_port), "--model-factory", "tests/server_model.py:make_model",
           "--allow-dir", tmp, "--output-dir", os.path.join(tmp, "renders"),
           "--no-sketch-dir", "--log-level", "error"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    port = None
    for line in proc.stdout:
        m = re.search(r"udp \S+:(\d+)", line)
        if m:
            port = int(m.group(1))
        if line.startswith("Ctrl-C"):
            break
    if port is None:
        raise RuntimeError("the server did not start")
    return proc, port


class Probe:
    def __init__(self, port: int) -> None:
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.request("/flowsynth/hello", [self.sock.getsockname()[1]], "/flowsynth/welcome")

    def request(self, address: str, args: list, want: str) -> list:
        self.sock.sendto(encode(address, args), self.server)
        while True:
            m = osc_parse.parse_message(self.sock.recvfrom(65536)[0])
            if m.address == want:
                return m.args


def snapshot(p: Probe) -> dict:
    """What the slots hold, read through the protocol without changing it."""
    return {"z1": p.request("/flowsynth/1/explore", [0.0, 1], "/flowsynth/1/latent"),
            "z2": p.request("/flowsynth/2/explore", [0.0, 1], "/flowsynth/2/latent"),
            "info2": p.request("/flowsynth/2/info", [], "/flowsynth/2/info")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datagrams", type=int, default=FULL)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", help="result JSON (default benchmarks/results/osc_fuzz.json for a "
                                  "full run, the temp folder for a shorter one)")
    args = ap.parse_args()
    if args.out is None:  # a short run must not replace the committed result
        args.out = str(ROOT / "benchmarks" / "results" / "osc_fuzz.json") \
            if args.datagrams >= FULL else os.path.join(tempfile.gettempdir(), "osc_fuzz.json")

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where unregistered errors go
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    tmp = tempfile.mkdtemp(prefix="flowsynth-fuzz-")
    proc, port = start_server(sink.getsockname()[1], tmp)
    fuzzer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    result: dict = {"benchmark": "osc_fuzz", "machine": machine_info(),
                    "settings": {"datagrams": args.datagrams, "seed": args.seed,
                                 "batch": BATCH, "model": "tests/server_model.py:make_model"}}
    try:
        p = Probe(port)
        p.request("/flowsynth/2/load", ["toy-wide"], "/flowsynth/2/info")
        for value, anchor in ((-0.4, "a"), (0.6, "b"), (0.2, None)):
            p.request("/flowsynth/1/latent", [np.full(12, value, np.float32)],
                      "/flowsynth/1/params")
            if anchor:
                p.request("/flowsynth/1/anchor", [anchor], "/flowsynth/1/anchor")
        p.request("/flowsynth/2/macro", [3, 0.9], "/flowsynth/2/params")
        before = snapshot(p)
        stats0 = p.request("/flowsynth/stats", [], "/flowsynth/stats")

        rng = np.random.default_rng(args.seed)
        samples = []
        sent, t0 = 0, time.monotonic()
        every = max(args.datagrams // 20, BATCH)
        while sent < args.datagrams:
            for _ in range(min(BATCH, args.datagrams - sent)):
                fuzzer.sendto(malformed(rng, tmp), ("127.0.0.1", port))
                sent += 1
            assert p.request("/flowsynth/ping", [sent], "/flowsynth/pong") == [sent]
            try:
                while True:
                    sink.recvfrom(65536)
            except BlockingIOError:
                pass
            if sent % every == 0 or sent == args.datagrams:
                samples.append({"sent": sent, "t_s": round(time.monotonic() - t0, 2),
                                "rss_kb": rss_kb(proc.pid)})
        elapsed = time.monotonic() - t0
        stats1 = p.request("/flowsynth/stats", [], "/flowsynth/stats")
        after = snapshot(p)
        # The anchors: morph to each answers its params; compare with the model's own.
        toy = make_model("toy")
        anchors_ok = True
        for t, value in ((0.0, -0.4), (1.0, 0.6)):
            got = p.request("/flowsynth/1/morph", [t], "/flowsynth/1/params")
            want = toy.params_from_latent(np.full((1, 12), value, np.float32))[0]
            anchors_ok &= bool(np.allclose(got, want, atol=1e-6))
        alive = proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        for s in (sink, fuzzer):
            s.close()

    unchanged = before == after and anchors_ok
    tenth = samples[max(len(samples) // 10 - 1, 0)]["rss_kb"]
    growth = samples[-1]["rss_kb"] - tenth
    errors = stats1[1] - stats0[1]
    result.update({
        "sent": sent, "seconds": round(elapsed, 2), "per_second": round(sent / elapsed),
        "errors_answered": errors, "alive": alive, "slots_unchanged": unchanged,
        "rss_kb_after_first_tenth": tenth, "rss_kb_end": samples[-1]["rss_kb"],
        "rss_growth_kb_after_first_tenth": growth, "rss_samples": samples,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    })
    result["goals"] = {
        "survives": alive,
        "every_datagram_refused": errors >= sent,
        "slots_unchanged": unchanged,
        "memory_flat": growth < GOALS["rss_growth_kb"],
    }
    result["goal_criteria"] = {
        "survives": "the server process is running after the last datagram",
        "every_datagram_refused": "errors counted by /flowsynth/stats >= datagrams sent",
        "slots_unchanged": "explore 0 answers both slots' points as before, slot 2's info too, "
                           "morph 0/1 the anchors' params",
        "memory_flat": f"RSS grows < {GOALS['rss_growth_kb']} kB from the first tenth to the end",
    }
    write_result("osc_fuzz", result, Path(args.out))
    return 0 if all(result["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
