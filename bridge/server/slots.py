"""Per-slot state (model, latent point, anchors, subscribers) and the one function that applies
a batch of queued requests to it.

The serve thread validates each request it reads and appends it to its slot's queue; once it
has read every datagram waiting, it takes everything queued for a slot at once and applies it
here. Requests in a batch are applied in order but the model is asked for parameters once, at
the end, so a burst of dial moves costs one model call and the reply describes the last state
received.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bridge.models.hosted import HostedModel
from bridge.server.validate import RequestError, bad_args

log = logging.getLogger("flowsynth.server")

# A slot's queue stays short because bursts merge (see Slot.enqueue); this bound only stops a
# flood of unmergeable requests from growing memory.
MAX_PENDING = 1024
MAX_SUBSCRIBERS = 64
# A subscriber that sent nothing valid (hello included) for this long is forgotten: devices
# say hello every 10 s, so three missed hellos; stale clients (old `flowsynth send` runs) would
# otherwise cost every reply a send.
SUBSCRIBER_EXPIRY_S = 30.0

# What each request answers with, in the protocol's order.
REPLIES: dict[str, tuple[str, ...]] = {
    "macro": ("params",),
    "macros": ("params",),
    "latent": ("params", "macros"),
    "preset": ("latent", "macros", "params"),
    "morph": ("params", "macros"),
    "explore": ("latent", "macros", "params"),
    "sketch_result": ("latent", "macros", "params"),
}
# A later request of the second kind makes an earlier queued one of the first kind moot.
_SUPERSEDES: dict[str, frozenset[str]] = {
    "macros": frozenset({"macro", "macros"}),
    "latent": frozenset({"macro", "macros", "latent", "morph"}),
    "morph": frozenset({"morph"}),
    # Describing a slot twice in a row says nothing new: a bundle of info requests costs one
    # set of replies, not one each (reply amplification).
    "info": frozenset({"info"}),
}

Client = tuple[str, int]


@dataclass
class Op:
    """One queued request. ``clients`` are told if it fails; ``wants`` what it replies."""

    kind: str
    value: Any = None
    clients: list[Client] = field(default_factory=list)
    wants: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotState:
    """What a slot holds. Arrays are never changed in place, so a state can be kept as a
    snapshot and restored when a request fails half-way."""

    model: HostedModel | None = None
    z: np.ndarray | None = None  # [D] the current latent point
    macros: np.ndarray | None = None  # [M] dial values for z, None until asked for
    params: np.ndarray | None = None  # [N] normalized preset for z, None until asked for
    anchors: tuple[tuple[str, np.ndarray], ...] = ()
    # [D] where the dials started from (the point of the last load, latent, preset, morph or
    # sketch); None: z itself. Dial moves are computed from it, not from z, so a dial position
    # gives the same point, bit for bit, whatever path the dials took to get there.
    base: np.ndarray | None = None

    def anchor(self, which: str) -> np.ndarray | None:
        return dict(self.anchors).get(which)


def fresh_state(model: HostedModel) -> SlotState:
    """A loaded model starts at its start point (``HostedModel.center``): on a fresh slot, on
    every /load (the same model again too) and after a restart, so a reopened set hears the
    same sound before its devices send their dials."""
    z = np.asarray(model.center(), np.float32).reshape(-1)
    if z.shape[0] != int(model.latent_dim) or not np.isfinite(z).all():
        raise RequestError("internal", f"model {model.name!r} has no usable start point")
    return SlotState(model=model, z=z.copy())


class Slot:
    def __init__(self, number: int) -> None:
        self.number = number
        self.state = SlotState()
        self.lock = threading.Lock()
        self.pending: list[Op] = []
        self.scheduled = False
        # client -> when it last sent a valid request or hello (time.monotonic()), oldest first
        self.subscribers: OrderedDict[Client, float] = OrderedDict()
        self.rng = np.random.default_rng()

    @property
    def model(self) -> HostedModel | None:
        return self.state.model

    def subscribe(self, client: Client, now: float) -> bool:
        """Add or refresh a subscriber; True when it is new. The list may stand one over its
        bound until ``trim``: a request is subscribed before it runs (so that its own busy
        reply reaches it) and dropped again if it turns out invalid, evicting no one."""
        subs = self.subscribers
        new = client not in subs
        subs[client] = now
        if not new:
            subs.move_to_end(client)
        return new

    def unsubscribe(self, client: Client) -> None:
        self.subscribers.pop(client, None)

    def trim(self) -> None:
        """Evict the longest-silent subscribers past the bound."""
        subs = self.subscribers
        while len(subs) > MAX_SUBSCRIBERS:
            subs.popitem(last=False)

    def expire(self, cutoff: float) -> None:
        """Forget subscribers silent since before ``cutoff``."""
        subs = self.subscribers
        while subs:
            client, seen = next(iter(subs.items()))
            if seen >= cutoff:
                break
            del subs[client]

    def enqueue(self, op: Op) -> bool:
        """Queue a request; True when the serve thread must be told about this slot.
        Merges it into the queue's tail when that makes no difference to the outcome."""
        with self.lock:
            tail = self.pending[-1] if self.pending else None
            if tail is not None and op.kind == "macro" and tail.kind == "macro":
                tail.value = {**tail.value, **op.value}
                _merge_clients(tail, op)
            elif tail is not None and tail.kind in _SUPERSEDES.get(op.kind, ()):
                op.wants = _union(tail.wants, op.wants)
                _merge_clients(op, tail)
                self.pending[-1] = op
            elif len(self.pending) >= MAX_PENDING:
                raise RequestError("busy", f"slot {self.number} has {MAX_PENDING} requests queued")
            else:
                self.pending.append(op)
            if self.scheduled:
                return False
            self.scheduled = True
            return True

    def take(self) -> list[Op]:
        with self.lock:
            ops, self.pending = self.pending, []
            self.scheduled = False
            return ops


def _merge_clients(into: Op, other: Op) -> None:
    for c in other.clients:
        if c not in into.clients and len(into.clients) < 8:
            into.clients.append(c)


def _union(first: tuple[str, ...], then: tuple[str, ...]) -> tuple[str, ...]:
    """Reply kinds of both, the later request's order last."""
    return tuple(k for k in first if k not in then) + then


# Events the serve thread turns into packets or work.
# ("reply", verb, args) to the slot's subscribers (an array argument stands for its floats);
# ("error", clients, code, message); ("render", clients, params, path, model).


class _Work:
    """A mutable working copy of a SlotState while a batch is applied."""

    __slots__ = ("model", "z", "overlay", "macros", "params", "anchors", "base")

    def __init__(self, s: SlotState) -> None:
        self.model = s.model
        self.z = s.z
        self.overlay: np.ndarray | None = None  # dial values not yet turned into a latent point
        self.macros = s.macros
        self.params = s.params
        self.anchors = dict(s.anchors)
        self.base = s.base

    def copy(self) -> _Work:
        w = _Work.__new__(_Work)
        w.model, w.z, w.overlay = self.model, self.z, self.overlay
        w.macros, w.params, w.anchors = self.macros, self.params, dict(self.anchors)
        w.base = self.base
        return w

    def set_z(self, z: np.ndarray) -> None:
        self.z = _finite(np.asarray(z, dtype=np.float32).reshape(-1), "latent point")
        self.overlay = self.macros = self.params = self.base = None

    def flush(self) -> None:
        if self.overlay is not None:
            base = self.z if self.base is None else self.base
            z = self.model.latent_from_macros(self.overlay[None], base[None])[0]
            dials = self.overlay
            self.set_z(z)
            self.macros, self.base = dials, base

    def get_macros(self) -> np.ndarray:
        self.flush()
        if self.macros is None:
            m = self.model.macros_from_latent(self.z[None])[0]
            self.macros = _unit(_finite(np.asarray(m, dtype=np.float32), "macros"))
        return self.macros

    def get_params(self) -> np.ndarray:
        self.flush()
        if self.params is None:
            v = self.model.params_from_latent(self.z[None])[0]
            self.params = _unit(_finite(np.asarray(v, dtype=np.float32), "parameters"))
        return self.params

    def state(self) -> SlotState:
        return SlotState(self.model, self.z, self.macros, self.params,
                         tuple(sorted(self.anchors.items())), self.base)


def _finite(a: np.ndarray, what: str) -> np.ndarray:
    # One float64 sum is finite exactly when every value is (float32 values cannot overflow
    # it): one call on the dial's path instead of isfinite's array and its reduction.
    if not math.isfinite(np.add.reduce(a, axis=None, dtype=np.float64)):
        raise RequestError("internal", f"the model gave non-finite {what} for this request")
    return a


def _unit(a: np.ndarray) -> np.ndarray:
    """Clipped into [0, 1] (finite input): np.clip's Python wrappers cost more than this."""
    return np.minimum(np.maximum(a, 0.0, dtype=np.float32), 1.0, dtype=np.float32)


def _check_len(a: np.ndarray, n: int, what: str) -> None:
    if a.shape[0] != n:
        raise bad_args(f"{what} takes {n} numbers for this slot's model, got {a.shape[0]}")


def _apply(w: _Work, op: Op, rng: np.random.Generator, events: list) -> None:
    kind = op.kind
    if kind == "install":
        w.__init__(fresh_state(op.value))
        _describe(w, events)
        return
    model = w.model
    if model is None:
        raise RequestError("no_model", "this slot has no model; send /flowsynth/S/load <model>")
    if kind == "macro":
        dials = (w.overlay if w.overlay is not None else w.get_macros()).copy()
        for i, v in op.value.items():
            if i >= dials.shape[0]:
                raise bad_args(f"macro index {i} is outside 0..{dials.shape[0] - 1}")
            dials[i] = v
        w.overlay = dials
    elif kind == "macros":
        _check_len(op.value, len(model.macro_names), "macros")
        w.flush()
        w.overlay = op.value
    elif kind == "latent":
        _check_len(op.value, int(model.latent_dim), "latent")
        w.set_z(op.value)
    elif kind == "preset":
        _check_len(op.value, len(model.param_names), "preset")
        w.set_z(model.latent_from_params(op.value[None])[0])
    elif kind == "morph":
        a, b = w.anchors.get("a"), w.anchors.get("b")
        if a is None or b is None:
            missing = " and ".join(k for k, x in (("a", a), ("b", b)) if x is None)
            raise bad_args(f"morph needs both anchors; set {missing} with /flowsynth/S/anchor")
        t = op.value
        w.set_z((1.0 - t) * a + t * b)
    elif kind == "explore":
        radius, seed = op.value
        w.flush()
        gen = rng if seed is None else np.random.default_rng(seed)
        step = gen.standard_normal(w.z.shape[0])
        step /= max(float(np.linalg.norm(step)), 1e-12)
        w.set_z(w.z + radius * step)
    elif kind == "sketch_result":
        z, sketch_model, _final = op.value
        if sketch_model is not model:
            raise RequestError("busy", "the slot's model changed while the sketch ran; try again")
        _check_len(z, int(model.latent_dim), "sketch latent")
        w.set_z(z)
    elif kind == "anchor":
        w.flush()
        w.anchors[op.value] = w.z
        events.append(("reply", "anchor", [op.value]))
    elif kind == "info":
        _describe(w, events)
    elif kind == "render":
        events.append(("render", op.clients, w.get_params(), op.value, model))
    else:  # the serve thread only queues the kinds above
        raise RequestError("internal", f"unknown request kind {kind}")


def _describe(w: _Work, events: list) -> None:
    m = w.model
    events.append(("reply", "info", [str(m.name), str(m.synth_name), len(m.param_names),
                                     int(m.latent_dim), len(m.macro_names)]))
    events.append(("reply", "names", [str(n) for n in m.param_names]))
    events.append(("reply", "macro_names", [str(n) for n in m.macro_names]))


def run_batch(state: SlotState, ops: list[Op], rng: np.random.Generator) -> tuple[SlotState, list]:
    """Apply queued requests in order; return the new state and the events to send. A request
    that fails leaves the state as the requests before it made it, and reports an error."""
    if len(ops) == 1:
        done = _dial_move(state, ops[0])
        if done is not None:
            return done
    return apply_batch(state, ops, rng)


def _dial_move(state: SlotState, op: Op) -> tuple[SlotState, list] | None:
    """The commonest batch, dial moves on a slot whose dial values are known, in a third of
    apply_batch's steps (the control path's cost at 100 moves a second is mostly the number of
    Python and numpy calls). Exactly apply_batch's result; None leaves anything else, any
    failure included, to apply_batch."""
    model, dials0 = state.model, state.macros
    if op.kind != "macro" or op.wants or model is None or dials0 is None:
        return None
    dials = dials0.copy()
    try:
        for i, v in op.value.items():
            dials[i] = v  # an index past the dials raises: apply_batch reports it
        base = state.z if state.base is None else state.base
        z = model.latent_from_macros(dials[None], base[None])[0]
        z = _finite(np.asarray(z, dtype=np.float32).reshape(-1), "latent point")
        v = model.params_from_latent(z[None])[0]
        params = _unit(_finite(np.asarray(v, dtype=np.float32), "parameters"))
    except Exception:  # apply_batch runs it again and reports it as the protocol says
        return None
    return (SlotState(model, z, dials, params, state.anchors, base),
            [("reply", "params", [params])])


def apply_batch(state: SlotState, ops: list[Op],
                rng: np.random.Generator) -> tuple[SlotState, list]:
    """run_batch for any requests, step by step."""
    w = _Work(state)
    events: list = []
    wants: tuple[str, ...] = ()
    after: list = []
    for op in ops:
        saved = w.copy()
        mark = len(events)
        try:
            _apply(w, op, rng, events)
            if op.kind in ("macro", "macros", "latent", "preset", "morph", "explore"):
                # Computing the reply now turns a failure of the model into this request's
                # error, not a later one's.
                w.get_params()
            wants = _union(wants, op.wants or REPLIES.get(op.kind, ()))
            if op.kind == "sketch_result" and op.value[2]:  # the search's last answer
                after.append(("reply", "busy", [0]))
        except RequestError as e:
            w = saved
            del events[mark:]
            events.append(("error", op.clients, e.code, e.message))
            if op.kind == "sketch_result":
                after.append(("reply", "busy", [0]))
        except Exception as e:  # a model bug must not take the server down
            log.exception("slot request %s failed", op.kind)
            w = saved
            del events[mark:]
            events.append(("error", op.clients, "internal", f"{op.kind} failed: {e}"[:300]))
            if op.kind == "sketch_result":
                after.append(("reply", "busy", [0]))
    try:
        for kind in wants:
            if kind == "params":
                events.append(("reply", "params", [w.get_params()]))
            elif kind == "macros":
                events.append(("reply", "macros", [w.get_macros()]))
            elif kind == "latent":
                w.flush()
                events.append(("reply", "latent", [w.z]))
    except Exception as e:  # every request already succeeded once; this is belt and braces
        log.exception("slot reply failed")
        events.append(("error", [], "internal", f"reply failed: {e}"[:300]))
        return replace(state), events + after
    return w.state(), events + after
