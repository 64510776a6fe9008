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
import ipaddress
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

from bridge import __version__
from bridge.matching.matcher import MatchCancelled
from bridge.models.hosted import HostedModel
from bridge.server import osc_parse
from bridge.server import render_out as ro
from bridge.server import validate as v
from bridge.server.hosting import prepare
from bridge.server.sketching import (
    UPDATE_INTERVAL_S,
    MatchError,
    MatchProcess,
    SearchTokens,
    saved_model,
)
from bridge.server.slots import SUBSCRIBER_EXPIRY_S, Client, Op, Slot, run_batch
from bridge.server.worker import (
    MAX_AUDIO_BYTES,
    MAX_AUDIO_SECONDS,
    WorkQueue,
    load_audio,
    warm_up,
)
from bridge.wire import encode

log = logging.getLogger("flowsynth.server")

PROTOCOL_VERSION = 1
MAX_CLIENTS = 1024
# Datagrams read before queued slots are served: a flood cannot starve the replies.
READ_BATCH = 256
RENDER_NOTE = (60, 100, 3.0, 4.0)  # pitch, velocity, held s, duration s: the papers' note
# What one datagram may make the server send straight back to its sender (errors, pong,
# welcome, models, stats): a bundle of cheap requests must not turn into a flood of replies.
# Slot replies are bounded by the bundle's message cap and go out once per batch.
MAX_ERRORS_PER_DATAGRAM = 4
MAX_REPLY_BYTES_PER_DATAGRAM = 65536
# Addresses only a server sends. Another server's replies (or our own, looped back) are
# dropped without a word: answering them is how two servers, or one talking to itself,
# answer each other forever. An error is never answered with an error.
REPLY_ONLY = frozenset({"welcome", "pong", "error"})
SLOT_REPLY_ONLY = frozenset({"params", "names", "macro_names", "busy", "sketch_note",
                             "rendered"})
# An echo of a reply we sent within this long is dropped (see _is_echo).
ECHO_WINDOW_S = 0.5


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
    # Renders without a path are kept under this many bytes; the oldest go first.
    output_cap_bytes: int = ro.DEFAULT_OUTPUT_CAP_BYTES
    # Clients (and slot subscribers) silent this long are forgotten (devices say hello every
    # 10 s); see slots.SUBSCRIBER_EXPIRY_S.
    client_expiry_s: float = SUBSCRIBER_EXPIRY_S
    max_audio_seconds: float = MAX_AUDIO_SECONDS
    max_audio_bytes: int = MAX_AUDIO_BYTES
    # Seconds a sketch's search may refine its answer (--match-budget).
    match_budget: float = 2.0
    # Host training checkpoints through their fast twin (bridge/server/hosting.py).
    script_checkpoints: bool = True
    # Collect garbage and freeze the heap after start-up and after each load (see
    # _settle_heap). Process-wide, so the serve command turns it on, not the library.
    freeze_heap: bool = False


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


def _looks_like_reply(data: bytes) -> bool:
    """A datagram (well-formed or not) addressed as one of the server's replies."""
    parts = data[:data.find(b"\x00")].split(b"/")
    if len(parts) == 3 and parts[1] == b"flowsynth":
        return parts[2].decode("ascii", "replace") in REPLY_ONLY
    return (len(parts) == 4 and parts[1] == b"flowsynth"
            and parts[3].decode("ascii", "replace") in SLOT_REPLY_ONLY)


def _local_ips(host: str) -> frozenset[str]:
    """Addresses a datagram to this server's port could be sent to: the bound one, loopback,
    and for a wildcard bind this machine's own addresses."""
    ips = {host, "127.0.0.1", "::1", "::ffff:127.0.0.1"}
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard:
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None):
                ips.add(str(info[4][0]))
        except OSError:
            pass
    return frozenset(ips)


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
        self._searches = SearchTokens()
        # Sketch searches run in a child process (see bridge/server/sketching.py).
        self.matching = MatchProcess()
        self._writer = ro.RenderWriter()
        self._seen: dict[Client, float] = {}  # client -> last valid request or hello
        self._next_sweep = 0.0
        # [errors, bytes] still allowed for the datagram being handled (serve thread only)
        self._budget: list[int] | None = None
        # what was sent lately to each default-reply-port destination (see _is_echo)
        self._recent: dict[tuple[str, int], deque[tuple[float, bytes]]] = {}
        self._local_ips: frozenset[str] = frozenset()
        self.received = 0
        self.errors = 0
        self.ignored = 0  # datagrams dropped unanswered: replies, echoes, our own
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
        self._local_ips = _local_ips(self.address[0])
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Imports for the first sketch (about a second) happen here, not on the worker while
        # dials are being answered: an import holds the GIL in long stretches.
        warm_up()
        if self.config.freeze_heap:
            _settle_heap()
        self.work.start()
        # The pitch tracker's imports (librosa, a few seconds on a loaded machine) run beside
        # the worker, so start-up stays quick and a load does not queue behind them.
        threading.Thread(target=_warm_pitch, name="flowsynth-warm", daemon=True).start()
        t = threading.Thread(target=self._serve_loop, name="flowsynth-serve", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        for t in self._threads:
            t.join(timeout=5)
        self.work.stop()
        self.matching.close()
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

    def _is_self(self, addr: tuple[str, int]) -> bool:
        """True for this server's own socket: it must never send to itself."""
        return addr[1] == self.address[1] and addr[0] in self._local_ips

    def _send(self, packet: bytes, dest: tuple[str, int]) -> None:
        if self._is_self(dest):
            return  # e.g. --reply-port equal to --port: the reply would be read as a request
        if dest[1] == self.config.reply_port:
            self._remember_sent(dest, packet)
        try:
            self._sock.sendto(packet, dest)
        except OSError as e:  # a client that went away must not stop the others' replies
            log.debug("reply to %s failed: %s", dest, e)

    def _remember_sent(self, dest: tuple[str, int], packet: bytes) -> None:
        recent = self._recent.get(dest)
        if recent is None:
            if len(self._recent) >= MAX_CLIENTS:
                self._recent.clear()
            recent = self._recent[dest] = deque(maxlen=8)
        recent.append((time.monotonic(), packet))

    def _is_echo(self, data: bytes, client: Client) -> bool:
        """A datagram from a client that never said hello, sent from the port its replies go
        to, holding exactly what we sent there moments ago: another server answering us
        (two servers whose reply ports point at each other). Answering it would answer
        ourselves forever; `anchor a` is its own reply."""
        recent = self._recent.get(client)
        if not recent or client in self.clients:
            return False
        cutoff = time.monotonic() - ECHO_WINDOW_S
        # tuple(): a copy in one step, as the worker may append meanwhile.
        return any(t >= cutoff and p == data for t, p in tuple(recent))

    def _direct(self, packet: bytes, dest: tuple[str, int], error: bool) -> None:
        """A reply to a request's sender, within the current datagram's budget."""
        budget = self._budget
        if budget is not None and threading.get_ident() == self._serve_ident:
            if (error and budget[0] <= 0) or budget[1] < len(packet):
                return
            budget[0] -= error
            budget[1] -= len(packet)
        self._send(packet, dest)

    def send_to(self, client: Client, address: str, args: Sequence[object] = ()) -> None:
        self._direct(encode(address, args), self._dest(client), False)

    def send_slot(self, slot: Slot, verb: str, args: Sequence[object]) -> None:
        packet = encode(f"/flowsynth/{slot.number}/{verb}", args)
        sent = set()
        for client in tuple(slot.subscribers):  # a copy: the worker's sends race a trim
            dest = self._dest(client)
            if dest not in sent:
                sent.add(dest)
                self._send(packet, dest)

    def send_error(self, client: Client, slot: int, code: str, message: str) -> None:
        self.errors += 1
        self._badlog.warn("%s:%s slot %d %s: %s", client[0], client[1], slot, code, message)
        packet = encode("/flowsynth/error", [slot, code, message[:500]])
        self._direct(packet, self._dest(client), True)

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
                if time.monotonic() >= self._next_sweep:
                    try:
                        self._expire()
                    except Exception:  # housekeeping must never stop the serve thread
                        log.exception("expiring clients failed")
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
            if self._is_self(client) or self._is_echo(data, client):
                self.ignored += 1
                continue
            self._budget = [MAX_ERRORS_PER_DATAGRAM, MAX_REPLY_BYTES_PER_DATAGRAM]
            try:
                self._packet(data, client)
            except Exception as e:  # the server never dies of a request
                log.exception("request from %s failed", client)
                self.send_error(client, 0, "internal", f"request failed: {e}"[:300])
            finally:
                self._budget = None
        return n

    def _expire(self) -> None:
        """Forget clients and subscribers silent for client_expiry_s (checked once a second)."""
        now = time.monotonic()
        self._next_sweep = now + 1.0
        cutoff = now - self.config.client_expiry_s
        for slot in self.slots.values():
            slot.expire(cutoff)
        stale = [c for c, t in self._seen.items() if t < cutoff]
        for c in stale:
            del self._seen[c]
            self.clients.pop(c, None)
        # A copy in one step (the worker's sends add entries meanwhile; list() of a dict's
        # items runs without releasing the GIL).
        for dest, recent in list(self._recent.items()):
            if not recent or recent[-1][0] < now - 5.0:
                self._recent.pop(dest, None)

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
            messages = osc_parse.parse(data)
        except osc_parse.ParseError as e:  # the whole datagram is refused; nothing was done
            if _looks_like_reply(data):
                self.ignored += 1
                return
            msg = f"not a well-formed OSC message ({len(data)} bytes): {e}"
            self.send_error(client, 0, "bad_args", msg[:300])
            return
        for m in messages:
            self._message(m.address, m.args, client)

    def _message(self, address: str, args: list, client: Client) -> None:
        parts = address.split("/")
        slot_no = 0
        try:
            if len(parts) == 3 and parts[0] == "" and parts[1] == "flowsynth":
                handler = self._server_verbs.get(parts[2])
                if handler is None:
                    if parts[2] in REPLY_ONLY:
                        self.ignored += 1
                        return
                    raise v.RequestError("unknown_address", f"unknown address {address[:100]}")
                handler(args, client)
                self._seen_now(client)
                return
            if len(parts) == 4 and parts[0] == "" and parts[1] == "flowsynth":
                if parts[3] in SLOT_REPLY_ONLY:
                    self.ignored += 1
                    return
                slot_no = v.slot_number(parts[2])
                verb = self._slot_verbs.get(parts[3])
                if verb is None:
                    raise v.RequestError("unknown_address", f"unknown address {address[:100]}")
                slot = self.slots[slot_no]
                # Subscribed before the verb runs (a sketch's busy reply must reach its
                # sender), and only kept if the request was valid: invalid requests
                # subscribe no one and so evict no one.
                now = self._seen_now(client)
                added = slot.subscribe(client, now)
                try:
                    verb(slot, args, client)
                except v.RequestError:
                    if added:
                        slot.unsubscribe(client)
                    raise
                slot.trim()
                return
            raise v.RequestError("unknown_address", f"unknown address {address[:100]}")
        except v.RequestError as e:
            self.send_error(client, slot_no, e.code, e.message)

    def _seen_now(self, client: Client) -> float:
        now = time.monotonic()
        seen = self._seen
        if client not in seen and len(seen) >= 4 * MAX_CLIENTS:
            seen.pop(next(iter(seen)))  # a flood of new source ports: forget the oldest
        seen[client] = now
        return now

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
        if self._is_self((client[0], port)):
            raise v.bad_args(f"reply port {port} is this server's own port; listen for "
                             "replies on another port and say hello with that one")
        self.clients[client] = port
        self.clients.move_to_end(client)
        if len(self.clients) > MAX_CLIENTS:
            self.clients.popitem(last=False)
        # A hello keeps the client's subscriptions alive (devices repeat it every 10 s).
        now = self._seen_now(client)
        for slot in self.slots.values():
            if client in slot.subscribers:
                slot.subscribe(client, now)
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
        self._stop_search(slot)
        self._enqueue(slot, Op("macro", {i: v.unit(args[1], "macro value")}, [client]))

    def _macros(self, slot: Slot, args: list, client: Client) -> None:
        model = self._need_model(slot)
        vals = v.vector(args, len(model.macro_names), "macros", 0.0, 1.0)
        self._stop_search(slot)
        self._enqueue(slot, Op("macros", vals, [client]))

    def _latent(self, slot: Slot, args: list, client: Client) -> None:
        model = self._need_model(slot)
        vals = v.vector(args, int(model.latent_dim), "latent")
        self._stop_search(slot)
        self._enqueue(slot, Op("latent", vals, [client]))

    def _preset(self, slot: Slot, args: list, client: Client) -> None:
        model = self._need_model(slot)
        vals = v.vector(args, len(model.param_names), "preset", 0.0, 1.0)
        self._stop_search(slot)
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
        self._stop_search(slot)
        self._enqueue(slot, Op("morph", t, [client]))

    def _explore(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 1, 2, "explore")
        radius = v.number(args[0], "explore radius")
        if not 0 <= radius <= v.MAX_EXPLORE_RADIUS:
            raise v.bad_args(f"explore radius must be in [0, {v.MAX_EXPLORE_RADIUS:g}] latent "
                             f"units, got {radius:g}")
        seed = v.integer(args[1], "explore seed", 0, 2**31 - 1) if len(args) == 2 else None
        self._need_model(slot)
        self._stop_search(slot)
        self._enqueue(slot, Op("explore", (radius, seed), [client]))

    def _render(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 0, 2, "render")
        target = None
        overwrite = False
        if args:
            path = v.text(args[0], "render path")
            if len(args) == 2:
                overwrite = bool(v.integer(args[1], "render overwrite flag", 0, 1))
            if not path.lower().endswith(".wav"):
                raise v.bad_args(f"render path {path[:200]!r} must end in .wav")
            dirs = self._audio_dirs()
            path = v.inside(path, dirs, "render path")
            if os.path.isdir(path) or not os.path.isdir(os.path.dirname(path)):
                raise v.bad_args(f"cannot write a file at {path[:200]!r}: its folder is missing")
            # Remembered as (allowed folder, sub-folders, name) and walked again without
            # following links when written: the folders may change in between.
            target = ro.target_in(path, dirs)
            self._writer.check_new(target, overwrite)
        self._need_model(slot)
        self._enqueue(slot, Op("render", (target, overwrite), [client]))

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
        gen, cancel = self._searches.begin(slot.number)

        def publish(learned: np.ndarray, final: bool) -> None:
            z = np.asarray(model.latent_from_params(learned[None]), dtype=np.float32)[0]
            with self._searches.lock:  # a dial moved meanwhile: its state stands
                if not self._searches.current(slot.number, gen):
                    raise MatchCancelled()
                self._enqueue(slot, Op("sketch_result", (z, model, final), [client]))

        def job() -> None:
            if not self._searches.current(slot.number, gen):
                return  # cancelled while queued (its canceller said busy 0 if it should)
            try:
                audio = load_audio(path, int(model.sample_rate), cfg.max_audio_seconds,
                                   cfg.max_audio_bytes)
                saved = saved_model(model)
                if saved is None or saved.path is None:  # a bundle: its own inference
                    from bridge.matching.pitch import estimate_pitch

                    self._send_note(slot, estimate_pitch(audio, int(model.sample_rate)))
                    z = np.asarray(model.latent_from_audio(audio[None]), dtype=np.float32)[0]
                    with self._searches.lock:
                        if self._searches.current(slot.number, gen):
                            self._enqueue(slot, Op("sketch_result", (z, model, True), [client]))
                    return
                last = [-1.0]

                def improved(learned: np.ndarray) -> None:
                    now = time.monotonic()
                    if last[0] < 0 or now - last[0] >= UPDATE_INTERVAL_S:
                        last[0] = now
                        publish(learned, False)

                best = self.matching.match(saved.path, audio, cfg.match_budget, cancel,
                                           on_pitch=lambda p: self._send_note(slot, p),
                                           on_improve=improved)
                publish(best, True)
            except MatchCancelled:
                return
            except MatchError as e:
                self.send_error(client, slot.number, "internal", f"sketch failed: {e}"[:300])
                self.send_slot(slot, "busy", [0])
            except v.RequestError as e:
                self.send_error(client, slot.number, e.code, e.message)
                self.send_slot(slot, "busy", [0])
            except Exception as e:
                log.exception("sketch failed")
                self.send_error(client, slot.number, "internal", f"sketch failed: {e}"[:300])
                self.send_slot(slot, "busy", [0])
            finally:
                self._searches.finished(slot.number, gen)

        self.send_slot(slot, "busy", [1])
        try:
            self.work.submit(job)
        except v.RequestError:
            self._searches.cancel(slot.number)
            self.send_slot(slot, "busy", [0])
            raise

    def _send_note(self, slot: Slot, pitch) -> None:
        """The note to play the answer at (the sketch's pitch class nearest the model's
        note: octaves are in the preset), the sketch's own fundamental and how sure."""
        from bridge.matching.matcher import render_note
        from bridge.synth.base import Note

        midi = render_note(pitch, Note(*RENDER_NOTE)).pitch if pitch.pitched else -1
        self.send_slot(slot, "sketch_note",
                       [int(midi), float(pitch.hz), float(round(pitch.confidence, 4))])

    def _stop_search(self, slot: Slot) -> None:
        """A dial move or a load ends the slot's sketch search: the user took over."""
        if self._searches.cancel(slot.number):
            self.send_slot(slot, "busy", [0])

    def _load(self, slot: Slot, args: list, client: Client) -> None:
        v.count(args, 1, 1, "load")
        target = self._model_target(v.text(args[0], "model name"))
        self._stop_search(slot)

        def job() -> None:
            try:
                self._known_name(target)
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
        saved = saved_model(model)
        if saved is not None and saved.path is not None and self.config.match_budget > 0:
            self._prepare_matching(saved.path)
        return model

    def _prepare_matching(self, path) -> None:
        """Have the match process load the model ahead of its first sketch (not waited for)."""
        try:
            self.matching.prepare(path)
        except Exception as e:  # the sketch will say so; the model still serves dials
            log.warning("sketch matching for %s is not ready: %s", path, e)

    def _known_name(self, target: str) -> None:
        """A bare name must be one /flowsynth/models lists: never a file in the server's
        working folder. The refusal is the same for every unlisted name, so it does not tell
        which files exist anywhere."""
        if os.path.isabs(target):
            return  # a path already checked to lie inside a models folder
        try:
            names = [str(n) for n in self._list_models()]
        except Exception as e:
            raise v.RequestError("internal", f"cannot list models: {e}"[:300]) from None
        if target not in names:
            raise v.RequestError("unknown_model", f"no model named {target[:100]!r}; "
                                                  "/flowsynth/models lists what this server "
                                                  "can load")

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
                    where: tuple[ro.Target | None, bool], model: HostedModel) -> None:
        target, overwrite = where
        try:
            from bridge.synth.base import Note

            synth = self._synth(str(model.synth_name))
            sr = int(model.sample_rate)
            preset = complete_preset(model, synth, params)
            audio = np.asarray(synth.render(preset[None], Note(*RENDER_NOTE), sample_rate=sr))[0]
            data = ro.wav_bytes(audio, sr)
            folder = self.config.output_dir
            if target is None:
                if not folder:
                    raise v.RequestError("not_allowed", "this server has no output folder; "
                                                        "send render <path> in an allowed folder")
                self._render_count += 1
                stamp = time.strftime("%Y%m%d-%H%M%S")
                name = ro.new_render_name(folder, slot.number, stamp, self._render_count)
                target = ro.Target(os.path.realpath(folder), (), name)
            path = self._writer.write(target, data, overwrite)
            if folder and target.root == os.path.realpath(folder) and not target.folders:
                ro.enforce_cap(folder, self.config.output_cap_bytes, keep=target.name)
        except v.RequestError as e:
            for client in clients:
                self.send_error(client, slot.number, e.code, e.message)
            return
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


def _warm_pitch() -> None:
    from bridge.matching.pitch import warm_up as pitch_warm_up

    pitch_warm_up()


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
    _check_finite(model)


def _check_finite(model: object) -> None:
    """Refuse a model with non-finite weights, as eval and export do: it would answer NaN to
    every dial. Weights are checked where they are reachable (checkpoints, bundles), and
    every model answers a point at the centre and a dial setting."""
    bad = _non_finite_weights(model)
    if bad:
        raise ValueError(f"model {getattr(model, 'name', '?')} has non-finite weights ({bad}); "
                         "retrain it or load another")
    try:
        z = np.zeros((1, int(model.latent_dim)), np.float32)  # type: ignore[attr-defined]
        dials = np.full((1, len(model.macro_names)), 0.5, np.float32)  # type: ignore[attr-defined]
        answers = [model.params_from_latent(z),  # type: ignore[attr-defined]
                   model.latent_from_macros(dials, z)]  # type: ignore[attr-defined]
    except Exception as e:  # a model that cannot answer the centre cannot be served
        raise ValueError(f"model {getattr(model, 'name', '?')} fails at the centre of its "
                         f"latent space: {type(e).__name__}: {e}") from None
    for what, a in zip(("parameters", "latent point"), answers, strict=True):
        if not np.all(np.isfinite(np.asarray(a, np.float64))):
            raise ValueError(f"model {getattr(model, 'name', '?')} answers non-finite {what} at "
                             "the centre of its latent space (NaN weights?); retrain it")


def _non_finite_weights(model: object) -> str | None:
    """The name of a non-finite tensor in a checkpoint's or bundle's weights, if any."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:  # no torch loaded: the model has no torch weights
        return None
    for holder in (getattr(model, "net", None), getattr(model, "module", None)):
        if holder is None or not hasattr(holder, "state_dict"):
            continue
        try:
            state = holder.state_dict()
        except Exception:  # e.g. a scripted module that hides its state
            continue
        for name, t in state.items():
            if isinstance(t, torch.Tensor) and t.is_floating_point() and \
                    not bool(torch.isfinite(t).all()):
                return name
    return None


def complete_preset(model: object, synth: object, params: np.ndarray) -> np.ndarray:
    """The synth's full preset for a model's parameters: a model that learned a subset of
    the synth's parameters gives only those; the others keep the values they had in the
    model's training renders (its saved spec's defaults, else the synth's)."""
    spec = getattr(synth, "spec", None)
    names = [str(n) for n in model.param_names]  # type: ignore[attr-defined]
    if spec is None or list(spec.names) == names:
        return np.asarray(params, np.float32)
    full = getattr(model, "full_spec", None) or spec
    if list(full.names) != list(spec.names):
        full = spec  # the model's spec is another version of the synth's: use the synth's
    missing = [n for n in names if n not in set(spec.names)]
    if missing:
        raise ValueError(f"the model's parameters {', '.join(missing[:5])} are not "
                         f"{getattr(synth, 'name', 'the synth')}'s; is it the synth it "
                         "was trained on?")
    return full.expand(full.subset(names), np.asarray(params, np.float32)[None])[0]
