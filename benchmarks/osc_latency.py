"""OSC round-trip latency of `flowsynth serve`: /flowsynth/1/macro -> /flowsynth/1/params on
loopback at 100 and 1000 messages per second, macros while sketches run, and memory and
queue growth over a long run at 1000/s. Prints JSON and writes benchmarks/results/osc_latency.json.

    .venv/bin/python benchmarks/osc_latency.py            # full run (about 2 minutes)
    .venv/bin/python benchmarks/osc_latency.py --quick    # a short run
    .venv/bin/python benchmarks/osc_latency.py --model subtractive   # the real model

How replies are matched: macro 0 cycles through K = 1024 distinct dial values, and the params
each value produces are learnt first. Request i carries value i % K. The server answers
requests in the order it reads them and loopback keeps the order of datagrams, so each
params reply answers a request after the one the previous reply answered, sent before the
reply arrived, and carrying the reply's value: one request, unless more than K were sent in
that span (over a second at 1000/s). Such a reply is counted as ambiguous, never guessed.
(Matching each reply to the latest request of its value, with 64 values, hid any latency over
64 ms at 1000/s; matching within a slice of the soak paired replies with the wrong requests.)

How time is taken: a request's time is read just before it is sent; a reply's time is the
kernel's arrival stamp on the client's socket (SO_TIMESTAMPNS on Linux), both on the wall
clock, so the client's own scheduling (a Python receive thread waiting for its GIL) is not
counted as the server's latency. The client sleeps between requests rather than spinning.

Where it runs: the server is pinned to one CPU (the goals are for one core) and the client to
the other CPUs this process may use, or to the same one when it may use only one
(`taskset -c 1 ...` puts both on CPU 1). The load average and, per rate, the server's
run-queue wait and preemptions (Linux schedstat) are recorded: a p99 of a few ms is another
program's turn on the server's core.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_info, rss_kb, write_result  # noqa: E402
from bridge.wire import encode  # noqa: E402

K = 1024
GOALS = {"p50_ms_at_100": 1.0, "p99_ms_at_100": 3.0, "sketch_ms": 100.0}
# Linux's socket option for nanosecond arrival stamps (not exported by Python's socket module).
SO_TIMESTAMPNS = 35
KERNEL_STAMPS = sys.platform.startswith("linux")


def pace(target: float) -> None:
    """Sleep until ``time.time()`` reaches target. No spinning: a spinning client would hold
    its GIL (starving its own receive thread) and, on a shared core, steal the server's CPU."""
    left = target - time.time()
    if left > 0:
        time.sleep(left)


def start_server(args, allow: str) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "bridge.commands.serve", "--port", "0", "--allow-dir", allow,
           "--log-level", "warning", *(["--eager"] if args.eager else [])]
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
        if KERNEL_STAMPS:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.replies: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._recv, daemon=True)
        self.thread.start()
        self.send("/flowsynth/hello", self.sock.getsockname()[1], "osc_latency")
        self.wait_for(b"/flowsynth/welcome")

    def _recv(self) -> None:
        self.sock.settimeout(0.2)
        space = socket.CMSG_SPACE(16)
        while not self.stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, space)
            except TimeoutError:
                continue
            t = time.time()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack("qq", value[:16])
                    t = sec + nsec * 1e-9
            with self.lock:
                self.replies.append((t, data))

    def send(self, address: str, *args) -> float:
        packet = encode(address, list(args))
        t = time.time()
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
    """Which params reply each of the K dial values produces. A reply two values share
    names neither: requests with those values are never matched (counted, not guessed)."""
    table: dict[bytes, int] = {}
    shared: set[bytes] = set()
    for k in range(K):
        c.take()
        c.send("/flowsynth/1/macro", 0, (k + 0.5) / K)
        _, data = c.wait_for(PARAMS)
        if data in table:
            shared.add(data)
        table[data] = k
    for data in shared:
        del table[data]
    if len(table) < K // 2:
        raise RuntimeError(f"the model maps most of {K} dial values to shared presets; "
                           "pick another macro")
    return table


def run_rate(c: Client, table: dict[bytes, int], rate: float, n: int,
             during=None) -> dict:
    c.take()
    sends = np.zeros(n)
    t0 = time.time() + 0.01
    for i in range(n):
        pace(t0 + i / rate)
        sends[i] = c.send("/flowsynth/1/macro", 0, ((i % K) + 0.5) / K)
        if during is not None:
            during(i)
    time.sleep(0.3)
    return match(sends, c.take(), table, rate)


def match(sends: np.ndarray, replies, table, rate, lo: int = 0, hi: int | None = None,
          k_values: int = K) -> dict:
    """Latencies of the requests sends[lo:hi] (all of a run's requests, in order; replies in
    arrival order). Request i set dial value i % k_values. Reply r answers the one request
    after reply r-1's, sent before r arrived, with r's value; when more than one fits, the
    reply is ambiguous and left out (its earliest fit bounds the next reply's)."""
    hi = len(sends) if hi is None else hi
    answered: dict[int, float] = {}
    prev = -1
    ambiguous = unmatched = 0
    for t, data in replies:
        k = table.get(data)
        if k is None:
            continue
        last = int(np.searchsorted(sends, t, side="right")) - 1  # sent before it arrived
        j = prev + 1 + (k - (prev + 1)) % k_values  # the first request after prev with value k
        if j > last:
            unmatched += 1  # no request fits: a reply out of order, or a stale duplicate
            continue
        prev = j
        if j + k_values <= last:
            ambiguous += 1
            continue
        if lo <= j < hi:
            answered[j] = t - sends[j]
    lat = list(answered.values())
    lat_ms = np.array(lat) * 1000
    n = hi - lo
    out = {"rate_per_s": rate, "sent": n, "answered": len(lat),
           "skipped_intermediate": n - len(lat),
           "ambiguous_replies": ambiguous, "unmatched_replies": unmatched,
           "last_answered": (hi - 1) in answered}
    if lat_ms.size:
        out.update(p50_ms=round(float(np.percentile(lat_ms, 50)), 3),
                   p99_ms=round(float(np.percentile(lat_ms, 99)), 3),
                   max_ms=round(float(lat_ms.max()), 3), mean_ms=round(float(lat_ms.mean()), 3))
    return out


def sched(pid: int) -> tuple[float, float, int]:
    """(ms on a CPU, ms runnable but waiting for one, times preempted) summed over the
    server's threads (Linux): how much of its latency was other programs' turn on its core."""
    cpu = wait = preempted = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            run_ns, wait_ns, _ = (task / "schedstat").read_text().split()
            cpu, wait = cpu + int(run_ns), wait + int(wait_ns)
            status = (task / "status").read_text()
            preempted += int(re.search(r"nonvoluntary_ctxt_switches:\s*(\d+)", status).group(1))
    except (OSError, ValueError, AttributeError):
        return -1.0, -1.0, -1
    return cpu / 1e6, wait / 1e6, preempted


def with_sched(pid: int, run) -> dict:
    """run()'s result with what the scheduler did to the server meanwhile."""
    before = sched(pid)
    out = run()
    after = sched(pid)
    if before[2] >= 0 and after[2] >= 0:
        out["server_scheduling"] = {"cpu_ms": round(after[0] - before[0], 1),
                                    "runqueue_wait_ms": round(after[1] - before[1], 1),
                                    "preempted": after[2] - before[2]}
    return out


def socket_queue(port: int) -> int:
    """Bytes waiting in the server's receive queue (Linux): requests it has not read yet."""
    try:
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            f = line.split()
            if f[1].endswith(f":{port:04X}"):
                return int(f[4].split(":")[1], 16)
    except (OSError, IndexError, ValueError):
        pass
    return -1


def placement(server_cpu: int | None) -> tuple[int | None, set[int] | None]:
    """(server CPU, client CPUs) within the CPUs this process may use."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = os.sched_getaffinity(0)
    server = min(allowed) if server_cpu is None else server_cpu
    return server, (allowed - {server}) or {server}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short run for a smoke test")
    p.add_argument("--model", help="model name or path for the server (default: the test "
                                    "fixture model through --model-factory)")
    p.add_argument("--model-factory", default="tests/server_model.py:make_model")
    p.add_argument("--models-dir", action="append", default=[])
    p.add_argument("--messages", type=int, default=2000, help="messages per rate (>= 2000)")
    p.add_argument("--soak-seconds", type=float, default=60.0)
    p.add_argument("--server-cpu", type=int,
                   help="pin the server to this CPU (default: the first this process may use; "
                        "the goals are for one core)")
    p.add_argument("--eager", action="store_true",
                   help="serve a checkpoint through the eager model (serve --eager), to compare")
    p.add_argument("--out", help="result JSON (default benchmarks/results/osc_latency.json; "
                                 "a --quick run writes to the temp folder unless given one)")
    args = p.parse_args()
    if args.out is None:  # a smoke run must not replace the committed result
        args.out = os.path.join(tempfile.gettempdir(), "osc_latency-quick.json") if args.quick \
            else str(ROOT / "benchmarks" / "results" / "osc_latency.json")
    n = 400 if args.quick else max(args.messages, 2000)
    soak = 10.0 if args.quick else args.soak_seconds
    args.server_cpu, client_cpus = placement(args.server_cpu)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)  # the client keeps off the server's core if it can
    # The receive thread must get the GIL as soon as a reply lands, not 5 ms later.
    sys.setswitchinterval(0.0005)

    tmp = tempfile.mkdtemp(prefix="flowsynth-bench-")
    proc, port = start_server(args, tmp)
    result: dict = {"benchmark": "osc_latency", "machine": machine_info(),
                    "settings": {"quick": args.quick, "messages": n, "soak_seconds": soak,
                                 "model": args.model or args.model_factory,
                                 "eager": args.eager, "server_cpu": args.server_cpu,
                                 "client_cpus": sorted(client_cpus or []), "dial_values": K,
                                 "reply_stamps": "kernel (SO_TIMESTAMPNS)" if KERNEL_STAMPS
                                 else "client receive thread"}}
    try:
        c = Client(port)
        table = calibrate(c)
        result["macro_100_per_s"] = with_sched(proc.pid, lambda: run_rate(c, table, 100, n))
        result["macro_1000_per_s"] = with_sched(proc.pid, lambda: run_rate(c, table, 1000, n))

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
        t0 = time.time() + 0.01
        for i in range(m):
            pace(t0 + i / 1000)
            sends[i] = c.send("/flowsynth/1/macro", 0, ((i % K) + 0.5) / K)
            during(i)
        time.sleep(0.5)
        replies_before = c.take()
        # A sketch's first answer is its first params reply (a checkpoint's matcher goes on
        # refining until its budget is spent; a new sketch cancels that, as here)
        done = [tt for tt, d in replies_before if d.startswith(b"/flowsynth/2/params\x00")]
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
        start = time.time()
        i = 0
        soak_sends = []
        next_sample = start
        while (now := time.time()) - start < soak:
            target = start + i / 1000
            if now < target:
                pace(target)
                continue
            soak_sends.append(c.send("/flowsynth/1/macro", 0, ((i % K) + 0.5) / K))
            i += 1
            if now >= next_sample:
                c.send("/flowsynth/stats")
                samples.append({"t_s": round(now - start, 2), "rss_kb": rss_kb(proc.pid),
                                "socket_queue_bytes": socket_queue(port)})
                next_sample += 1.0
        time.sleep(0.5)
        replies = c.take()
        stats = [d for _, d in replies if d.startswith(b"/flowsynth/stats\x00")]
        pend = [OscMessage(d).params for d in stats]
        soak_sends_arr = np.array(soak_sends)
        tenth = max(len(soak_sends_arr) // 10, 1)
        n_soak = len(soak_sends_arr)
        first = match(soak_sends_arr, replies, table, 1000, 0, tenth)
        last = match(soak_sends_arr, replies, table, 1000, n_soak - tenth, n_soak)
        result["soak_1000_per_s"] = {
            "seconds": soak, "sent": len(soak_sends), "rss_kb_start": rss0,
            "rss_kb_end": rss_kb(proc.pid),
            "max_pending_requests": max((p[2] for p in pend), default=None),
            "max_work_queue": max((p[3] for p in pend), default=None),
            "max_socket_queue_bytes": max((x["socket_queue_bytes"] for x in samples),
                                          default=None),
            "first_tenth": first, "last_tenth": last,
            "rss_samples": samples[:: max(len(samples) // 12, 1)]}
        c.stop = True
    finally:
        proc.terminate()
        proc.wait(10)

    m100, m1000 = result["macro_100_per_s"], result["macro_1000_per_s"]
    sk = result["sketch_while_macros_1000_per_s"]
    soak_r = result["soak_1000_per_s"]
    first, last = soak_r["first_tenth"], soak_r["last_tenth"]
    result["goals"] = {
        "p50_under_1ms_at_100": m100.get("p50_ms", 1e9) < GOALS["p50_ms_at_100"],
        "p99_under_3ms_at_100": m100.get("p99_ms", 1e9) < GOALS["p99_ms_at_100"],
        "sketch_under_100ms": (sk["sketch_max_ms"] or 1e9) < GOALS["sketch_ms"],
        "macros_keep_latency_during_sketch": sk["macros"].get("p50_ms", 1e9)
        <= 1.25 * m1000.get("p50_ms", 0) + 0.1,
        # A growing queue anywhere (slot, socket, worker) would lift the median too; a p99
        # over one second of a soak is one scheduling hiccup away from doubling.
        "no_growth_at_1000": (soak_r["rss_kb_end"] - soak_r["rss_kb_start"] < 20_000
                              and (soak_r["max_pending_requests"] or 0) < 100
                              and (soak_r["max_work_queue"] or 0) < 2
                              and 0 <= (soak_r["max_socket_queue_bytes"] or 0) < 65536
                              and last.get("p50_ms", 1e9)
                              < 2 * max(first.get("p50_ms", 0), 0.5)),
    }
    result["goal_criteria"] = {
        "p50_under_1ms_at_100": "macro_100_per_s.p50_ms < 1",
        "p99_under_3ms_at_100": "macro_100_per_s.p99_ms < 3",
        "sketch_under_100ms": "sketch_while_macros_1000_per_s.sketch_max_ms < 100 (request to"
                              " the sketch's first params reply)",
        "macros_keep_latency_during_sketch":
            "p50 of macros during sketches <= 1.25 * macro_1000_per_s.p50_ms + 0.1 ms",
        "no_growth_at_1000": "soak: RSS grows < 20 MB, pending requests < 100, work queue < 2, "
                             "socket queue < 64 KB, last tenth's p50 < 2 * max(first's, 0.5 ms)",
    }
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result("osc_latency", result, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
