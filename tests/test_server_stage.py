"""What a hostile or careless client found (issue 14), each over real UDP against an in-process
server: one datagram must never hang it, loop it, flood its log or its disk, reach outside
its folders, or change a slot it should not."""

from __future__ import annotations

import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.server import OSCServer, ServerConfig, encode, osc_parse
from bridge.server import validate as v
from tests.server_model import AffineModel, SineSynth, get_synth, list_models, make_model

ROOT = Path(__file__).resolve().parent.parent


class Client:
    def __init__(self, server_addr, hello: bool = True, slot: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = server_addr
        if hello:
            self.send(f"/flowsynth/{slot}/hello" if slot else "/flowsynth/hello", self.port)
            self.until("/flowsynth/welcome")

    def send(self, address, *args):
        self.sock.sendto(encode(address, list(args)), self.server)

    def raw(self, data: bytes):
        self.sock.sendto(data, self.server)

    def recv(self, timeout=2.0):
        self.sock.settimeout(timeout)
        m = osc_parse.parse_message(self.sock.recvfrom(65536)[0])
        return m.address, m.args

    def until(self, address, timeout=2.0):
        end = time.monotonic() + timeout
        while True:
            got = self.recv(max(end - time.monotonic(), 0.01))
            if got[0] == address:
                return got[1]

    def drain(self, seconds=0.2) -> list[tuple[str, list, int]]:
        """Everything that arrives within ``seconds``: (address, args, bytes)."""
        out = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recvfrom(65536)[0]
            except TimeoutError:
                break
            m = osc_parse.parse_message(data)
            out.append((m.address, m.args, len(data)))
        return out

    def ping(self, token="t", timeout=2.0) -> bool:
        self.send("/flowsynth/ping", token)
        try:
            return self.until("/flowsynth/pong", timeout) == [token]
        except TimeoutError:
            return False

    def close(self):
        self.sock.close()


def _bundle(*messages: bytes, timetag: int = 1) -> bytes:
    return b"#bundle\x00" + struct.pack(">Q", timetag) + b"".join(
        struct.pack(">i", len(m)) + m for m in messages)


def _osc(b: bytes) -> bytes:
    return b + b"\x00" * (4 - len(b) % 4)


@pytest.fixture
def served(tmp_path):
    """A server with the toy model on slot 1; yields (server, client factory, tmp)."""
    made = []

    def start(factory=make_model, names=list_models, synth=get_synth, **cfg):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        made.append(sink)
        config = dict(port=0, reply_port=sink.getsockname()[1], allow_dirs=[str(tmp_path)],
                      output_dir=str(tmp_path / "renders"))
        config.update(cfg)
        os.makedirs(config["output_dir"], exist_ok=True)
        server = OSCServer(factory, names, ServerConfig(**config), get_synth=synth)
        server.load_slot(1, "toy")
        server.start()
        assert server.wait_idle()
        made.append(server)
        return server

    def client(server, **kw):
        c = Client(server.address, **kw)
        made.append(c)
        return c

    yield start, client, tmp_path
    for x in reversed(made):
        if isinstance(x, OSCServer):
            x.stop()
        else:
            x.close()


def _state(server, slot=1):
    s = server.slots[slot].state
    return s.z.copy(), s.macros if s.macros is None else s.macros.copy()


# --- 1: a bundle element of negative size -------------------------------------------------


def test_negative_bundle_element_size_is_refused_and_the_server_keeps_answering(served):
    start, client, _ = served
    server = start()
    c = client(server)
    for size in (-4, -1, -(2**31)):
        c.raw(b"#bundle\x00" + struct.pack(">Qi", 1, size))
        err = c.until("/flowsynth/error")
        assert err[:2] == [0, "bad_args"] and "element size" in err[2]
    assert c.ping("alive", timeout=1.0)  # python-osc's parser looped forever here


# --- 2: renders of a model that learned a subset ------------------------------------------


class SubsetModel(AffineModel):
    """Learns 12 of sine16's 16 parameters (p4..p15); p0..p3 keep their trained values."""

    def __init__(self) -> None:
        super().__init__("toy-sub", 12, 10, seed=5)
        self.synth_name = "sine16"
        self.param_names = [f"p{k}" for k in range(4, 16)]
        self.full_spec = SineSynth(16).spec.with_defaults(
            {"p0": 0.6, "p1": 0.2, "p2": 0.9, "p3": 0.4})


class CheckedSine(SineSynth):
    """A synth that checks its presets' width, as the built-in synths do."""

    def render(self, presets, note, sample_rate=22050):
        if np.shape(presets)[-1] != len(self.spec):
            raise ValueError(f"{self.name}: expected presets of {len(self.spec)} normalized "
                             f"values, got shape {np.shape(presets)}")
        return super().render(presets, note, sample_rate)


def test_render_completes_a_learned_subset_with_the_trained_values(served):
    start, client, tmp = served
    server = start(factory=lambda n: SubsetModel() if n == "toy-sub" else make_model(n),
                   names=lambda: [*list_models(), "toy-sub"],
                   synth=lambda n: CheckedSine(int(n[len("sine"):])))
    c = client(server, slot=1)
    c.send("/flowsynth/1/load", "toy-sub")
    c.until("/flowsynth/1/info")
    c.send("/flowsynth/1/macro", 0, 0.8)
    learned = np.asarray(c.until("/flowsynth/1/params"), np.float32)
    target = tmp / "sub.wav"
    c.send("/flowsynth/1/render", str(target))
    assert c.until("/flowsynth/1/rendered", timeout=10) == [str(target)]
    from bridge.server.osc_server import RENDER_NOTE
    from bridge.synth.base import Note

    full = np.array([0.6, 0.2, 0.9, 0.4, *learned], np.float32)
    want = CheckedSine(16).render(full[None], Note(*RENDER_NOTE), 16000)[0]
    got, sr = sf.read(target, dtype="float32")
    assert sr == 16000 and np.array_equal(got, want)


@pytest.mark.skipif(not (ROOT / "bridge/assets/models/subtractive.pt").is_file(),
                    reason="no shipped model")
def test_render_works_with_the_shipped_model(tmp_path):
    """The shipped model learns 32 of subtractive's 34 parameters: render used to fail."""
    from bridge.commands.serve import _model_source

    loader, names, _, default = _model_source(None, [])
    cfg = ServerConfig(port=0, output_dir=str(tmp_path), script_checkpoints=False)
    server = OSCServer(loader, names, cfg)
    model = server.load_slot(1, default)
    server.start()
    c = Client(server.address)
    try:
        assert len(model.param_names) < len(model.full_spec)
        c.send("/flowsynth/1/render")
        got = c.until("/flowsynth/1/rendered", timeout=60)
        audio, sr = sf.read(got[0])
        assert sr == model.sample_rate and np.abs(audio).max() > 1e-3
    finally:
        c.close()
        server.stop()


# --- 3: reply loops -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_whose_reply_port_is_its_own_port_never_answers_itself():
    port = _free_port()
    server = OSCServer(make_model, list_models, ServerConfig(port=port, reply_port=port))
    server.start()
    c = Client(server.address, hello=False)
    try:
        c.send("/flowsynth/nope")  # its error goes to the default reply port: the server
        c.send("/flowsynth/1/info")
        time.sleep(0.5)
        assert server.received <= 3, server.received  # it looped: 285k errors in 10 s
        c.send("/flowsynth/hello", port)  # a hello naming the server's own port is refused
        c.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):  # its error goes to the default port, dropped
            c.recv(0.3)
        assert server.alive() and server.received <= 4
    finally:
        c.close()
        server.stop()


def test_hello_naming_the_servers_port_is_refused(served):
    start, client, _ = served
    server = start()
    c = client(server)
    c.send("/flowsynth/hello", server.address[1])
    err = c.until("/flowsynth/error")
    assert err[:2] == [0, "bad_args"] and "own port" in err[2]


def test_two_servers_answering_each_other_stop_at_once():
    pa, pb = _free_port(), _free_port()
    a = OSCServer(make_model, list_models, ServerConfig(port=pa, reply_port=pb))
    b = OSCServer(make_model, list_models, ServerConfig(port=pb, reply_port=pa))
    for s in (a, b):
        s.load_slot(1, "toy")
        s.start()
        assert s.wait_idle()
    c = Client(a.address, hello=False)
    try:
        c.send("/flowsynth/nope")  # A's error goes to B, B's answer to A ...
        c.send("/flowsynth/1/macro", 0, 0.5)  # params to B (a reply: dropped)
        c.send("/flowsynth/1/latent", *([0.1] * 12))  # macros to B, which answers params
        c.send("/flowsynth/1/anchor", "a")  # `anchor a` is its own reply
        time.sleep(0.6)
        n = a.received + b.received
        time.sleep(0.4)
        assert a.received + b.received == n and n < 20, (a.received, b.received)
    finally:
        c.close()
        a.stop()
        b.stop()


def test_serve_refuses_a_reply_port_equal_to_its_port():
    port = str(_free_port())
    r = subprocess.run([sys.executable, "-m", "bridge.commands.serve", "--port", port,
                        "--reply-port", port, "--model-factory",
                        "tests/server_model.py:make_model", "--no-sketch-dir"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--reply-port" in r.stderr and "equals --port" in r.stderr


# --- 4: truncated messages, junk and foreign type tags --------------------------------------


def _macro_packets() -> dict[str, bytes]:
    good = encode("/flowsynth/1/macro", [0, 0.9])
    head = _osc(b"/flowsynth/1/macro")
    return {
        "float missing": good[:-4],
        "float missing, in a bundle": _bundle(good[:-4]),
        "trailing junk": good + b"\x00\x00\x00\x07",
        "trailing junk, in a bundle": _bundle(good + b"junk"),
        "rgba": head + _osc(b",ir") + struct.pack(">iI", 0, 0x3F666666),
        "midi": head + _osc(b",im") + struct.pack(">iI", 0, 0x3F666666),
        "unknown tag": head + _osc(b",iq") + struct.pack(">if", 0, 0.9),
        "float missing, unknown tag after": head + _osc(b",ifx") + struct.pack(">i", 0),
        "unterminated tags": head + b",if",
        "bad padding": b"/flowsynth/1/macro\x00\x07" + good[20:],
        "valid then truncated, in a bundle": _bundle(good, good[:-4]),
    }


@pytest.mark.parametrize("case", list(_macro_packets()))
def test_malformed_messages_get_bad_args_and_change_nothing(served, case):
    start, client, _ = served
    server = start()
    c = client(server, slot=1)
    c.send("/flowsynth/1/macro", 0, 0.3)
    c.until("/flowsynth/1/params")
    before = _state(server)
    c.raw(_macro_packets()[case])
    err = c.until("/flowsynth/error")
    assert err[:2] == [0, "bad_args"], err
    assert c.ping()
    assert server.wait_idle()
    after = _state(server)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])


def test_parser_accepts_what_the_protocol_uses():
    m = osc_parse.parse_message(encode("/a", [1, 0.5, "s", b"xy", True, None, 2**40]))
    assert m.address == "/a" and m.args == [1, 0.5, "s", b"xy", True, None, 2**40]
    assert osc_parse.parse_message(_osc(b"/flowsynth/ping")).args == []  # no type tags
    assert osc_parse.parse(_bundle()) == []  # an empty bundle is valid and does nothing


# --- 5: the log limit ---------------------------------------------------------------------


def test_malformed_input_cannot_flood_the_log(served, caplog):
    start, client, _ = served
    server = start()
    c = client(server)
    head = _osc(b"/flowsynth/1/macro")
    floods = [_bundle(b"\x00\x00\x00\x00"),  # python-osc: "Could not identify content type"
              head + _osc(b",iq") + struct.pack(">if", 0, 0.9)]  # "Unhandled parameter type"
    with caplog.at_level(logging.DEBUG):
        caplog.clear()
        t0 = time.monotonic()
        for k in range(300):
            c.raw(floods[k % 2])
            if k % 50 == 49:
                assert c.ping(str(k))
        elapsed = time.monotonic() - t0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # 20 lines in each one-second window the run touched, plus a "N more not logged" each.
    assert len(warnings) <= 21 * (int(elapsed) + 2), [r.getMessage() for r in warnings[:5]]
    assert len(warnings) < 150  # python-osc logged one line per datagram, past the limit


# --- 6: the render path race and overwriting ----------------------------------------------


class SlowSine(SineSynth):
    def render(self, presets, note, sample_rate=22050):
        time.sleep(0.5)
        return super().render(presets, note, sample_rate)


def test_a_folder_swapped_for_a_link_while_rendering_is_not_followed(served):
    start, client, tmp = served
    allowed, outside = tmp / "allowed", tmp / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    server = start(allow_dirs=[str(allowed)], synth=lambda n: SlowSine(16))
    c = client(server, slot=1)
    c.send("/flowsynth/1/render", str(allowed / "sub" / "x.wav"))
    time.sleep(0.2)  # accepted, and rendering
    (allowed / "sub").rename(allowed / "sub-old")
    (allowed / "sub").symlink_to(outside)
    err = c.until("/flowsynth/error", timeout=5)
    assert err[:2] == [1, "not_allowed"] and "link" in err[2]
    assert not (outside / "x.wav").exists() and list(outside.iterdir()) == []


def test_render_never_replaces_a_file_it_did_not_write_unless_asked(served):
    start, client, tmp = served
    server = start()
    c = client(server, slot=1)
    mine = tmp / "mine.wav"
    mine.write_bytes(b"the user's take")
    c.send("/flowsynth/1/render", str(mine))
    err = c.until("/flowsynth/error")
    assert err[:2] == [1, "not_allowed"] and "render <path> 1" in err[2]
    assert mine.read_bytes() == b"the user's take"
    c.send("/flowsynth/1/render", str(mine), 1)  # asked: replaced
    assert c.until("/flowsynth/1/rendered", timeout=5) == [str(mine)]
    assert sf.info(mine).frames > 0
    new = tmp / "new.wav"
    for _ in range(2):  # a file the server wrote may be rendered again
        c.send("/flowsynth/1/render", str(new))
        assert c.until("/flowsynth/1/rendered", timeout=5) == [str(new)]
    outside = tmp.parent / f"{tmp.name}-outside.wav"
    (tmp / "link.wav").symlink_to(outside)  # a link out of the allowed folder
    c.send("/flowsynth/1/render", str(tmp / "link.wav"))
    assert c.until("/flowsynth/error")[:2] == [1, "not_allowed"]
    assert not outside.exists()


# --- 7: subscribers -------------------------------------------------------------------------


def test_bad_requests_do_not_subscribe_or_evict_a_device(served):
    start, client, _ = served
    server = start()
    device = client(server, slot=1)
    bad = [client(server, hello=False) for _ in range(80)]
    for b in bad:  # each from its own port; their errors go to the default reply port
        b.send("/flowsynth/1/macro", 99, 0.5)
    assert device.ping()
    assert list(server.slots[1].subscribers) == [("127.0.0.1", device.port)]
    other = client(server, slot=1)
    other.send("/flowsynth/1/macro", 2, 0.7)
    assert len(device.until("/flowsynth/1/params")) == 16


def test_silent_clients_expire_and_hello_keeps_them(served):
    start, client, _ = served
    server = start(client_expiry_s=0.6)
    stale, alive = client(server, slot=1), client(server, slot=1)
    for _ in range(6):  # 1.8 s: the live one says hello every 0.3 s, the stale one is silent
        time.sleep(0.3)
        alive.send("/flowsynth/1/hello", alive.port)
        alive.until("/flowsynth/welcome")
    subs = list(server.slots[1].subscribers)
    assert subs == [("127.0.0.1", alive.port)], subs
    assert ("127.0.0.1", stale.port) not in server.clients
    assert ("127.0.0.1", alive.port) in server.clients


# --- 8: /load names ---------------------------------------------------------------------------


def test_load_never_reads_the_working_folder(tmp_path, monkeypatch):
    from bridge.commands.serve import _model_source

    work = tmp_path / "work"
    work.mkdir()
    (work / "evil.pt").write_bytes(b"not a model, but it exists")
    monkeypatch.chdir(work)
    models = tmp_path / "models"
    models.mkdir()
    loader, names, _, _ = _model_source(None, [str(models)])
    server = OSCServer(loader, names, ServerConfig(port=0, models_dirs=[str(models)]))
    server.start()
    c = Client(server.address)
    try:
        errors = {}
        for name in ("evil.pt", "nonesuch.pt", "evil"):
            c.send("/flowsynth/2/load", name)
            errors[name] = c.until("/flowsynth/error", timeout=10)
        assert all(e[:2] == [2, "unknown_model"] for e in errors.values()), errors
        # The same refusal whether or not a file of that name exists anywhere.
        texts = {e[2].replace(repr(n), "NAME") for n, e in errors.items()}
        assert len(texts) == 1, texts
        assert "work" not in next(iter(texts))
    finally:
        c.close()
        server.stop()
    with pytest.raises(FileNotFoundError):  # the loader itself looks only in the folders
        loader("evil.pt")


# --- 9: amplification and the render folder -----------------------------------------------


def test_one_datagram_causes_a_bounded_number_of_replies(served):
    start, client, _ = served
    server = start()
    c = client(server, slot=1)
    info = encode("/flowsynth/1/info", [])
    big = _bundle(*[info] * 2300)  # 64 KB: used to make 1.44 MB of replies
    assert 60000 < len(big) < 65500
    c.raw(big)
    got = c.drain(0.5)
    assert [g[0] for g in got] == ["/flowsynth/error"] and got[0][1][:2] == [0, "bad_args"]
    c.raw(_bundle(*[info] * osc_parse.MAX_MESSAGES))  # the most a datagram may carry
    got = c.drain(0.5)
    assert [g[0] for g in got] == ["/flowsynth/1/info", "/flowsynth/1/names",
                                   "/flowsynth/1/macro_names"]  # once, not 32 times
    c.raw(_bundle(*[encode("/flowsynth/nope", [])] * osc_parse.MAX_MESSAGES))
    got = c.drain(0.5)
    assert len(got) == 4 and all(g[0] == "/flowsynth/error" for g in got)
    c.raw(_bundle(*[encode("/flowsynth/models", [])] * osc_parse.MAX_MESSAGES))
    assert sum(g[2] for g in c.drain(0.5)) <= 65536


def test_the_output_folder_is_kept_under_its_cap(served):
    start, client, tmp = served
    out = tmp / "renders"
    out.mkdir()
    (out / "keep-me.wav").write_bytes(b"x" * 10)  # not a render of the server's: untouched
    one = 4 * 16000 * 4 + 100  # a 4 s float32 render at 16 kHz, with its header
    server = start(output_cap_bytes=3 * one)
    c = client(server, slot=1)
    names = []
    for k in range(6):
        c.send("/flowsynth/1/macro", 0, k / 6)
        c.send("/flowsynth/1/render")
        names.append(Path(c.until("/flowsynth/1/rendered", timeout=10)[0]).name)
    left = sorted(p.name for p in out.iterdir())
    renders = [n for n in left if n != "keep-me.wav"]
    assert "keep-me.wav" in left and sorted(names[-3:]) == renders, (names, left)
    assert sum((out / n).stat().st_size for n in renders) <= 3 * one


# --- 10: validation ---------------------------------------------------------------------------


def test_explore_radius_is_bounded(served):
    start, client, _ = served
    server = start()
    c = client(server, slot=1)
    for r in (1e38, 16.5, -0.1):
        c.send("/flowsynth/1/explore", r, 1)
        err = c.until("/flowsynth/error")
        assert err[:2] == [1, "bad_args"] and "explore radius" in err[2]
    c.send("/flowsynth/1/explore", 4.0, 1)  # the devices' Radius dial reaches 4
    assert len(c.until("/flowsynth/1/latent")) == 12


def test_huge_amplitude_audio_is_bad_audio(served):
    start, client, tmp = served
    server = start()
    c = client(server, slot=1)
    loud = tmp / "loud.wav"
    sf.write(loud, np.full(16000, 1e30, np.float32), 16000, subtype="FLOAT")
    c.send("/flowsynth/1/sketch", str(loud))
    err = c.until("/flowsynth/error", timeout=5)
    assert err[:2] == [1, "bad_audio"] and "normalize" in err[2]


def test_size_limit_is_stated_in_the_unit_it_is_set_in(tmp_path):
    from bridge.server.worker import MAX_AUDIO_BYTES, load_audio

    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(51 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(v.RequestError) as e:
        load_audio(str(big), 16000, 30.0, MAX_AUDIO_BYTES)
    assert e.value.code == "bad_audio" and "51.0 MB" in e.value.message
    assert "limit of 50 MB" in e.value.message, e.value.message


class NanModel(AffineModel):
    def __init__(self) -> None:
        super().__init__()
        self.W[0, 0] = np.nan  # one NaN weight: every answer is NaN


def test_a_model_with_nan_weights_is_refused(served):
    start, client, _ = served
    server = start(factory=lambda n: NanModel() if n == "nan" else make_model(n),
                   names=lambda: [*list_models(), "nan"])
    with pytest.raises(ValueError, match="non-finite"):
        server.load_slot(2, "nan")
    c = client(server, slot=2)
    c.send("/flowsynth/2/load", "nan")
    err = c.until("/flowsynth/error", timeout=5)
    assert err[:2] == [2, "unknown_model"] and "non-finite" in err[2]
    assert server.slots[2].model is None


def test_checkpoint_weights_are_checked_for_nan():
    import torch

    from bridge.server.osc_server import _non_finite_weights

    class Holder:
        net = torch.nn.Linear(2, 2)

    assert _non_finite_weights(Holder()) is None
    with torch.no_grad():
        Holder.net.bias[1] = float("nan")
    assert _non_finite_weights(Holder()) == "bias"


@pytest.mark.parametrize("seg", ["016", "01", "00", "1 "])
def test_slot_numbers_with_leading_zeros_are_refused(served, seg):
    start, client, _ = served
    server = start()
    c = client(server)
    c.send(f"/flowsynth/{seg}/info")
    err = c.until("/flowsynth/error")
    assert err[:2] == [0, "bad_args"] and "leading zeros" in err[2]
    with pytest.raises(v.RequestError):
        v.slot_number(seg)


# --- 11: bundle timetags ----------------------------------------------------------------------


def _ntp(unix: float) -> int:
    t = unix + osc_parse.NTP_EPOCH_OFFSET
    return int(t) << 32 | int((t % 1) * 2**32)


def test_future_bundles_are_refused_and_past_or_immediate_ones_act_now(served):
    start, client, _ = served
    server = start()
    c = client(server, slot=1)
    c.send("/flowsynth/1/macro", 0, 0.2)
    c.until("/flowsynth/1/params")
    before = _state(server)
    move = encode("/flowsynth/1/macro", [0, 0.9])
    c.raw(_bundle(move, timetag=_ntp(time.time() + 10)))
    err = c.until("/flowsynth/error")
    assert err[:2] == [0, "bad_args"] and "future" in err[2] and "timetag 1" in err[2]
    assert server.wait_idle() and np.array_equal(_state(server)[1], before[1])
    for tag in (1, _ntp(time.time() - 5)):
        c.raw(_bundle(move, timetag=tag))
        c.until("/flowsynth/1/params")
        assert server.wait_idle()
        assert server.slots[1].state.macros[0] == pytest.approx(0.9)
        c.send("/flowsynth/1/macro", 0, 0.2)
        c.until("/flowsynth/1/params")


# --- the bridge survives a slow worker and a fast flood together --------------------------


def test_server_answers_while_a_worker_renders_and_floods_arrive(served):
    start, client, _ = served
    server = start(synth=lambda n: SlowSine(16))
    c = client(server, slot=1)
    c.send("/flowsynth/1/render")
    flood = threading.Thread(target=lambda: [c.raw(b"#bundle\x00" + struct.pack(">Qi", 1, -4))
                                             for _ in range(500)])
    flood.start()
    flood.join()
    # The errors (the client's own buffer drops some: that is the kernel's), and maybe the
    # render's answer already.
    got = [a for a, _, _ in c.drain(0.5)]
    if "/flowsynth/1/rendered" not in got:
        assert c.until("/flowsynth/1/rendered", timeout=5)
    assert c.ping("after-flood", timeout=3)
