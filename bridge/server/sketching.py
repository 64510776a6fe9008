"""Sketch searches for the server: a matcher process, and cancelling a running search.

A sketch answers at once with the matcher's first candidate, then with each better preset the
search finds (at most one every ``UPDATE_INTERVAL_S``), then with the best one and ``busy 0``
once the budget is spent. A new sketch, a load or any dial move on the slot cancels it: the
serve thread bumps the slot's generation, and a result of an older generation is never
queued, so a dial the user moved is never overwritten by a late answer.

The search runs in a child process (:class:`MatchProcess`), not on the worker thread: on one
core, a thread running Python code beside the serve thread makes every dial reply wait for
the GIL's hand-over and a scheduler turn (p99 about 8 ms against 1.4 ms without a search,
benchmarks/match_quality.py). A process has its own GIL, runs at a lower priority, and uses
the other core where there is one.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger("flowsynth.server")

UPDATE_INTERVAL_S = 0.1
MATCHERS_KEPT = 4  # models a match process keeps ready (LRU)
NICENESS = 10
START_TIMEOUT_S = 120.0


class SearchTokens:
    """One search generation per slot; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._gen: dict[int, int] = {}
        self._events: dict[int, threading.Event] = {}
        self._running: set[int] = set()

    def begin(self, slot: int) -> tuple[int, threading.Event]:
        """A new search on ``slot``: any older one is cancelled."""
        with self.lock:
            self._cancel(slot)
            event = threading.Event()
            self._events[slot] = event
            self._running.add(slot)  # queued counts: its busy 1 is out already
            return self._gen[slot], event

    def cancel(self, slot: int) -> bool:
        """Cancel the slot's search; True when one was queued or running (its ``busy 1``
        stands until someone says ``busy 0``)."""
        with self.lock:
            running = slot in self._running
            if slot in self._events:
                self._cancel(slot)
            return running

    def _cancel(self, slot: int) -> None:
        self._gen[slot] = self._gen.get(slot, 0) + 1
        event = self._events.pop(slot, None)
        if event is not None:
            event.set()
        self._running.discard(slot)

    def current(self, slot: int, gen: int) -> bool:
        return self._gen.get(slot, 0) == gen

    def finished(self, slot: int, gen: int) -> None:
        with self.lock:
            if self.current(slot, gen):
                self._running.discard(slot)


def saved_model(hosted: object):
    """The training checkpoint behind a hosted model (None for exported bundles)."""
    from bridge.models.saved import SavedModel

    for obj in (hosted, getattr(hosted, "eager", None)):
        m = getattr(obj, "model", None)
        if isinstance(m, SavedModel):
            return m
    return None


# --- the match process -----------------------------------------------------------------------


class MatchError(RuntimeError):
    """The match process failed on a sketch (its message says how)."""


class MatchProcess:
    """A child process that matches sketches for models given by file, one at a time.

    ``prepare(path)`` loads a model there ahead of its first sketch; ``match`` streams the
    pitch and each better answer to callbacks and returns the best one. Cancelling is
    checked every few milliseconds. A child that died is started again on the next call.
    """

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._lock = threading.Lock()  # one caller at a time (the worker thread)
        self._proc = None
        self._conn = None
        self._cancel = None

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        parent, child = self._ctx.Pipe()
        self._cancel = self._ctx.Event()
        self._proc = self._ctx.Process(target=_child_main, args=(child, self._cancel),
                                       name="flowsynth-match", daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def prepare(self, path: str | os.PathLike, wait: bool = False) -> None:
        """Have the child load the model at ``path`` (and its synth, and warm both up) ahead
        of its first sketch. Without ``wait`` this only queues the request: a load must not
        hold the worker (renders, other loads) for the seconds the child takes."""
        with self._lock:
            self._ensure()
            self._conn.send(("prepare", str(path)))
            while wait:
                if not self._conn.poll(START_TIMEOUT_S):
                    raise MatchError("the match process did not answer in time")
                msg = self._conn.recv()
                if msg[0] == "ready" and msg[1] == str(path):
                    return
                if msg[0] == "prepare_error":
                    _log_prepare_error(msg)
                    if msg[1] == str(path):
                        raise MatchError(msg[2])

    def match(self, path: str | os.PathLike, audio: np.ndarray, budget: float,
              cancel: threading.Event, on_pitch: Callable, on_improve: Callable) -> np.ndarray:
        """The best learned preset for ``audio``; raises MatchCancelled when ``cancel`` is
        set (the child stops within a render)."""
        from bridge.matching.matcher import MatchCancelled

        with self._lock:
            self._ensure()
            self._cancel.clear()
            self._conn.send(("match", str(path), np.asarray(audio, np.float32), float(budget)))
            while True:
                while not self._conn.poll(0.005):
                    if cancel.is_set() and not self._cancel.is_set():
                        self._cancel.set()
                    if not self._proc.is_alive():
                        raise MatchError("the match process stopped")
                msg = self._conn.recv()
                kind = msg[0]
                if kind == "pitch":
                    on_pitch(msg[1])
                elif kind == "improve":
                    on_improve(msg[1])
                elif kind == "done":
                    return msg[1]
                elif kind == "cancelled":
                    raise MatchCancelled()
                elif kind == "error":
                    raise MatchError(msg[1])
                elif kind == "prepare_error":
                    _log_prepare_error(msg)
                # "ready": a prepare that was not waited for has finished

    def close(self) -> None:
        with self._lock:
            if self._proc is None:
                return
            try:
                self._conn.send(("stop",))
            except (OSError, EOFError, BrokenPipeError):
                pass
            self._proc.join(2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(2.0)
            self._conn.close()
            self._proc = None


def _log_prepare_error(msg: tuple) -> None:
    log.warning("sketch matching for %s is not ready: %s", msg[1], msg[2])


def _yield_to_dials() -> None:
    """Run the search only while the server's control path has nothing to do. Linux's
    SCHED_IDLE gives way at once to a waking dial reply (a niced process still holds the core
    for part of a scheduler slice); where it is not offered, a niceness does what it can."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(NICENESS)
    except OSError:
        pass


def _child_main(conn, cancel) -> None:
    """The match process: matchers by model path, kept for the last few models."""
    import torch

    from bridge.matching.matcher import MatchCancelled, Matcher
    from bridge.models.saved import SavedModel
    from bridge.synth.registry import rebuild_synth

    _yield_to_dials()
    torch.set_num_threads(1)
    matchers: OrderedDict[str, Matcher] = OrderedDict()

    def get(path: str) -> Matcher:
        if path in matchers:
            matchers.move_to_end(path)
            return matchers[path]
        model = SavedModel.load(Path(path))
        try:
            synth = rebuild_synth(model.synth_name, model.spec)
        except Exception as e:  # a missing plugin: the first candidate still answers
            log.warning("sketches on %s: no synth to refine with (%s)", model.synth_name, e)
            synth = None
        matcher = Matcher(model, synth)
        matcher.warm_up()
        matchers[path] = matcher
        while len(matchers) > MATCHERS_KEPT:
            matchers.popitem(last=False)
        return matcher

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        kind = msg[0]
        if kind == "stop":
            return
        try:
            if kind == "prepare":
                try:
                    get(msg[1])
                except Exception as e:
                    conn.send(("prepare_error", msg[1], f"{type(e).__name__}: {e}"[:300]))
                else:
                    conn.send(("ready", msg[1]))
            elif kind == "match":
                _, path, audio, budget = msg
                matcher = get(path)
                best = matcher.match(
                    audio, budget, cancel=cancel,
                    on_pitch=lambda p: conn.send(("pitch", p)),
                    on_improve=lambda m: conn.send(("improve", m.learned)),
                )
                conn.send(("done", best.learned))
        except MatchCancelled:
            conn.send(("cancelled",))
        except Exception as e:  # reported to the sketch's sender; the process goes on
            conn.send(("error", f"{type(e).__name__}: {e}"[:300]))
