"""OSC round-trip latency of `flowsynth serve`: /flowsynth/1/macro -> /flowsynth/1/params on
loopback at 100 and 1000 messages per second, macros while sketches run, and memory and
queue growth over a long run at 1000/s. Prints JSON and writes benchmarks/results/osc_latency.json.

    .venv/bin/python benchmarks/osc_latency.py            # full run (about 2 minutes)
    .venv/bin/python benchmarks/osc_latency.py --quick    # a short run
    .venv/bin/python benchmarks/osc_latency.py --model subtractive   # the real model

How replies are matched: macro 0 cycles through 64 distinct dial values, and the params each
value produces are learnt first, so every reply names the request it answers even when the
server skips intermediate states under a burst.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.server.osc_server import encode  # noqa: E402

K = 64
GOALS = {"p50_ms_at_100": 1.0, "p99_ms_at_100": 3.0, "sketch_ms": 100.0}


def machine() -> dict:
    cpu = platform.processor()
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"model name\s*:\s*(.*)", text).group(1)
    except (OSError, AttributeError):
        pass
    import numpy

    return {"cpu": cpu, "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": numpy.__version__}


def start_server(args, allow: str) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "bridge.commands.serve", "--port", "0", "--allow-dir", allow,
           "--log-level", "warning"]
    cmd += ["--model", args.model] if args.model else ["--model-factory", args.model_factory]
    for d in args.models_dir:
        cmd += ["--models-dir", d]
    pin = None
    if args.server_cpu is not None and hasattr(os, "sched_setaffinity"):
        def pin():
            os.sched_setaffinity(0, {args.server_cpu})
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=pin)
    lines = []
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("server did not start:\n" + "".join(lines))
        lines.append(line)
        m = re.search(r"udp \S+:(\d+)", line)
        if m:
            port = int(m.group(1))
        if line.startswith("Ctrl-C"):
            return proc, port


class Client:
    def __init__(self, port: int) -> None:
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", 0))
        self.replies: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._recv, daemon=True)
        self.thread.start()
        self.send("/flowsynth/hello", self.sock.getsockname()[1], "osc_latency")
        self.wait_for(b"/flowsynth/welcome")

    def _recv(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            t = time.perf_counter()
            with self.lock:
                self.replies.append((t, data))

    def send(self, address: str, *args) -> float:
        packet = encode(address, list(args))
        t = time.perf_counter()
        self.sock.sendto(packet, self.server)
        return t

    def take(self) -> list[tuple[float, bytes]]:
        with self.lock:
            out, self.replies = self.replies, []
        return out

    def wait_for(self, prefix: bytes, timeout: float = 10.0) -> tuple[float, bytes]:
        end = time.monotonic() + timeout
        kept = []
        while time.monotonic() < end:
            for t, d in self.take():
                if d.startswith(prefix):
                    with self.lock:
                        self.replies = kept + self.replies
                    return t, d
                kept.append((t, d))
            time.sleep(0.001)
        raise TimeoutError(prefix)


PARAMS = b"/flowsynth/1/params\x00"


def calibrate(c: Client) -> dict[bytes, int]:
    """Which params reply each of the K dial values produces."""
    table = {}
    for k in range(K):
        c.take()
        c.send("/flowsynth/1/macro", 0, (k + 0.5) / K)
        _, data = c.wait_for(PARAMS)
        table[data] = k
    if len(table) != K:
        raise RuntimeError("the model maps different dial values to the same preset; "
                           "pick another macro")
    return table


def run_rate(c: Client, table: dict[bytes, int], rate: float, n: int,
             during=None) -> dict:
    c.take()
    sends = np.zeros(n)
    t0 = time.perf_counter() + 0.01
    for i in range(n):
        target = t0 + i / rate
        while True:
            left = target - time.perf_counter()
            if left <= 0:
                break
            if left > 0.0003:
                time.sleep(left - 0.0002)
        sends[i] = c.send("/flowsynth/1/macro", 0, ((i % K) + 0.5) / K)
        if during is not None:
            during(i)
    time.sleep(0.3)
    return match(sends, c.take(), table, rate)


def match(sends: np.ndarray, replies, table, rate) -> dict:
    lat = []
    answered = set()
    for t, data in replies:
        k = table.get(data)
        if k is None:
            continue
        # the latest request with this dial value sent before the reply arrived
        idx = np.nonzero((sends <= t) & (np.arange(len(sends)) % K == k))[0]
        if idx.size:
            j = int(idx[-1])
            if j not in answered:
                answered.add(j)
                lat.append(t - sends[j])
    lat_ms = np.array(lat) * 1000
    n = len(sends)
    out = {"rate_per_s": rate, "sent": n, "answered": len(lat),
           "skipped_intermediate": n - len(lat),
           "last_answered": (n - 1) in answered}
    if lat_ms.size:
        out.update(p50_ms=round(float(np.percentile(lat_ms, 50)), 3),
                   p99_ms=round(float(np.percentile(lat_ms, 99)), 3),
                   max_ms=round(float(lat_ms.max()), 3), mean_ms=round(float(lat_ms.mean()), 3))
    return out


def rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmRSS:\s*(\d+)", text).group(1))
    except (OSError, AttributeError):
        return -1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short run for a smoke test")
    p.add_argument("--model", help="model name or path for the server (default: the test "
                                    "fixture model through --model-factory)")
    p.add_argument("--model-factory", default="tests/server_model.py:make_model")
    p.add_argument("--models-dir", action="append", default=[])
    p.add_argument("--messages", type=int, default=2000, help="messages per rate (>= 2000)")
    p.add_argument("--soak-seconds", type=float, default=60.0)
    p.add_argument("--server-cpu", type=int, default=0 if (os.cpu_count() or 1) > 1 else None,
                   help="pin the server to this CPU (default 0: the goals are for one core)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "osc_latency.json"))
    args = p.parse_args()
    n = 400 if args.quick else max(args.messages, 2000)
    soak = 10.0 if args.quick else args.soak_seconds
    if args.server_cpu is not None and hasattr(os, "sched_setaffinity"):
        others = set(range(os.cpu_count() or 1)) - {args.server_cpu}
        if others:
            os.sched_setaffinity(0, others)  # the client must not steal the server's core

    tmp = tempfile.mkdtemp(prefix="flowsynth-bench-")
    proc, port = start_server(args, tmp)
    result: dict = {"benchmark": "osc_latency", "machine": machine(),
                    "settings": {"quick": args.quick, "messages": n, "soak_seconds": soak,
                                 "model": args.model or args.model_factory,
                                 "server_cpu": args.server_cpu, "dial_values": K}}
    try:
        c = Client(port)
        table = calibrate(c)
        result["macro_100_per_s"] = run_rate(c, table, 100, n)
        result["macro_1000_per_s"] = run_rate(c, table, 1000, n)

        # Sketches of a 4 s file on slot 2 (the same model) while slot 1's dial keeps moving
        # at 1000/s: a sketch on slot 1 would move the point the reply table was learnt at.
        import soundfile as sf
        from pythonosc.osc_message import OscMessage

        c.take()
        c.send("/flowsynth/1/info")
        name = OscMessage(c.wait_for(b"/flowsynth/1/info\x00")[1]).params[0]
        c.send("/flowsynth/2/load", args.model or name)
        c.wait_for(b"/flowsynth/2/info\x00", timeout=60)

        wav = os.path.join(tmp, "sketch.wav")
        sr = 16000
        t = np.arange(4 * sr) / sr
        sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
        sketches: list[float] = []
        every = 300

        def during(i: int) -> None:
            if i % every == every // 2:
                sketches.append(c.send("/flowsynth/2/sketch", wav))

        replies_before = []
        m = max(n, 2000)
        sends = np.zeros(m)
        c.take()
        t0 = time.perf_counter() + 0.01
        for i in range(m):
            target = t0 + i / 1000
            while (left := target - time.perf_counter()) > 0:
                if left > 0.0003:
                    time.sleep(left - 0.0002)
            sends[i] = c.send("/flowsynth/1/macro", 0, ((i % K) + 0.5) / K)
            during(i)
        time.sleep(0.5)
        replies_before = c.take()
        done = [tt for tt, d in replies_before if d.startswith(b"/flowsynth/2/busy\x00")
                and d.endswith(b"\x00\x00\x00\x00")]
        errors = [d for _, d in replies_before if d.startswith(b"/flowsynth/error")]
        sketch_ms = []
        for s in sketches:
            after = [d for d in done if d > s]
            if after:
                sketch_ms.append((after[0] - s) * 1000)
        macro = match(sends, replies_before, table, 1000)
        result["sketch_while_macros_1000_per_s"] = {
            "sketches": len(sketches), "answered": len(sketch_ms),
            "sketch_p50_ms": round(float(np.median(sketch_ms)), 2) if sketch_ms else None,
            "sketch_max_ms": round(float(max(sketch_ms)), 2) if sketch_ms else None,
            "errors": len(errors), "macros": macro}

        # Soak: growth of memory and queues at 1000/s.
        samples = []
        rss0 = rss_kb(proc.pid)
        start = time.perf_counter()
        i = 0
        soak_sends = []
        next_sample = start
        while (now := time.perf_counter()) - start < soak:
            target = start + i / 1000
            if now < target:
                time.sleep(max(target - now - 0.0002, 0))
                continue
            soak_sends.append(c.send("/flowsynth/1/macro", 0, ((i % K) + 0.5) / K))
            i += 1
            if now >= next_sample:
                c.send("/flowsynth/stats")
                samples.append({"t_s": round(now - start, 2), "rss_kb": rss_kb(proc.pid)})
                next_sample += 1.0
        time.sleep(0.5)
        replies = c.take()
        stats = [d for _, d in replies if d.startswith(b"/flowsynth/stats\x00")]
        pend = [OscMessage(d).params for d in stats]
        soak_sends_arr = np.array(soak_sends)
        tenth = max(len(soak_sends_arr) // 10, 1)
        first = match(soak_sends_arr[:tenth], replies, table, 1000)
        last = match(soak_sends_arr[-tenth:], replies, table, 1000)
        result["soak_1000_per_s"] = {
            "seconds": soak, "sent": len(soak_sends), "rss_kb_start": rss0,
            "rss_kb_end": rss_kb(proc.pid),
            "max_pending_requests": max((p[2] for p in pend), default=None),
            "max_work_queue": max((p[3] for p in pend), default=None),
            "first_tenth": first, "last_tenth": last,
            "rss_samples": samples[:: max(len(samples) // 12, 1)]}
        c.stop = True
    finally:
        proc.terminate()
        proc.wait(10)

    m100 = result["macro_100_per_s"]
    sk = result["sketch_while_macros_1000_per_s"]
    soak_r = result["soak_1000_per_s"]
    result["goals"] = {
        "p50_under_1ms_at_100": m100.get("p50_ms", 1e9) < GOALS["p50_ms_at_100"],
        "p99_under_3ms_at_100": m100.get("p99_ms", 1e9) < GOALS["p99_ms_at_100"],
        "sketch_under_100ms": (sk["sketch_max_ms"] or 1e9) < GOALS["sketch_ms"],
        "no_growth_at_1000": (soak_r["rss_kb_end"] - soak_r["rss_kb_start"] < 20_000
                              and (soak_r["max_pending_requests"] or 0) < 100
                              and soak_r["last_tenth"].get("p99_ms", 1e9)
                              < 3 * max(soak_r["first_tenth"].get("p99_ms", 0), 1.0)),
    }
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
