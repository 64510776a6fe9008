"""Sketch searches on the worker: which model gets a matcher, and cancelling a running search.

A sketch answers at once with the matcher's first candidate, then with each better preset the
search finds (at most one every ``UPDATE_INTERVAL_S``), then with the best one and ``busy 0``
once the budget is spent. A new sketch, a load or any dial move on the slot cancels it: the
serve thread bumps the slot's generation, and a result of an older generation is never
queued, so a dial the user moved is never overwritten by a late answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("flowsynth.server")

UPDATE_INTERVAL_S = 0.1


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


def build_matcher(hosted: object, get_synth: Callable[[str], object]):
    """A matcher for a hosted checkpoint, or None (a bundle: the model's own inference is the
    answer). Without its synth (a plugin that is not installed) the matcher still gives its
    first candidate; only the refinement needs renders."""
    from bridge.matching.matcher import Matcher

    saved = saved_model(hosted)
    if saved is None:
        return None
    try:
        synth = get_synth(saved.synth_name)
    except Exception as e:  # a missing plugin must not cost the user their sketch
        log.warning("sketches on %s: no synth to refine with (%s)", saved.synth_name, e)
        synth = None
    matcher = Matcher(saved, synth)
    matcher.warm_up()
    return matcher
