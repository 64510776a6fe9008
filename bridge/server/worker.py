"""Slow work (loading models, encoding sketches, rendering) off the control path: a bounded
queue served by its own thread, plus the file helpers that work needs."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

import numpy as np

from bridge.server.validate import RequestError

log = logging.getLogger("flowsynth.server")

MAX_AUDIO_SECONDS = 30.0
MAX_AUDIO_BYTES = 50 * 1024 * 1024


class WorkQueue:
    """Jobs are callables that report their own results; a full queue refuses new work at
    once (``busy``) rather than letting requests pile up behind a slow render."""

    def __init__(self, size: int = 8, threads: int = 1, name: str = "flowsynth-work") -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=size)
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{k}", daemon=True)
            for k in range(threads)
        ]
        self.done = 0

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def submit(self, job: Callable[[], None]) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise RequestError(
                "busy", f"{self._queue.maxsize} audio jobs are already queued; try again shortly"
            ) from None

    def depth(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 5.0) -> None:
        """Let the running job finish, drop the queued ones, and join the threads."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)

    def _serve(self) -> None:
        _lower_priority()
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # jobs report their own errors; this only keeps the thread alive
                log.exception("audio job failed")
            self.done += 1


def _lower_priority(steps: int = 10) -> None:
    """Make this thread yield the CPU to the serve thread: on one core its renders and loads
    would otherwise hold it for whole scheduler slices (a dial reply beside a search on this
    thread waited 2.8 ms at the median, 0.96 ms once it was niced; searches now run in their
    own process, bridge/server/sketching.py).
    Linux schedules threads on their own, so a niceness set on this thread's id is this
    thread's alone; elsewhere this does nothing."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except (AttributeError, OSError):
        pass


# --- audio files -------------------------------------------------------------------------
# bridge.audio.io is the project's loader; the fallbacks below keep the server working with
# the same limits while it is not there.


def warm_up() -> None:
    """Import what the first sketch needs (audio decoding, resampling: about a second) before
    a user waits for it."""
    try:
        import bridge.audio.io  # noqa: F401
    except ImportError:
        import soundfile  # noqa: F401
    import scipy.signal  # noqa: F401


def load_audio(path: str, sample_rate: int, max_seconds: float = MAX_AUDIO_SECONDS,
               max_bytes: int = MAX_AUDIO_BYTES) -> np.ndarray:
    """Mono float32 audio at ``sample_rate``; ``bad_audio`` for anything it cannot use."""
    try:
        from bridge.audio.io import AudioError
        from bridge.audio.io import load_audio as project_load
    except ImportError:
        return _load_audio_fallback(path, sample_rate, max_seconds, max_bytes)
    try:
        audio = project_load(path, sample_rate, max_seconds=max_seconds, max_bytes=max_bytes)
    except (AudioError, OSError, ValueError) as e:
        raise RequestError("bad_audio", str(e)) from None
    return _mono(audio)


def _load_audio_fallback(path: str, sample_rate: int, max_seconds: float,
                         max_bytes: int) -> np.ndarray:
    import soundfile as sf

    try:
        size = os.path.getsize(path)
    except OSError:
        raise RequestError("bad_audio", f"no audio file at {path}") from None
    if size > max_bytes:
        raise RequestError("bad_audio", f"{path} is {size / 2**20:.1f} MB; the limit is "
                                        f"{max_bytes / 2**20:.3g} MB")
    try:
        info = sf.info(path)
        if info.frames > max_seconds * info.samplerate:
            raise RequestError("bad_audio", f"{path} lasts {info.frames / info.samplerate:.1f} s; "
                                            f"the limit is {max_seconds:g} s")
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except RequestError:
        raise
    except Exception as e:  # soundfile raises its own error types for unreadable files
        raise RequestError("bad_audio", f"cannot read {path}: {e}") from None
    audio = _mono(audio)
    if audio.size == 0:
        raise RequestError("bad_audio", f"{path} holds no audio")
    if sr != sample_rate:
        from scipy.signal import resample_poly

        g = np.gcd(int(sr), int(sample_rate))
        audio = resample_poly(audio, sample_rate // g, sr // g).astype(np.float32)
    if not np.all(np.isfinite(audio)):
        raise RequestError("bad_audio", f"{path} holds non-finite samples")
    return audio


def _mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        # soundfile gives [frames, channels]; a [channels, frames] array is the other way up.
        a = a.mean(axis=1) if a.shape[0] >= a.shape[1] else a.mean(axis=0)
    return a.reshape(-1)


def save_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """Write atomically: a reader never sees a half-written file."""
    from bridge.audio.io import save_wav as write

    write(path, audio, sample_rate)
