"""The OSC bridge: one UDP socket, one serve thread that reads, validates and applies requests
per slot and replies, and a worker for audio (shared/PROTOCOL.md).

Why one thread on the control path: handing each request from a receive thread to a control
thread cost a thread wake-up and a GIL hand-over per dial move (0.1 ms at the median, and a
scheduler turn of several ms at the tail when the core is busy). Instead the serve thread
reads every datagram waiting (a burst merges in its slot's queue: see slots.py), then applies
each slot's queue in one go and answers its last state, then waits on the socket again. While
it runs a model, datagrams wait in the socket's buffer and merge on the next read. Audio
work (sketch, render, load) can take a second and runs on the worker; its results come back
through the slots' queues and a wake-up socket, so it never holds up a dial.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import selectors
import socket
import struct
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_packet import OscPacket

from bridge import __version__
from bridge.models.hosted import HostedModel
from bridge.server import validate as v
from bridge.server.hosting import prepare
from bridge.server.slots import Client, Op, Slot, run_batch
from bridge.server.worker import (
    MAX_AUDIO_BYTES,
    MAX_AUDIO_SECONDS,
    WorkQueue,
    load_audio,
    save_wav,
    warm_up,
)

log = logging.getLogger("flowsynth.server")

PROTOCOL_VERSION = 1
MAX_CLIENTS = 1024
# Datagrams read before queued slots are served: a flood cannot starve the replies.
READ_BATCH = 256
RENDER_NOTE = (60, 100, 3.0, 4.0)  # pitch, velocity, held s, duration s: the papers' note


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9123
    reply_port: int = 9124
    allow_dirs: list[str] = field(default_factory=list)  # audio may be read/written here
    models_dirs: list[str] = field(default_factory=list)  # model paths must lie here
    output_dir: str | None = None  # where `render` without a path writes
    # A folder the server offers the Sketch device (/flowsynth/sketch_dir) and allows.
    sketch_dir: str | None = None
    queue_size: int = 8
    max_audio_seconds: float = MAX_AUDIO_SECONDS
    max_audio_bytes: int = MAX_AUDIO_BYTES
    # Host training checkpoints through their fast twin (bridge/server/hosting.py).
    script_checkpoints: bool = True
    # Collect garbage and freeze the heap after start-up and after each load (see
    # _settle_heap). Process-wide, so the serve command turns it on, not the library.
    freeze_heap: bool = False


# --- OSC encoding ------------------------------------------------------------------------
# Replies are built here rather than with python-osc's builder: a params reply is the hot
# path and packing an array in one call is several times cheaper than arg by arg.

_address_cache: dict[str, bytes] = {}


def _osc_string(s: str) -> bytes:
    b = s.encode("utf-8", "replace")
    return b + b"\x00" * (4 - len(b) % 4)


def encode(address: str, args: Sequence[object]) -> bytes:
    """An OSC message; a numpy array argument stands for its values as floats."""
    head = _address_cache.get(address)
    if head is None:
        head = _osc_string(address)
        if len(_address_cache) < 4096:
            _address_cache[address] = head
    tags = [","]
    body: list[bytes] = []
    for a in args:
        if isinstance(a, np.ndarray):
            tags.append("f" * a.size)
            body.append(a.astype(">f4").tobytes())
        elif isinstance(a, bool):
            tags.append("T" if a else "F")
        elif isinstance(a, int):
            if -(2**31) <= a < 2**31:
                tags.append("i")
                body.append(struct.pack(">i", a))
            else:
                tags.append("h")
                body.append(struct.pack(">q", a & 0xFFFFFFFFFFFFFFFF if a < 0 else a))
        elif isinstance(a, float):
            tags.append("f")
            body.append(struct.pack(">f", a))
        elif isinstance(a, (bytes, bytearray)):
            tags.append("b")
            n = len(a)
            body.append(struct.pack(">i", n) + bytes(a) + b"\x00" * (-n % 4))
        elif a is None:
            tags.append("N")
        else:
            tags.append("s")
            body.append(_osc_string(str(a)))
    return head + _osc_string("".join(tags)) + b"".join(body)


_FIXED_SIZE = {ord(c): n for c, n in (("i", 4), ("f", 4), ("c", 4), ("r", 4), ("m", 4),
                                      ("h", 8), ("d", 8), ("t", 8), ("T", 0), ("F", 0),
                                      ("N", 0), ("I", 0))}


def _complete(data: bytes) -> bool:
    """False for a message cut short. python-osc reads a missing trailing float as 0.0 (a
    courtesy to Reaktor), which would set a dial to 0 from a truncated packet."""
    end = data.find(b"\x00")
    tags_at = (end // 4 + 1) * 4
    if end < 0 or data[tags_at:tags_at + 1] != b",":
        return True  # no type tags: python-osc decides
    tags_end = data.find(b"\x00", tags_at)
    if tags_end < 0:
        return False
    size = 0
    for t in data[tags_at + 1:tags_end]:
        n = _FIXED_SIZE.get(t)
        if n is None:
            return True  # strings and blobs carry their own lengths; python-osc checks them
        size += n
    return len(data) >= ((tags_end - tags_at) // 4 + 1) * 4 + tags_at + size


_NUMBER_FORMATS: dict[bytes, struct.Struct] = {}


def _parse_numbers(data: bytes) -> tuple[str, list] | None:
    """(address, args) of a well-formed message whose arguments are all int32 or float32 (a
    dial's message), read in a few calls; None for anything else, which python-osc parses.
    Only exact, canonical datagrams pass, so the answer is always python-osc's own."""
    end = data.find(b"\x00")
    tags_at = (end // 4 + 1) * 4
    if end < 1 or data[:1] != b"/" or data[tags_at:tags_at + 1] != b",":
        return None
    tags_end = data.find(b"\x00", tags_at)
    if tags_end < 0:
        return None
    tags = data[tags_at + 1:tags_end]
    body = (tags_end // 4 + 1) * 4
    if (tags.strip(b"if") or len(data) != body + 4 * len(tags)
            or data[end:tags_at].strip(b"\x00") or data[tags_end:body].strip(b"\x00")):
        return None
    fmt = _NUMBER_FORMATS.get(tags)
    if fmt is None:
        fmt = struct.Struct(">" + tags.decode("ascii"))
        if len(_NUMBER_FORMATS) < 256:
            _NUMBER_FORMATS[tags] = fmt
    try:
        address = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return address, list(fmt.unpack_from(data, body))


def _rss_kb() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


class _RateLimitedLog:
    """Malformed input is logged, but a flood must not turn into a flood of log lines."""

    def __init__(self, per_second: int = 20) -> None:
        self.per_second = per_second
        self.window = 0
        self.count = 0
        self.suppressed = 0

    def warn(self, msg: str, *args: object) -> None:
        now = int(time.monotonic())
        if now != self.window:
            if self.suppressed:
                log.warning("%d more bad requests not logged", self.suppressed)
            self.window, self.count, self.suppressed = now, 0, 0
        self.count += 1
        if self.count <= self.per_second:
            log.warning(msg, *args)
        else:
            self.suppressed += 1


class OSCServer:
    """Hosts up to 16 models and answers the protocol. ``loader(name_or_path)`` returns a
    HostedModel; ``list_models()`` names what ``load`` accepts; ``get_synth(name)`` gives
    the synth ``render`` plays (bridge.synth.get_synth unless a custom host says otherwise)."""

    def __init__(self, loader: Callable[[str], HostedModel], list_models: Callable[[], list[str]],
                 config: ServerConfig | None = None,
                 get_synth: Callable[[str], object] | None = None) -> None:
        self.config = config or ServerConfig()
        self._loader = loader
        self._list_models = list_models
        self._get_synth = get_synth
        self._synths: dict[str, object] = {}
        self.slots = {s: Slot(s) for s in range(1, v.N_SLOTS + 1)}
        self.clients: OrderedDict[Client, int] = OrderedDict()  # (ip, source port) -> reply port
        self.work = WorkQueue(self.config.queue_size)
        self._ready: deque[int] = deque()  # slots with queued requests, in arrival order
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None  # other threads wake the serve thread here
        self._wake_w: socket.socket | None = None
        self._serve_ident: int | None = None
        self._serving = False  # a batch is being applied (wait_idle)
        self._threads: list[threading.Thread] = []
        self._badlog = _RateLimitedLog()
        self._render_count = 0
        self.received = 0
        self.errors = 0
        self.address: tuple[str, int] = (self.config.host, self.config.port)
        self._slot_verbs: dict[str, Callable[[Slot, list, Client], None]] = {
            "load": self._load, "info": self._info, "macro": self._macro,
            "macros": self._macros, "latent": self._latent, "preset": self._preset,
            "sketch": self._sketch, "anchor": self._anchor, "morph": self._morph,
            "explore": self._explore, "render": self._render, "hello": self._slot_hello,
        }
        self._server_verbs: dict[str, Callable[[list, Client], None]] = {
            "hello": self._hello, "ping": self._ping, "models": self._models,
            "stats": self._stats, "sketch_dir": self._sketch_dir,
        }

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        host, port = self.config.host, self.config.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            # A burst from a dial must wait in the kernel, not be dropped, while we catch up.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        sock.bind((host, port))
        # Non-blocking: the serve thread reads until the socket is empty, then waits in select.
        sock.setblocking(False)
        self._sock = sock
        self.address = sock.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Imports for the first sketch (about a second) happen here, not on the worker while
        # dials are being answered: an import holds the GIL in long stretches.
        warm_up()
        if self.config.freeze_heap:
            _settle_heap()
        self.work.start()
        t = threading.Thread(target=self._serve_loop, name="flowsynth-serve", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        for t in self._threads:
            t.join(timeout=5)
        self.work.stop()
        for s in (self._sock, self._wake_r, self._wake_w):
            if s is not None:
                s.close()

    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    def load_slot(self, slot: int, name: str) -> HostedModel:
        """Load a model into a slot now (start-up); errors propagate to the caller."""
        model = self._load_model(name)
        self._enqueue(self.slots[slot], Op("install", model))
        return model

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is queued (tests and start-up use it)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            # Slots first: a batch taken from them is applied while _serving is set.
            if not any(s.pending or s.scheduled for s in self.slots.values()) \
                    and not self._serving and self.work.depth() == 0:
                return True
            time.sleep(0.005)
        return False

    # --- sending ---------------------------------------------------------------------------

    def _dest(self, client: Client) -> tuple[str, int]:
        return client[0], self.clients.get(client, self.config.reply_port)

    def _send(self, packet: bytes, dest: tuple[str, int]) -> None:
        try:
            self._sock.sendto(packet, dest)
        except OSError as e:  # a client that went away must not stop the others' replies
            log.debug("reply to %s failed: %s", dest, e)

    def send_to(self, client: Client, address: str, args: Sequence[object] = ()) -> None:
        self._send(encode(address, args), self._dest(client))

    def send_slot(self, slot: Slot, verb: str, args: Sequence[object]) -> None:
        packet = encode(f"/flowsynth/{slot.number}/{verb}", args)
        sent = set()
        for client in tuple(slot.subscribers):
            dest = self._dest(client)
            if dest not in sent:
                sent.add(dest)
                self._send(packet, dest)

    def send_error(self, client: Client, slot: int, code: str, message: str) -> None:
        self.errors += 1
        self._badlog.warn("%s:%s slot %d %s: %s", client[0], client[1], slot, code, message)
        self.send_to(client, "/flowsynth/error", [slot, code, message[:500]])

    # --- serve thread --------------------------------------------------------------------------

    def _serve_loop(self) -> None:
        self._serve_ident = threading.get_ident()
        sock, wake = self._sock, self._wake_r
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        woke = False
        try:
            while not self._stopping.is_set():
                # Queued work first: models loaded before start() are installed before any
                # request for them is read.
                if self._ready:
                    self._serve_ready()
                # Woken from idle, the datagram that woke us is answered before looking for
                # more: looking costs a failed read (tens of us on a cold cache), and is done
                # after the reply has gone. Behind a burst, everything waiting is read first,
                # so that it merges.
                read = self._read(sock, 1 if woke else READ_BATCH)
                woke = False
                if read == 0 and not self._ready:
                    for key, _ in selector.select(0.5):
                        if key.fileobj is wake:
                            self._drain_wake()
                    woke = True
        finally:
            selector.close()

    def _read(self, sock: socket.socket, limit: int) -> int:
        """Handle the datagrams waiting (at most ``limit``); how many there were."""
        n = 0
        while n < limit:
            try:
                data, addr = sock.recvfrom(65536)
            except BlockingIOError:
                return n
            except OSError:
                if self._stopping.is_set():
                    return n
                continue  # e.g. ICMP port unreachable from an earlier reply on some systems
            n += 1
            self.received += 1
            client = (addr[0], addr[1])
            try:
                self._packet(data, client)
            except Exception as e:  # the server never dies of a request
                log.exception("request from %s failed", client)
                self.send_error(client, 0, "internal", f"request failed: {e}"[:300])
        return n

    def _wake(self) -> None:
        if self._wake_w is None:
            return
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full: a wake-up is pending already; closed: stopping
            pass

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _packet(self, data: bytes, client: Client) -> None:
        simple = _parse_numbers(data)
        if simple is not None:
            self._message(simple[0], simple[1], client)
            return
        try:
            if data[:1] == b"/":
                if not _complete(data):
                    raise ValueError("the message is shorter than its type tags say")
                messages = [OscMessage(data)]
            else:
                messages = [m.message for m in OscPacket(data).messages]
        except Exception as e:  # python-osc raises several types for malformed datagrams
            msg = f"not an OSC message ({len(data)} bytes): {e}"
            self.send_error(client, 0, "bad_args", msg[:300])
            return
        for m in messages:
            self._message(m.address, list(m.params), client)

    def _message(self, address: str, args: list, client: Client) -> None:
        parts = address.split("/")
        slot_no = 0
        try:
            if len(parts) == 3 and parts[0] == "" and parts[1] == "flowsynth":
                handler = self._server_verbs.get(parts[2])
                if handler is None:
                    raise v.RequestError("unknown_address", f"unknown address {address[:100]}")
                handler(args, client)
                return
            if len(parts) == 4 and parts[0] == "" and parts[1] == "flowsynth":
                slot_no = v.slot_number(parts[2])
                verb = self._slot_verbs.get(parts[3])
                if verb is None:
                    raise v.RequestError("unknown_address", f"unknown address {address[:100]}")
                slot = self.slots[slot_no]
                slot.subscribe(client)
                verb(slot, args, client)
                return
            raise v.RequestError("unknown_address", f"unknown address {address[:100]}")
        except v.RequestError as e:
            self.send_error(client, slot_no, e.code, e.message)

    def _enqueue(self, slot: Slot, op: Op) -> None:
        if slot.enqueue(op):
            self._ready.append(slot.number)
            if threading.get_ident() != self._serve_ident:
                self._wake()  # from the worker (or start-up): the serve thread may be waiting

    # server-level addresses

    def _hello(self, args: list, client: Client) -> None:
        v.count(args, 1, 2, "hello")
        port = v.integer(args[0], "reply port", 1, 65535)
        if len(args) == 2:
            v.text(args[1], "client name")
        self.clients[client] = port
        self.clients.move_to_end(client)
        if len(self.clients) > MAX_CLIENTS:
            self.clients.popitem(last=False)
        self.send_to(client, "/flowsynth/welcome", [PROTOCOL_VERSION, __version__])

    def _ping(self, args: list, client: Client) -> None:
        v.count(args, 0, 1, "ping")
        self.send_to(client, "/flowsynth/pong", args)

    def _models(self, args: list, client: Client) -> None:
        v.count(args, 0, 0, "models")
        try:
            names = [str(n) for n in self._list_models()]
        except Exception as e:
            raise v.RequestError("internal", f"cannot list models: {e}") from None
        # Everything must fit one datagram; no server is expected to offer this many.
        while names and sum(len(n) + 8 for n in names) > 60000:
            names.pop()
        self.send_to(client, "/flowsynth/models", names)

    def _stats(self, args: list, client: Client) -> None:
        v.count(args, 0, 0, "stats")
        pending = sum(len(s.pending) for s in self.slots.values())
        self.send_to(client, "/flowsynth/stats",
                     [self.received, self.errors, pending, self.work.depth(), _rss_kb()])

    def _sketch_dir(self, args: list, client: Client) -> None:
        v.count(args, 0, 0, "sketch_dir")
        if not self.config.sketch_dir:
            raise v.RequestError("not_allowed", "this server offers no sketch folder (started "
                                 "with --no-sketch-dir); record into a folder it allows "
                                 "(--allow-dir)")
        self.send_to(client, "/flowsynth/sketch_dir", [self.config.sketch_dir])

    # per-slot addresses

    def _slot_hello(self, slot: Slot, args: list, client: Client) -> None:
        self._hello(args, client)  # subscribing already happened on the way in

    def _need_model(self, slot: Slot) -> HostedModel:
        model = slot.model
        if model is None:
            raise v.RequestError(
                "no_model", f"slot {slot.number} has no model; send /flowsynth/{slot.number}/load "
                            "<model> (/flowsynth/models lists them)")
        return model

    def _info(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 0, 0, "info")
        self._need_model(slot)
        self._enqueue(slot, Op("info", None, [client]))

    def _macro(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 2, 2, "macro")
        model = self._need_model(slot)
        i = v.integer(args[0], "macro index", 0, max(len(model.macro_names) - 1, 0))
        if not model.macro_names:
            raise v.bad_args("this slot's model has no macros")
        self._enqueue(slot, Op("macro", {i: v.unit(args[1], "macro value")}, [client]))

    def _macros(self, slot: Slot, args: list, client: Client) -> None:
        model = self._need_model(slot)
        vals = v.vector(args, len(model.macro_names), "macros", 0.0, 1.0)
        self._enqueue(slot, Op("macros", vals, [client]))

    def _latent(self, slot: Slot, args: list, client: Client) -> None:
        model = self._need_model(slot)
        vals = v.vector(args, int(model.latent_dim), "latent")
        self._enqueue(slot, Op("latent", vals, [client]))

    def _preset(self, slot: Slot, args: list, client: Client) -> None:
        model = self._need_model(slot)
        vals = v.vector(args, len(model.param_names), "preset", 0.0, 1.0)
        self._enqueue(slot, Op("preset", vals, [client]))

    def _anchor(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 1, 1, "anchor")
        which = v.which(args[0])
        self._need_model(slot)
        self._enqueue(slot, Op("anchor", which, [client]))

    def _morph(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 1, 1, "morph")
        t = v.unit(args[0], "morph position")
        self._need_model(slot)
        self._enqueue(slot, Op("morph", t, [client]))

    def _explore(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 1, 2, "explore")
        radius = v.number(args[0], "explore radius")
        if radius < 0:
            raise v.bad_args(f"explore radius must be >= 0, got {radius:g}")
        seed = v.integer(args[1], "explore seed", 0, 2**31 - 1) if len(args) == 2 else None
        self._need_model(slot)
        self._enqueue(slot, Op("explore", (radius, seed), [client]))

    def _render(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 0, 1, "render")
        path = None
        if args:
            path = v.text(args[0], "render path")
            if not path.lower().endswith(".wav"):
                raise v.bad_args(f"render path {path[:200]!r} must end in .wav")
            path = v.inside(path, self._audio_dirs(), "render path")
            if os.path.isdir(path) or not os.path.isdir(os.path.dirname(path)):
                raise v.bad_args(f"cannot write a file at {path[:200]!r}: its folder is missing")
        self._need_model(slot)
        self._enqueue(slot, Op("render", path, [client]))

    def _audio_dirs(self) -> list[str]:
        dirs = list(self.config.allow_dirs)
        if self.config.sketch_dir:
            dirs.append(self.config.sketch_dir)
        if self.config.output_dir:
            dirs.append(self.config.output_dir)
        return dirs

    def _sketch(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 1, 1, "sketch")
        path = v.inside(v.text(args[0], "audio path"), self._audio_dirs(), "audio file")
        model = self._need_model(slot)
        cfg = self.config

        def job() -> None:
            try:
                audio = load_audio(path, int(model.sample_rate), cfg.max_audio_seconds,
                                   cfg.max_audio_bytes)
                z = np.asarray(model.latent_from_audio(audio[None]), dtype=np.float32)[0]
                self._enqueue(slot, Op("sketch_result", (z, model), [client]))
            except v.RequestError as e:
                self.send_error(client, slot.number, e.code, e.message)
                self.send_slot(slot, "busy", [0])
            except Exception as e:
                log.exception("sketch failed")
                self.send_error(client, slot.number, "internal", f"sketch failed: {e}"[:300])
                self.send_slot(slot, "busy", [0])

        self.send_slot(slot, "busy", [1])
        try:
            self.work.submit(job)
        except v.RequestError:
            self.send_slot(slot, "busy", [0])
            raise

    def _load(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 1, 1, "load")
        target = self._model_target(v.text(args[0], "model name"))

        def job() -> None:
            try:
                model = self._load_model(target)
            except v.RequestError as e:
                self.send_error(client, slot.number, e.code, e.message)
                return
            except (LookupError, FileNotFoundError, ValueError, OSError) as e:
                self.send_error(client, slot.number, "unknown_model",
                                f"cannot load model {target[:200]!r}: {e}"[:400])
                return
            except Exception as e:
                log.exception("loading %s failed", target)
                self.send_error(client, slot.number, "internal", f"loading failed: {e}"[:300])
                return
            log.info("slot %d: loaded %s", slot.number, model.name)
            self._enqueue(slot, Op("install", model, [client]))

        self.work.submit(job)

    def _load_model(self, name: str) -> HostedModel:
        model = self._loader(name)
        _check_model(model)
        model = prepare(model, script=self.config.script_checkpoints)
        if self.config.freeze_heap and self._threads:  # start() settles those loaded before it
            _settle_heap()
        return model

    def _model_target(self, name: str) -> str:
        """A model name passes to the loader; a path must lie in a models folder."""
        if not any(c in name for c in "/\\") and not name.startswith((".", "~")):
            return name
        dirs = self.config.models_dirs
        if not os.path.isabs(v.native_path(name)):
            for d in dirs:
                candidate = os.path.join(d, name)
                try:
                    return v.inside(candidate, dirs, "model path")
                except v.RequestError:
                    continue
        return v.inside(name, dirs, "model path")

    # --- applying queued requests (serve thread) ---------------------------------------------

    def _serve_ready(self) -> None:
        self._serving = True
        try:
            self._serve_slots()
        finally:
            self._serving = False

    def _serve_slots(self) -> None:
        ready = self._ready
        while ready:
            number = ready.popleft()
            slot = self.slots[number]
            try:
                ops = slot.take()
                if not ops:
                    continue
                slot.state, events = run_batch(slot.state, ops, slot.rng)
                self._emit(slot, events)
            except Exception:  # run_batch catches model errors; this is for our own bugs
                log.exception("slot %d: batch failed", number)

    def _emit(self, slot: Slot, events: list) -> None:
        for ev in events:
            kind = ev[0]
            if kind == "reply":
                self.send_slot(slot, ev[1], ev[2])
            elif kind == "error":
                for client in ev[1]:
                    self.send_error(client, slot.number, ev[2], ev[3])
            elif kind == "render":
                job = functools.partial(self._render_job, slot, *ev[1:])
                try:
                    self.work.submit(job)
                except v.RequestError as e:
                    for client in ev[1]:
                        self.send_error(client, slot.number, e.code, e.message)

    def _render_job(self, slot: Slot, clients: list[Client], params: np.ndarray,
                    path: str | None, model: HostedModel) -> None:
        try:
            from bridge.synth.base import Note

            synth = self._synth(str(model.synth_name))
            sr = int(model.sample_rate)
            audio = np.asarray(synth.render(params[None], Note(*RENDER_NOTE), sample_rate=sr))[0]
            if path is None:
                self._render_count += 1
                stamp = time.strftime("%Y%m%d-%H%M%S")
                name = f"slot{slot.number}-{stamp}-{self._render_count}.wav"
                path = os.path.join(self.config.output_dir or ".", name)
            save_wav(path, audio, sr)
        except Exception as e:
            log.exception("render failed")
            for client in clients:
                self.send_error(client, slot.number, "internal", f"render failed: {e}"[:300])
            return
        self.send_slot(slot, "rendered", [path])

    def _synth(self, name: str) -> object:
        # Only the worker thread calls this, so the cache needs no lock.
        synth = self._synths.get(name)
        if synth is None:
            if self._get_synth is None:
                from bridge.synth import get_synth

                synth = get_synth(name)
            else:
                synth = self._get_synth(name)
            self._synths[name] = synth
        return synth


def _settle_heap() -> None:
    """Collect, then exempt what is left (torch, the models: hundreds of thousands of objects)
    from future collections. Python's full collection walks every object and took 25 to 160 ms
    with the shipped model loaded, a stall that merged ten dial moves into one reply at 100/s;
    what is frozen here lives as long as the server anyway."""
    gc.collect()
    gc.freeze()


def _check_model(model: object) -> None:
    missing = [a for a in ("name", "synth_name", "param_names", "macro_names", "latent_dim",
                           "sample_rate", "params_from_latent", "latent_from_params",
                           "latent_from_macros", "macros_from_latent", "latent_from_audio")
               if not hasattr(model, a)]
    if missing:
        raise v.RequestError("internal", f"the loader returned something that is not a "
                                         f"HostedModel (missing {', '.join(missing)})")
