"""Fuzz: well over 10,000 malformed packets (random bytes, wrong types and counts, NaN and
infinities, huge lists, bad paths, unknown addresses) at a running server, which must answer
each with an error, stay up, answer correctly afterwards, and leave its slots as they were."""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from bridge.server import OSCServer, ServerConfig, encode, osc_parse
from bridge.server.osc_server import _parse_numbers
from tests.server_model import get_synth, list_models, make_model

N_PACKETS = 10_500
BATCH = 100
BAD = [float("nan"), float("inf"), -float("inf")]


def bundle(messages: list[bytes]) -> bytes:
    body = b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return b"#bundle\x00" + struct.pack(">Q", 1) + body


def junk(rng: np.random.Generator) -> object:
    """Anything but a usable value for the verbs below."""
    pool = [*BAD, "x", "", True, False, None, b"\x01\x02", -1, 99, 2.5, 1e30, -1e30, 2**40]
    return pool[rng.integers(len(pool))]


def ntp(seconds_from_now: float) -> int:
    t = time.time() + seconds_from_now + osc_parse.NTP_EPOCH_OFFSET
    return int(t) << 32 | int((t % 1) * 2**32)


def hostile_bundle(rng: np.random.Generator) -> bytes:
    """Bundles that a careless or hostile client sends: element sizes that are negative,
    zero, unaligned or past the end; truncated elements; messages that would be valid but
    sit in a bundle stamped in the future or beside a broken one; too many messages."""
    good = encode("/flowsynth/1/macro", [1, 0.5])
    head = b"#bundle\x00" + struct.pack(">Q", 1)
    k = int(rng.integers(8))
    if k == 0:  # negative size (python-osc looped forever on this)
        return head + struct.pack(">i", -int(rng.integers(1, 2**31 - 1))) + rng.bytes(
            int(rng.integers(0, 3)) * 4)
    if k == 1:  # size past the end of the datagram
        return head + struct.pack(">i", len(good) + 4 * int(rng.integers(1, 1000))) + good
    if k == 2:  # zero or unaligned size
        return head + struct.pack(">i", int(rng.choice([0, 1, 2, 3, 5, 7]))) + good
    if k == 3:  # a valid message, then a truncated one
        cut = good[:int(rng.integers(1, len(good) // 4)) * 4]
        return bundle([good]) + struct.pack(">i", len(cut)) + cut[:-1]
    if k == 4:  # a valid message stamped in the future (this server refuses, never schedules)
        return b"#bundle\x00" + struct.pack(">Q", ntp(float(rng.uniform(1, 1e6)))) + \
            struct.pack(">i", len(good)) + good
    if k == 5:  # more messages than a datagram may carry
        return bundle([good] * int(rng.integers(33, 200)))
    if k == 6:  # a valid message beside a message with trailing junk
        return bundle([good, good + rng.bytes(4)])
    # nested too deep
    inner = bundle([good])
    for _ in range(int(rng.integers(4, 8))):
        inner = bundle_of_bundle(inner)
    return inner


def bundle_of_bundle(inner: bytes) -> bytes:
    return b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", len(inner)) + inner


def bad_message(rng: np.random.Generator) -> bytes:
    """Messages with valid values but a broken layout: cut short, junk after the arguments,
    RGBA/MIDI/char/unknown type tags, no NUL after the tags, non-NUL padding."""
    slot = int(rng.integers(1, 3))
    good = encode(f"/flowsynth/{slot}/macro", [1, 0.5])
    k = int(rng.integers(6))
    if k == 0:  # the float missing: python-osc read 0.0
        return good[:-4]
    if k == 1:  # trailing junk
        return good + rng.bytes(int(rng.integers(1, 4)) * 4)
    if k == 2:  # a type tag standing for something that is not a plain number
        tag = bytes([int(rng.choice([ord(c) for c in "rmctI[]xyzQ?"]))])
        return _osc(f"/flowsynth/{slot}/macro".encode()) + _osc(b",i" + tag) + \
            struct.pack(">ii", 1, 0x3F000000)
    if k == 3:  # the type tags never end
        return _osc(f"/flowsynth/{slot}/macro".encode()) + b",iff"
    if k == 4:  # non-NUL padding after the address
        return f"/flowsynth/{slot}/macro".encode() + b"\x00\x01" + good[20:]
    # bytes after the address that are no type tags
    return _osc(f"/flowsynth/{slot}/macro".encode()) + struct.pack(">if", 1, 0.5)


def _osc(b: bytes) -> bytes:
    return b + b"\x00" * (4 - len(b) % 4)


def malformed(rng: np.random.Generator, allowed: str) -> bytes:
    kind = rng.integers(14)
    if kind == 12:
        return hostile_bundle(rng)
    if kind == 13:
        return bad_message(rng)
    slot = int(rng.integers(1, 3))
    if kind == 0:  # random bytes, sometimes starting like OSC
        raw = rng.bytes(int(rng.integers(0, 600)))
        return (b"/flowsynth/1/macro\x00\x00,f\x00\x00" + raw) if rng.random() < 0.3 else raw
    if kind == 1:  # unknown or malformed addresses, bad slots
        addr = ["/flowsynth", "/flowsynth/", "/flowsynth//macro", "/flowsynth/1/macro/x",
                "/flowsynth/1/../2/macro", "/flowsynth/0/info", "/flowsynth/17/info",
                "/flowsynth/-1/info", "/flowsynth/x/info", "/flowsynth/1/", "/FLOWSYNTH/1/info",
                "/flowsynth/*/info", "/flowsynth/１/info", "/other", "/" + "a" * 3000,
                "/flowsynth/1/" + "m" * 500, "/flowsynth/hello/1"][rng.integers(17)]
        return encode(addr, [junk(rng)] if rng.random() < 0.5 else [])
    if kind == 2:  # macro: bad index, bad value, or wrong count
        args = [[], [0], [0, 0.5, 1], [junk(rng), 0.5], [0, junk(rng)], [8, 0.5],
                [3.5, 0.5], [0, 1.01]][rng.integers(8)]
        return encode(f"/flowsynth/{slot}/macro", args)
    if kind == 3:  # vectors: wrong length (some huge), or one bad value
        verb, n, lo, hi = [("macros", 8, 0, 1), ("latent", 12, -5, 5),
                           ("preset", 16, 0, 1)][rng.integers(3)]
        if slot == 2:
            n = {"macros": 8, "latent": 20, "preset": 24}[verb]
        if rng.random() < 0.5:
            count = int(rng.choice([0, 1, n - 1, n + 1, 1000, 3000]))
            vals = list(rng.uniform(lo, hi, count))
        else:
            vals = list(rng.uniform(lo, hi, n))
            # any finite number is a valid latent coordinate, so only non-numbers spoil one
            pool = [*BAD, "x", None, True] + ([] if verb == "latent" else [1.5, -0.5])
            vals[rng.integers(n)] = pool[rng.integers(len(pool))]
        return encode(f"/flowsynth/{slot}/{verb}", vals)
    if kind == 4:  # morph and explore out of range or mistyped
        if rng.random() < 0.5:
            args = [[], [0.5, 0.5], [-0.1], [1.1], [junk(rng)]][rng.integers(5)]
            if args and isinstance(args[0], (int, float)) and not isinstance(args[0], bool) \
                    and np.isfinite(args[0]) and 0 <= args[0] <= 1:
                args = [2.0]
            return encode(f"/flowsynth/{slot}/morph", args)
        args = [[], [-1.0], [0.5, -3], [0.5, 2.5], [0.5, "s"], [0.5, 1, 2],
                [float("nan")], [float("inf"), 1]][rng.integers(8)]
        return encode(f"/flowsynth/{slot}/explore", args)
    if kind == 5:  # anchor names
        args = [[], ["c"], ["A"], ["ab"], [1], ["a", "b"], [None]][rng.integers(7)]
        return encode(f"/flowsynth/{slot}/anchor", args)
    if kind == 6:  # paths outside the allowed folder, or not paths at all
        path = ["/etc/passwd", "relative.wav", f"{allowed}/../escape.wav", "", "..",
                f"{allowed}/../../etc/shadow", "~/x.wav", "C:x.wav", "/nonexistent/x.wav"][
            rng.integers(9)]
        verb = ["sketch", "render"][rng.integers(2)]
        args = [path] if rng.random() < 0.8 else [junk(rng), "extra"]
        return encode(f"/flowsynth/{slot}/{verb}", args)
    if kind == 7:  # model paths and names
        name = ["/etc/passwd", "../x.pt", "./x", "~/m.pt", "nonesuch", 3, ""][rng.integers(7)]
        return encode(f"/flowsynth/{slot}/load", [name])
    if kind == 8:  # server-level verbs misused
        return [encode("/flowsynth/hello", []), encode("/flowsynth/hello", ["x"]),
                encode("/flowsynth/hello", [0]), encode("/flowsynth/hello", [70000]),
                encode("/flowsynth/ping", [1, 2]), encode("/flowsynth/models", [1]),
                encode("/flowsynth/hello", [9000, 3])][rng.integers(7)]
    if kind == 9:  # empty slots: every request says no_model
        verb = ["info", "macro", "latent", "anchor", "morph", "explore"][rng.integers(6)]
        return encode(f"/flowsynth/{int(rng.integers(3, 17))}/{verb}", [0, 0.5])
    if kind == 10:  # bundles of bad messages, and broken bundles
        if rng.random() < 0.5:
            return bundle([encode("/flowsynth/1/macro", [9, 0.5]), encode("/nope", [])])
        n = int(rng.integers(0, 40))
        return b"#bundle\x00" + rng.bytes(n + (n == 8))  # 8 random bytes: an empty bundle
    # truncated or corrupted versions of valid messages
    good = encode(f"/flowsynth/{slot}/macro", [1, 0.5])
    cut = int(rng.integers(1, len(good) - 1))
    return good[:cut] if rng.random() < 0.5 else good[:-4] + b"\xff\xff\xff\xff\x00"


def test_fuzz_leaves_the_server_up_and_its_slots_unchanged(tmp_path):
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where unregistered errors go
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    cfg = ServerConfig(port=0, reply_port=sink.getsockname()[1], allow_dirs=[str(tmp_path)],
                       output_dir=str(tmp_path))
    server = OSCServer(make_model, list_models, cfg, get_synth=get_synth)
    server.load_slot(1, "toy")
    server.load_slot(2, "toy-wide")
    server.start()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe.settimeout(5)
    fuzzer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def request(address, args, want):
        probe.sendto(encode(address, args), server.address)
        while True:
            m = OscMessage(probe.recvfrom(65536)[0])
            if m.address == want:
                return m.params

    def drain():
        try:
            while True:
                sink.recvfrom(65536)
        except BlockingIOError:
            pass

    try:
        request("/flowsynth/hello", [probe.getsockname()[1]], "/flowsynth/welcome")
        # Slot 1: anchors a and b and a current point, all different.
        for values, anchor in ((-0.4, "a"), (0.6, "b"), (0.2, None)):
            request("/flowsynth/1/latent", [np.full(12, values, np.float32)], "/flowsynth/1/params")
            if anchor:
                request("/flowsynth/1/anchor", [anchor], "/flowsynth/1/anchor")
        request("/flowsynth/2/macro", [3, 0.9], "/flowsynth/2/params")
        assert server.wait_idle()
        before = {s: server.slots[s].state for s in (1, 2)}

        rng = np.random.default_rng(1234)
        errors0, sent = server.errors, 0
        t0 = time.monotonic()
        while sent < N_PACKETS:
            for _ in range(BATCH):
                fuzzer.sendto(malformed(rng, str(tmp_path)), server.address)
                sent += 1
            # Pace the flood so the kernel never drops a packet: each must be answered.
            assert request("/flowsynth/ping", [sent], "/flowsynth/pong") == [sent]
            drain()
        assert server.wait_idle(10)
        elapsed = time.monotonic() - t0

        assert server.alive()
        assert server.errors - errors0 >= sent  # every malformed packet got its error
        for s in (1, 2):
            after = server.slots[s].state
            assert after.model is before[s].model
            assert np.array_equal(after.z, before[s].z)
            assert [k for k, _ in after.anchors] == [k for k, _ in before[s].anchors]
            for (_, za), (_, zb) in zip(after.anchors, before[s].anchors, strict=True):
                assert np.array_equal(za, zb)
        for s in range(3, 17):
            assert server.slots[s].model is None

        # ... and it still answers correctly: the stored point, the anchors, a new request.
        model = make_model("toy")
        request("/flowsynth/1/anchor", ["a"], "/flowsynth/1/anchor")  # stores the current point
        got = request("/flowsynth/1/morph", [0.0], "/flowsynth/1/params")
        want = model.params_from_latent(np.full((1, 12), 0.2, np.float32))[0]
        assert np.allclose(got, want, atol=1e-6)
        got = request("/flowsynth/1/morph", [1.0], "/flowsynth/1/params")
        want = model.params_from_latent(np.full((1, 12), 0.6, np.float32))[0]
        assert np.allclose(got, want, atol=1e-6)
        info = request("/flowsynth/2/info", [], "/flowsynth/2/info")
        assert info == ["toy-wide", "sine24", 24, 20, 8]
        print(f"{sent} malformed packets in {elapsed:.1f} s")
    finally:
        for s in (sink, probe, fuzzer):
            s.close()
        server.stop()
    assert not server.alive()


@pytest.mark.parametrize("seed", range(3))
def test_malformed_generator_never_makes_a_valid_request(seed, tmp_path):
    """The fuzz test's claim rests on every packet being malformed; check the generator."""
    rng = np.random.default_rng(seed)
    for _ in range(300):
        packet = malformed(rng, str(tmp_path))
        if packet.startswith(b"/flowsynth/1/macro") or packet.startswith(b"/flowsynth/2/macro"):
            try:
                m = osc_parse.parse_message(packet)
            except osc_parse.ParseError:
                continue  # the server refuses it whole
            ok = (len(m.args) == 2 and isinstance(m.args[0], int)
                  and not isinstance(m.args[0], bool) and 0 <= m.args[0] < 8
                  and isinstance(m.args[1], float) and 0 <= m.args[1] <= 1)
            assert not ok, m.args
        for verb, n in (("latent", (12, 20)), ("macros", (8,)), ("preset", (16, 24))):
            if packet.startswith(f"/flowsynth/1/{verb}".encode()) or \
                    packet.startswith(f"/flowsynth/2/{verb}".encode()):
                m = OscMessage(packet)
                numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool)
                              and np.isfinite(x) for x in m.params)
                in_range = verb == "latent" or all(0 <= x <= 1 for x in m.params if numbers)
                assert not (len(m.params) in n and numbers and in_range), (verb, m.params)


def test_fast_number_parser_reads_what_python_osc_reads():
    """The dial's fast path (_parse_numbers) answers exactly as python-osc for every datagram
    it accepts, and leaves every other one (damaged, truncated, other types) to python-osc."""
    rng = np.random.default_rng(11)
    addresses = ["/flowsynth/1/macro", "/a", "/flowsynth/16/macros", "/\u00e9t\u00e9"]
    accepted = 0
    for _ in range(20_000):
        args = [[int(rng.integers(-(2**31), 2**31)), float(np.float32(rng.normal(0, 1e3))),
                 float("nan"), "s", 2**40][int(rng.integers(5 if rng.random() < 0.1 else 3))]
                for _ in range(int(rng.integers(0, 5)))]
        data = bytearray(encode(addresses[int(rng.integers(len(addresses)))], args))
        for _ in range(int(rng.integers(0, 3))):  # damage some
            if not data:
                break
            i = int(rng.integers(len(data)))
            k = rng.integers(3)
            if k == 0:
                data[i] = int(rng.integers(256))
            elif k == 1:
                del data[i:]
            else:
                data[i:i] = bytes([int(rng.integers(256))])
        got = _parse_numbers(bytes(data))
        if got is None:
            continue
        accepted += 1
        m = OscMessage(bytes(data))
        assert got[0] == m.address and len(got[1]) == len(m.params)
        for a, b in zip(got[1], m.params, strict=True):
            assert type(a) is type(b) and (a == b or (a != a and b != b))
    assert accepted > 5_000
