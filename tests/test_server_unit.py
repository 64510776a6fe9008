"""The server's parts on their own and an in-process server driven over real UDP sockets."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from bridge.commands.send import parse_arg
from bridge.server import OSCServer, ServerConfig, encode
from bridge.server import validate as v
from bridge.server.slots import MAX_PENDING, Op, Slot, apply_batch, fresh_state, run_batch
from tests.server_model import AffineModel, get_synth, list_models, make_model

# --- validation ----------------------------------------------------------------------------


def test_numbers_accept_int_and_float_only():
    assert v.number(3, "x") == 3.0 and v.number(0.5, "x") == 0.5
    for bad in (True, "1", None, b"\x00", float("nan"), float("inf"), -float("inf")):
        with pytest.raises(v.RequestError) as e:
            v.number(bad, "x")
        assert e.value.code == "bad_args"


def test_integer_and_ranges():
    assert v.integer(3.0, "i", 0, 7) == 3
    for bad in (3.5, 8, -1, "3"):
        with pytest.raises(v.RequestError):
            v.integer(bad, "i", 0, 7)
    with pytest.raises(v.RequestError):
        v.unit(1.0001, "u")
    assert v.unit(1, "u") == 1.0


@pytest.mark.parametrize("seg", ["0", "17", "-1", "x", "²", "1.0", "", "0001"])
def test_slot_numbers_outside_1_to_16_are_refused(seg):
    with pytest.raises(v.RequestError):
        v.slot_number(seg)


def test_vector_checks_count_range_and_finiteness():
    assert v.vector([0, 0.5, 1], 3, "p", 0.0, 1.0).dtype == np.float32
    for args in ([0, 0.5], [0, 0.5, 2], [0, float("nan"), 1], [0, "a", 1]):
        with pytest.raises(v.RequestError):
            v.vector(args, 3, "p", 0.0, 1.0)


def test_paths_must_stay_inside_allowed_folders(tmp_path):
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"x")
    (allowed / "link.wav").symlink_to(outside / "secret.wav")
    (allowed / "linkdir").symlink_to(outside)
    ok = v.inside(str(allowed / "a.wav"), [str(allowed)], "f")
    assert ok == os.path.realpath(allowed / "a.wav")
    for bad in (allowed / ".." / "outside" / "secret.wav", allowed / "link.wav",
                allowed / "linkdir" / "secret.wav", "relative.wav", outside / "secret.wav"):
        with pytest.raises(v.RequestError) as e:
            v.inside(str(bad), [str(allowed)], "f")
        assert e.value.code == "not_allowed"
    with pytest.raises(v.RequestError):
        v.inside(str(allowed / "a.wav"), [], "f")


def test_max_volume_paths_become_native():
    assert v.native_path("Macintosh HD:/Users/me/x.wav") == "/Users/me/x.wav"
    assert v.native_path("/tmp/x.wav") == "/tmp/x.wav"


def test_send_parses_ints_floats_and_strings():
    assert parse_arg("3") == 3 and isinstance(parse_arg("3"), int)
    assert parse_arg("0.5") == 0.5 and parse_arg("a") == "a"
    assert np.isnan(parse_arg("nan"))


# --- encoding ----------------------------------------------------------------------------------


def test_encode_round_trips_through_python_osc():
    arr = np.array([0.25, 0.5], dtype=np.float32)
    m = OscMessage(encode("/flowsynth/1/x", [1, 2.5, "s", arr, True, None, b"ab", 2**40]))
    assert m.address == "/flowsynth/1/x"
    assert m.params == [1, 2.5, "s", 0.25, 0.5, True, None, b"ab", 2**40]


# --- slot state ----------------------------------------------------------------------------------


def _state():
    return fresh_state(make_model("toy"))


def test_macro_burst_merges_into_one_op_and_keeps_every_dial():
    slot = Slot(1)
    assert slot.enqueue(Op("macro", {0: 0.1}, [("a", 1)]))
    for k in range(100):
        assert not slot.enqueue(Op("macro", {k % 3: k / 100}, [("a", 1)]))
    ops = slot.take()
    assert len(ops) == 1 and ops[0].value == {0: 0.99, 1: 0.97, 2: 0.98}


def test_latent_supersedes_queued_dial_moves_but_keeps_their_replies():
    slot = Slot(1)
    slot.enqueue(Op("macro", {0: 0.1}, [("a", 1)], ("params",)))
    slot.enqueue(Op("latent", np.zeros(12, np.float32), [("b", 2)], ("params", "macros")))
    ops = slot.take()
    assert [o.kind for o in ops] == ["latent"] and set(ops[0].clients) == {("a", 1), ("b", 2)}


def test_queue_is_bounded():
    slot = Slot(1)
    for k in range(MAX_PENDING):
        slot.enqueue(Op("anchor", "a" if k % 2 else "b"))
    with pytest.raises(v.RequestError) as e:
        slot.enqueue(Op("explore", (0.1, None)))
    assert e.value.code == "busy"


def test_macro_batch_matches_the_model():
    model = make_model("toy")
    state = fresh_state(model)
    new, events = run_batch(state, [Op("macro", {0: 0.9, 3: 0.2})], np.random.default_rng(0))
    m = model.macros_from_latent(state.z[None])[0]
    m[0], m[3] = 0.9, 0.2
    z = model.latent_from_macros(m[None], state.z[None])[0]
    assert np.allclose(new.z, z)
    assert np.allclose(new.z[8:], state.z[8:])  # other latent coordinates keep their values
    (kind, verb, args), = events
    assert (kind, verb) == ("reply", "params")
    assert np.allclose(args[0], model.params_from_latent(z[None])[0], atol=1e-6)


def test_dial_move_shortcut_is_the_step_by_step_result():
    """run_batch's shortcut for a lone dial move gives apply_batch's state and reply exactly,
    and leaves what it cannot do (unknown dials, a bad index, a failing model) to it."""
    class Nan(AffineModel):
        def params_from_latent(self, z):
            return np.full((z.shape[0], 16), np.nan, np.float32)

    rng = np.random.default_rng(3)
    state = _state()
    state, _ = apply_batch(state, [Op("latent", rng.normal(0, 1, 12).astype(np.float32))], rng)
    state, _ = apply_batch(state, [Op("anchor", "a")], rng)
    cases = [(state, {int(k): float(rng.random()) for k in rng.integers(0, 8, 3)})
             for _ in range(20)]
    cases += [(state, {9: 0.5}), (state, {0: 0.5})]
    fresh = fresh_state(make_model("toy"))  # dials not computed yet
    cases += [(fresh, {1: 0.25}), (fresh_state(Nan()), {0: 0.5})]
    cases.append((dataclasses.replace(state, model=Nan()), {0: 0.5}))  # fails past the check
    for st, moves in cases:
        got_state, got = run_batch(st, [Op("macro", dict(moves), [("c", 1)])], rng)
        want_state, want = apply_batch(st, [Op("macro", dict(moves), [("c", 1)])], rng)
        assert [e[:2] for e in got] == [e[:2] for e in want]
        for a, b in zip(got, want, strict=True):
            if a[0] == "reply":
                np.testing.assert_array_equal(a[2][0], b[2][0])
        for field in ("z", "macros", "params", "base"):
            x, y = getattr(got_state, field), getattr(want_state, field)
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_array_equal(x, y)
        assert got_state.model is want_state.model
        assert [k for k, _ in got_state.anchors] == [k for k, _ in want_state.anchors]


def test_a_dial_position_gives_the_same_preset_whatever_path_led_there():
    """The shipped model, dials moved there and back, alone and together, through the dial
    shortcut and the step-by-step path: a position gives the same preset, bit for bit (a
    point computed from the previous one would drift in the last bits and never repeat)."""
    from bridge.hosting.registry import load_hosted

    rng = np.random.default_rng(0)
    state = fresh_state(load_hosted(None))
    state, events = run_batch(state, [Op("macro", {0: 0.3})], rng)
    start, first = state.macros.copy(), events[-1][2][0].copy()
    for moves in ({0: 0.7}, {2: 0.1}, {2: 0.9, 1: 0.55}, {0: 0.3},
                  {1: float(start[1]), 2: float(start[2])}):  # fmt: skip
        state, events = run_batch(state, [Op("macro", moves)], rng)
    np.testing.assert_array_equal(state.macros, start)
    np.testing.assert_array_equal(events[-1][2][0], first)
    state, events = apply_batch(state, [Op("macro", {0: 0.3})], rng)  # the step-by-step path
    np.testing.assert_array_equal(events[-1][2][0], first)
    # a non-dial request starts the dials afresh from its point
    state, _ = run_batch(state, [Op("latent", state.z.copy())], rng)
    assert state.base is None


def test_failing_request_changes_nothing_and_later_ones_still_apply():
    state = _state()
    ops = [Op("latent", np.full(12, 0.5, np.float32)), Op("morph", 0.5, [("c", 1)]),
           Op("macros", np.zeros(3, np.float32), [("c", 1)]), Op("anchor", "a")]
    new, events = run_batch(state, ops, np.random.default_rng(0))
    errors = [e for e in events if e[0] == "error"]
    assert [e[2] for e in errors] == ["bad_args", "bad_args"]
    assert "anchor" in errors[0][3]
    assert np.allclose(new.z, 0.5) and np.allclose(new.anchor("a"), 0.5)


def test_model_failure_is_internal_and_reverts():
    class Broken(AffineModel):
        def latent_from_params(self, v):
            raise RuntimeError("boom")

    state = fresh_state(Broken())
    new, events = run_batch(state, [Op("preset", np.full(16, 0.5, np.float32), [("c", 1)])],
                            np.random.default_rng(0))
    assert events[0][:3] == ("error", [("c", 1)], "internal")
    assert new.z is state.z


def test_non_finite_model_output_is_refused():
    class Nan(AffineModel):
        def params_from_latent(self, z):
            return np.full((z.shape[0], 16), np.nan, np.float32)

    state = fresh_state(Nan())
    new, events = run_batch(state, [Op("latent", np.ones(12, np.float32), [("c", 1)])],
                            np.random.default_rng(0))
    assert events[0][2] == "internal" and np.array_equal(new.z, state.z)


def test_explore_moves_exactly_radius_and_seed_repeats():
    state = _state()
    a, _ = run_batch(state, [Op("explore", (0.7, 5))], np.random.default_rng(0))
    b, _ = run_batch(state, [Op("explore", (0.7, 5))], np.random.default_rng(1))
    assert np.isclose(np.linalg.norm(a.z - state.z), 0.7, atol=1e-5)
    assert np.array_equal(a.z, b.z)


def test_morph_interpolates_between_anchors():
    state = _state()
    ops = [Op("latent", np.full(12, -1, np.float32)), Op("anchor", "a"),
           Op("latent", np.full(12, 1, np.float32)), Op("anchor", "b"), Op("morph", 0.25)]
    new, _ = run_batch(state, ops, np.random.default_rng(0))
    assert np.allclose(new.z, -0.5)


def test_empty_slot_says_no_model():
    from bridge.server.slots import SlotState

    _, events = run_batch(SlotState(), [Op("latent", np.zeros(12, np.float32), [("c", 1)])],
                          np.random.default_rng(0))
    assert events[0][2] == "no_model"


# --- an in-process server over UDP ---------------------------------------------------------


class Client:
    def __init__(self, server_addr):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = server_addr
        self.skipped: list = []  # what until() passed over, for failure messages

    def send(self, address, *args):
        self.sock.sendto(encode(address, list(args)), self.server)

    def recv(self, timeout=2.0):
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(65536)
        m = OscMessage(data)
        return m.address, list(m.params)

    def until(self, address, timeout=2.0):
        end = time.monotonic() + timeout
        while True:
            got = self.recv(max(end - time.monotonic(), 0.01))
            if got[0] == address:
                return got[1]
            self.skipped.append(got)

    def close(self):
        self.sock.close()


class SlowModel(AffineModel):
    def latent_from_audio(self, audio):
        time.sleep(0.6)
        return super().latent_from_audio(audio)


@pytest.fixture
def served(tmp_path):
    def factory(name):
        return SlowModel() if name == "slow" else make_model(name)

    default = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    default.bind(("127.0.0.1", 0))
    cfg = ServerConfig(port=0, reply_port=default.getsockname()[1], allow_dirs=[str(tmp_path)],
                       output_dir=str(tmp_path), queue_size=2)
    server = OSCServer(factory, lambda: [*list_models(), "slow"], cfg, get_synth=get_synth)
    server.load_slot(1, "toy")
    server.start()
    server.wait_idle()
    clients = []

    def client():
        c = Client(server.address)
        clients.append(c)
        return c

    yield server, client, default, tmp_path
    for c in clients:
        c.close()
    default.close()
    server.stop()
    assert not any(t.is_alive() for t in server._threads)


def test_hello_routes_replies_and_others_use_default_port(served):
    server, client, default, _ = served
    a = client()
    a.send("/flowsynth/hello", a.port, "test")
    assert a.recv() == ("/flowsynth/welcome", [1, "0.1.0"])
    b = client()
    b.send("/flowsynth/ping", "tok")
    default.settimeout(2)
    assert OscMessage(default.recvfrom(65536)[0]).params == ["tok"]


def test_slot_replies_reach_every_client_of_the_slot(served):
    _, client, _, _ = served
    a, b = client(), client()
    for c in (a, b):
        c.send("/flowsynth/hello", c.port)
        c.until("/flowsynth/welcome")
    a.send("/flowsynth/1/info")
    assert a.until("/flowsynth/1/info")[0] == "toy"
    b.send("/flowsynth/1/macro", 0, 0.3)
    pa, pb = a.until("/flowsynth/1/params"), b.until("/flowsynth/1/params")
    assert pa == pb and len(pa) == 16


def test_burst_answers_the_last_state(served):
    server, client, _, _ = served
    c = client()
    c.send("/flowsynth/hello", c.port)
    c.until("/flowsynth/welcome")
    # Replies are drained while the burst goes out, as a device does: a client that stops
    # reading lets its own receive buffer overflow and the kernel drops the newest replies.
    got: list[list[float]] = []
    done = threading.Event()
    c.sock.settimeout(0.05)

    def drain() -> None:
        quiet = 0
        while quiet < 6:
            try:
                m = OscMessage(c.sock.recvfrom(65536)[0])
            except TimeoutError:
                quiet = quiet + 1 if done.is_set() else 0
                continue
            if m.address == "/flowsynth/1/params":
                got.append(m.params)

    reader = threading.Thread(target=drain)
    reader.start()
    for k in range(2000):
        c.send("/flowsynth/1/macro", k % 8, (k % 97) / 96)
    c.send("/flowsynth/1/macro", 0, 0.123)
    assert server.wait_idle()
    done.set()
    reader.join(10)
    assert not reader.is_alive() and got
    model = make_model("toy")
    want = model.params_from_latent(server.slots[1].state.z[None])[0]
    assert np.allclose(got[-1], want, atol=1e-6)
    assert server.slots[1].state.macros[0] == pytest.approx(0.123)
    assert len(got) <= 2001


def test_control_path_is_not_blocked_by_a_sketch(served):
    import soundfile as sf

    server, client, _, tmp = served
    c = client()
    c.send("/flowsynth/hello", c.port)
    c.until("/flowsynth/welcome")
    c.send("/flowsynth/2/load", "slow")
    c.until("/flowsynth/2/info")
    wav = tmp / "hum.wav"
    sf.write(wav, 0.3 * np.sin(np.linspace(0, 2000, 16000 * 2)), 16000)
    c.send("/flowsynth/2/sketch", str(wav))
    assert c.until("/flowsynth/2/busy") == [1]
    t0 = time.monotonic()
    c.send("/flowsynth/1/macro", 1, 0.5)
    c.until("/flowsynth/1/params")
    assert time.monotonic() - t0 < 0.1  # the sketch takes 0.6 s
    c.until("/flowsynth/2/latent")
    assert c.until("/flowsynth/2/busy") == [0]


def test_full_work_queue_says_busy(served):
    import soundfile as sf

    server, client, _, tmp = served
    c = client()
    c.send("/flowsynth/hello", c.port)
    c.until("/flowsynth/welcome")
    c.send("/flowsynth/3/load", "slow")
    c.until("/flowsynth/3/info")
    wav = tmp / "hum.wav"
    sf.write(wav, np.zeros(1600), 16000)
    for _ in range(5):  # one runs, two wait, the rest are refused
        c.send("/flowsynth/3/sketch", str(wav))
    # Generous: on a loaded 2-core machine the slot's model may still be in preparation.
    err = c.until("/flowsynth/error", timeout=10)
    assert err[:2] == [3, "busy"]


def test_stop_is_clean_and_quick(tmp_path):
    server = OSCServer(make_model, list_models, ServerConfig(port=0))
    server.start()
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 1.5 and not server.alive()
    assert threading.active_count() < 50


# --- the sketch folder the server offers (/flowsynth/sketch_dir) ---------------------------


def test_sketch_dir_is_offered_and_allowed(tmp_path):
    import soundfile as sf

    sketches = tmp_path / "sketches"
    sketches.mkdir()
    cfg = ServerConfig(port=0, sketch_dir=str(sketches))
    server = OSCServer(make_model, list_models, cfg)
    server.load_slot(1, "toy")
    server.start()
    c = Client(server.address)
    try:
        server.wait_idle()
        c.send("/flowsynth/hello", c.port)
        c.until("/flowsynth/welcome")
        c.send("/flowsynth/sketch_dir")
        assert c.until("/flowsynth/sketch_dir") == [str(sketches)]
        wav = sketches / "flowsynth-sketch-1-1.wav"
        sf.write(wav, 0.3 * np.sin(np.linspace(0, 900, 16000)), 16000)
        c.send("/flowsynth/1/sketch", str(wav))  # no --allow-dir: the sketch folder suffices
        c.until("/flowsynth/1/latent")
        c.send("/flowsynth/sketch_dir", 1)
        assert c.until("/flowsynth/error")[:2] == [0, "bad_args"]
    finally:
        c.close()
        server.stop()


def test_no_sketch_dir_says_not_allowed():
    server = OSCServer(make_model, list_models, ServerConfig(port=0))
    server.start()
    c = Client(server.address)
    try:
        c.send("/flowsynth/hello", c.port)
        c.until("/flowsynth/welcome")
        c.send("/flowsynth/sketch_dir")
        err = c.until("/flowsynth/error")
        assert err[:2] == [0, "not_allowed"] and "--allow-dir" in err[2]
    finally:
        c.close()
        server.stop()


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes and owners")
def test_private_folder_is_created_for_this_user_only(tmp_path):
    from bridge.commands.serve import private_folder

    made = private_folder(str(tmp_path / "flowsynth-sketches"))
    assert os.stat(made).st_mode & 0o777 == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    assert os.stat(private_folder(str(loose))).st_mode & 0o777 == 0o700
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="link"):
        private_folder(str(tmp_path / "link"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        private_folder(str(tmp_path / "file"))
