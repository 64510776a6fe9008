"""End to end: a real `flowsynth serve` process on loopback, driven by liblo's oscsend and
heard by liblo's oscdump (Debian's liblo-tools), a client this project did not write.
Every address of the protocol is covered."""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.server_model import make_model

pytestmark = pytest.mark.skipif(
    shutil.which("oscsend") is None or shutil.which("oscdump") is None,
    reason="needs oscsend/oscdump from liblo-tools (apt-get install liblo-tools, or run "
    "scripts/install_system_deps.sh)",
)

ROOT = Path(__file__).resolve().parent.parent
FACTORY = "tests/server_model.py:make_model"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(*args: str) -> list[str]:
    from bridge.cli import COMMANDS

    entry = ["-m", "bridge.cli", "serve"] if "serve" in COMMANDS else \
        ["-m", "bridge.commands.serve"]
    return [sys.executable, *entry, "--model-factory", FACTORY, *args]


def start_server(*args: str, log_path: Path) -> tuple[subprocess.Popen, int, str]:
    proc = subprocess.Popen(serve_command("--port", "0", *args), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=open(log_path, "w"))
    banner = []
    end = time.monotonic() + 30
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if line.startswith("Ctrl-C"):
            break
    text = "".join(banner)
    m = re.search(r"udp \S+:(\d+)", text)
    if not m:
        proc.kill()
        raise RuntimeError(f"server did not start: {text}\n{log_path.read_text()}")
    return proc, int(m.group(1)), text


class Dump:
    """oscdump on a port; lines are read from a file so nothing blocks."""

    def __init__(self, port: int, path: Path) -> None:
        self.path = path
        self.file = open(path, "w")
        self.proc = subprocess.Popen(["oscdump", "-L", str(port)], stdout=self.file,
                                     stderr=subprocess.STDOUT)
        self.pos = 0

    def messages(self) -> list[tuple[str, list]]:
        with open(self.path) as f:
            f.seek(self.pos)
            chunk = f.read()
        done = chunk.rfind("\n") + 1
        self.pos += len(chunk[:done].encode())
        out = []
        for line in chunk[:done].splitlines():
            parts = line.split(" ", 3)
            if len(parts) < 2 or not parts[1].startswith("/"):
                continue
            types = parts[2] if len(parts) > 2 else ""
            raw = shlex.split(parts[3]) if len(parts) > 3 else []
            vals: list = []
            for t, r in zip(types, raw, strict=False):
                vals.append(int(r) if t in "ih" else float(r) if t in "fd" else r)
            out.append((parts[1], vals))
        return out

    def expect(self, *addresses: str, timeout: float = 5.0) -> dict[str, list]:
        """Wait for every address; return the values of the last of each. Others pass by."""
        got: dict[str, list] = {}
        seen = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for addr, vals in self.messages():
                seen.append(addr)
                if addr in addresses:
                    got[addr] = vals
            if all(a in got for a in addresses):
                return got
            time.sleep(0.01)
        raise AssertionError(f"waited for {addresses}, got {seen}")

    def quiet(self, seconds: float = 0.3) -> list[tuple[str, list]]:
        time.sleep(seconds)
        return self.messages()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
        self.file.close()


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.allowed = tmp / "allowed"
        self.models = tmp / "models"
        self.out = tmp / "renders"
        for d in (self.allowed, self.models, self.out):
            d.mkdir()
        self.reply = free_port()
        self.dump = Dump(self.reply, tmp / "dump.txt")
        self.proc, self.port, self.banner = start_server(
            "--reply-port", str(self.reply), "--allow-dir", str(self.allowed),
            "--models-dir", str(self.models), "--output-dir", str(self.out),
            "--log-level", "warning", log_path=tmp / "server.log")
        # oscdump may need a moment before it hears anything.
        for _ in range(100):
            self.send("/flowsynth/ping", "s", "ready")
            time.sleep(0.05)
            if any(a == "/flowsynth/pong" for a, _ in self.dump.messages()):
                break
        self.dump.quiet(0.1)

    def send(self, address: str, types: str = "", *values: object) -> None:
        cmd = ["oscsend", "127.0.0.1", str(self.port), address]
        if types:
            cmd += [types, *map(str, values)]
        subprocess.run(cmd, check=True, timeout=5)

    def error(self, address: str, types: str = "", *values: object) -> list:
        self.send(address, types, *values)
        return self.dump.expect("/flowsynth/error")["/flowsynth/error"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Setup(tmp_path_factory.mktemp("e2e"))
    yield s
    s.dump.close()
    if s.proc.poll() is None:
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(10) == 0
    log = (s.tmp / "server.log").read_text()
    assert "Traceback" not in log, log


MODEL = make_model("toy")


def floats(values: list) -> str:
    return "f" * len(values)


def test_banner_says_where_and_how(srv):
    assert f"127.0.0.1:{srv.port}" in srv.banner
    assert "slot 1: toy" in srv.banner and "udpsend" in srv.banner and "udpreceive" in srv.banner
    assert "/flowsynth/hello" in srv.banner and "WARNING" not in srv.banner


def test_ping_pong_and_models(srv):
    srv.send("/flowsynth/ping", "i", 42)
    assert srv.dump.expect("/flowsynth/pong")["/flowsynth/pong"] == [42]
    srv.send("/flowsynth/ping")
    assert srv.dump.expect("/flowsynth/pong")["/flowsynth/pong"] == []
    srv.send("/flowsynth/models")
    assert srv.dump.expect("/flowsynth/models")["/flowsynth/models"] == ["toy", "toy-wide"]


def test_hello_routes_replies_to_the_registered_port(srv):
    other = Dump(free_port(), srv.tmp / "dump2.txt")
    try:
        time.sleep(0.3)
        port = int(other.proc.args[2])
        # oscsend sends each message from a fresh port, so only the welcome itself can be
        # routed by this hello; it must reach the hello's port and not the default one.
        srv.send("/flowsynth/hello", "is", port, "e2e")
        assert other.expect("/flowsynth/welcome")["/flowsynth/welcome"] == [1, "0.1.0"]
        assert not [m for m in srv.dump.quiet(0.2) if m[0] == "/flowsynth/welcome"]
    finally:
        other.close()


def test_info(srv):
    srv.send("/flowsynth/1/info")
    got = srv.dump.expect("/flowsynth/1/info", "/flowsynth/1/names", "/flowsynth/1/macro_names")
    assert got["/flowsynth/1/info"] == ["toy", "sine16", 16, 12, 8]
    assert got["/flowsynth/1/names"] == MODEL.param_names
    assert got["/flowsynth/1/macro_names"] == MODEL.macro_names


def test_latent_replies_params_and_macros(srv):
    z = np.linspace(-1, 1, 12).astype(np.float32)
    srv.send("/flowsynth/1/latent", floats(z), *z)
    got = srv.dump.expect("/flowsynth/1/params", "/flowsynth/1/macros")
    assert np.allclose(got["/flowsynth/1/params"], MODEL.params_from_latent(z[None])[0], atol=2e-6)
    assert np.allclose(got["/flowsynth/1/macros"], MODEL.macros_from_latent(z[None])[0], atol=2e-6)


def test_macro_and_macros_move_only_macro_dimensions(srv):
    z = np.linspace(-1, 1, 12).astype(np.float32)
    srv.send("/flowsynth/1/latent", floats(z), *z)
    srv.dump.expect("/flowsynth/1/params")
    srv.send("/flowsynth/1/macro", "if", 2, 0.8)
    params = srv.dump.expect("/flowsynth/1/params")["/flowsynth/1/params"]
    m = MODEL.macros_from_latent(z[None])
    m[0, 2] = 0.8
    want = MODEL.params_from_latent(MODEL.latent_from_macros(m, z[None]))[0]
    assert np.allclose(params, want, atol=2e-5)
    # ints are numbers too: Max and Pd blur them
    srv.send("/flowsynth/1/macros", "ffffffif", 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1, 0.8)
    params = srv.dump.expect("/flowsynth/1/params")["/flowsynth/1/params"]
    m = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0, 0.8]], np.float32)
    want = MODEL.params_from_latent(MODEL.latent_from_macros(m, z[None]))[0]
    assert np.allclose(params, want, atol=2e-5)


def test_preset_round_trips_through_the_inverse_flow(srv):
    v = MODEL.params_from_latent(np.full((1, 12), 0.3, np.float32))[0]
    srv.send("/flowsynth/1/preset", floats(v), *v)
    got = srv.dump.expect("/flowsynth/1/latent", "/flowsynth/1/macros", "/flowsynth/1/params")
    assert np.allclose(got["/flowsynth/1/params"], v, atol=1e-4)
    assert np.allclose(got["/flowsynth/1/latent"], 0.3, atol=1e-3)


def test_anchors_and_morph(srv):
    for which, value in (("a", -0.5), ("b", 0.5)):
        z = np.full(12, value, np.float32)
        srv.send("/flowsynth/1/latent", floats(z), *z)
        srv.dump.expect("/flowsynth/1/params")
        srv.send("/flowsynth/1/anchor", "s", which)
        assert srv.dump.expect("/flowsynth/1/anchor")["/flowsynth/1/anchor"] == [which]
    srv.send("/flowsynth/1/morph", "f", 0.75)
    got = srv.dump.expect("/flowsynth/1/params", "/flowsynth/1/macros")
    want = MODEL.params_from_latent(np.full((1, 12), 0.25, np.float32))[0]
    assert np.allclose(got["/flowsynth/1/params"], want, atol=2e-5)


def test_explore_jumps_by_the_radius_and_a_seed_repeats(srv):
    z = np.zeros(12, np.float32)
    results = []
    for _ in range(2):
        srv.send("/flowsynth/1/latent", floats(z), *z)
        srv.dump.expect("/flowsynth/1/params")
        srv.send("/flowsynth/1/explore", "fi", 0.5, 7)
        got = srv.dump.expect("/flowsynth/1/latent", "/flowsynth/1/macros", "/flowsynth/1/params")
        results.append(np.array(got["/flowsynth/1/latent"]))
    assert np.isclose(np.linalg.norm(results[0]), 0.5, atol=1e-4)
    assert np.allclose(results[0], results[1])
    srv.send("/flowsynth/1/explore", "f", 0.5)
    srv.dump.expect("/flowsynth/1/latent")


def test_sketch_encodes_an_allowed_file(srv):
    t = np.arange(4 * 16000) / 16000
    path = srv.allowed / "hum.wav"
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(path, audio, 16000, subtype="FLOAT")
    srv.send("/flowsynth/1/sketch", "s", path)
    seen = []
    end = time.monotonic() + 5
    while time.monotonic() < end and ("/flowsynth/1/busy", [0]) not in seen:
        seen += srv.dump.messages()
        time.sleep(0.01)
    order = [a for a, vals in seen if a != "/flowsynth/1/busy" or vals]
    busy = [vals for a, vals in seen if a == "/flowsynth/1/busy"]
    assert busy == [[1], [0]]
    assert order[-4:-1] == ["/flowsynth/1/latent", "/flowsynth/1/macros", "/flowsynth/1/params"]
    latent = dict(seen)["/flowsynth/1/latent"]
    assert np.allclose(latent, MODEL.latent_from_audio(audio[None])[0], atol=1e-4)


def test_sketch_refusals(srv):
    outside = srv.tmp / "outside.wav"
    sf.write(outside, np.zeros(1600, np.float32), 16000)
    (srv.allowed / "link.wav").symlink_to(outside)
    long = srv.allowed / "long.wav"
    sf.write(long, np.zeros(31 * 8000, np.float32), 8000)
    (srv.allowed / "junk.wav").write_bytes(b"not audio at all")
    cases = [(outside, "not_allowed"), (srv.allowed / "link.wav", "not_allowed"),
             (f"{srv.allowed}/../outside.wav", "not_allowed"), ("hum.wav", "not_allowed"),
             (long, "bad_audio"), (srv.allowed / "missing.wav", "bad_audio"),
             (srv.allowed / "junk.wav", "bad_audio")]
    for path, code in cases:
        assert srv.error("/flowsynth/1/sketch", "s", path)[:2] == [1, code], path


def test_render_writes_a_wav(srv):
    target = srv.allowed / "out.wav"
    srv.send("/flowsynth/1/render", "s", target)
    got = srv.dump.expect("/flowsynth/1/rendered", timeout=10)["/flowsynth/1/rendered"]
    assert got == [str(target)]
    audio, sr = sf.read(target)
    assert sr == 16000 and len(audio) == 4 * 16000 and np.abs(audio).max() > 0.01
    srv.send("/flowsynth/1/render")
    got = srv.dump.expect("/flowsynth/1/rendered", timeout=10)["/flowsynth/1/rendered"]
    assert Path(got[0]).parent == srv.out and Path(got[0]).is_file()
    assert srv.error("/flowsynth/1/render", "s", "/etc/evil.wav")[:2] == [1, "not_allowed"]
    assert srv.error("/flowsynth/1/render", "s", srv.allowed / "x.txt")[:2] == [1, "bad_args"]


def test_load_and_per_slot_models(srv):
    assert srv.error("/flowsynth/2/info")[:2] == [2, "no_model"]
    srv.send("/flowsynth/2/load", "s", "toy-wide")
    got = srv.dump.expect("/flowsynth/2/info", "/flowsynth/2/names", "/flowsynth/2/macro_names")
    assert got["/flowsynth/2/info"] == ["toy-wide", "sine24", 24, 20, 8]
    assert srv.error("/flowsynth/2/morph", "f", 0.5)[:2] == [2, "bad_args"]  # no anchors yet
    z = np.zeros(12, np.float32)  # slot 1's size, wrong for slot 2
    assert srv.error("/flowsynth/2/latent", floats(z), *z)[:2] == [2, "bad_args"]
    assert srv.error("/flowsynth/3/load", "s", "nonesuch")[:2] == [3, "unknown_model"]
    assert srv.error("/flowsynth/3/load", "s", "/etc/passwd")[:2] == [3, "not_allowed"]
    assert srv.error("/flowsynth/3/load", "s", "../escape.pt")[:2] == [3, "not_allowed"]
    srv.send("/flowsynth/1/info")  # slot 1 kept its model
    assert srv.dump.expect("/flowsynth/1/info")["/flowsynth/1/info"][0] == "toy"


@pytest.mark.parametrize("address,types,values,slot,code", [
    ("/flowsynth/nope", "", (), 0, "unknown_address"),
    ("/other/thing", "i", (1,), 0, "unknown_address"),
    ("/flowsynth/1/fly", "", (), 1, "unknown_address"),
    ("/flowsynth/17/info", "", (), 0, "bad_args"),
    ("/flowsynth/0/info", "", (), 0, "bad_args"),
    ("/flowsynth/1/macro", "if", (8, 0.5), 1, "bad_args"),
    ("/flowsynth/1/macro", "if", (0, 1.5), 1, "bad_args"),
    ("/flowsynth/1/macro", "f", (0.5,), 1, "bad_args"),
    ("/flowsynth/1/macro", "is", (0, "x"), 1, "bad_args"),
    ("/flowsynth/1/macro", "if", (0, "nan"), 1, "bad_args"),
    ("/flowsynth/1/macro", "if", (0, "inf"), 1, "bad_args"),
    ("/flowsynth/1/macros", "fff", (0.1, 0.2, 0.3), 1, "bad_args"),
    ("/flowsynth/1/latent", "f" * 12, (1,) * 11 + ("-inf",), 1, "bad_args"),
    ("/flowsynth/1/preset", "f" * 15, (0.5,) * 15, 1, "bad_args"),
    ("/flowsynth/1/anchor", "s", ("c",), 1, "bad_args"),
    ("/flowsynth/1/morph", "f", (-0.1,), 1, "bad_args"),
    ("/flowsynth/1/explore", "f", (-1,), 1, "bad_args"),
    ("/flowsynth/1/sketch", "i", (3,), 1, "bad_args"),
    ("/flowsynth/hello", "s", ("x",), 0, "bad_args"),
    ("/flowsynth/hello", "i", (70000,), 0, "bad_args"),
    ("/flowsynth/ping", "ii", (1, 2), 0, "bad_args"),
])
def test_errors_are_answered_and_change_nothing(srv, address, types, values, slot, code):
    z = np.full(12, 0.1, np.float32)
    srv.send("/flowsynth/1/latent", floats(z), *z)
    before = srv.dump.expect("/flowsynth/1/params")["/flowsynth/1/params"]
    err = srv.error(address, types, *values)
    assert err[:2] == [slot, code] and err[2]
    srv.send("/flowsynth/1/anchor", "s", "a")
    srv.send("/flowsynth/1/morph", "f", 0)  # back to the stored current point: unchanged?
    assert srv.dump.expect("/flowsynth/1/params")["/flowsynth/1/params"] == before


def test_server_is_alive_after_all_that(srv):
    srv.send("/flowsynth/ping", "s", "still")
    assert srv.dump.expect("/flowsynth/pong")["/flowsynth/pong"] == ["still"]
    assert srv.proc.poll() is None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_cleanly(tmp_path, sig):
    proc, port, banner = start_server("--host", "0.0.0.0", log_path=tmp_path / "log")
    assert "WARNING" in banner and "0.0.0.0" in banner
    proc.send_signal(sig)
    assert proc.wait(10) == 0
    assert "stopped" in proc.stdout.read()


def test_bad_start_up_options_say_why(tmp_path):
    r = subprocess.run(serve_command("--port", "0", "--allow-dir", str(tmp_path / "nope")),
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--allow-dir" in r.stderr
    r = subprocess.run(serve_command("--port", "0", "--model", "nonesuch"),
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "nonesuch" in r.stderr


def test_send_and_monitor_commands(srv):
    from bridge.cli import COMMANDS

    def entry(name):
        if name in COMMANDS:
            return [sys.executable, "-m", "bridge.cli", name]
        return [sys.executable, "-m", f"bridge.commands.{name}"]

    mon = subprocess.Popen([*entry("monitor"), "--port", str(srv.port), "--slot", "1",
                            "--duration", "3"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    r = subprocess.run([*entry("send"), "/flowsynth/1/macro", "0", "0.25", "--port",
                        str(srv.port), "--wait", "0.5"], cwd=ROOT, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "/flowsynth/welcome" in r.stdout
    assert "/flowsynth/1/params" in r.stdout
    out = mon.communicate(timeout=20)[0]
    assert "/flowsynth/1/params" in out and re.search(r"\d\d:\d\d:\d\d\.\d{3}", out)
    r = subprocess.run([*entry("send"), "/flowsynth/1/macro", "9", "0.25", "--port",
                        str(srv.port), "--wait", "0.5"], cwd=ROOT, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "bad_args" in r.stdout
