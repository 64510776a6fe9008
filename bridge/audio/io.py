"""Reading any audio file into the model's format, and writing WAV files without half-writes.

The OSC server passes user files straight to :func:`load_audio`, so every way a file can be
wrong ends in an :class:`AudioError` whose message says what was wrong, never a crash deep in
libsndfile or scipy. Limits are checked before decoding (file size, then the header's
duration), so a huge file is refused without being read.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from bridge import atomic

# Resampling ratios are approximated by fractions with at most this denominator: exact for
# every common pair of rates (48000 -> 22050 is 147/320), and the filter stays short.
_MAX_DENOMINATOR = 1000
# Float files may go past full scale, but not by this much: 1e30 is not a sound, and its
# spectrum overflows float32 in every model (the server would answer `internal`).
MAX_PEAK = 1000.0
# Sizes are stated in MB of 2**20 bytes, the unit the 50 MB limit is set in.
_MB = 1024 * 1024


class AudioError(ValueError):
    """An audio file cannot be used; the message names the file and what to do."""


def load_audio(
    path: str | os.PathLike,
    sample_rate: int,
    max_seconds: float | None = None,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Mono float32 samples [T] of any file soundfile reads, resampled to ``sample_rate``.

    Channels are averaged. ``max_bytes`` is checked against the file size before anything is
    decoded and ``max_seconds`` against the duration the header declares (and again after
    decoding, as some headers lie). Raises :class:`AudioError` for a missing, unreadable,
    empty, too long or non-finite file.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    p = Path(path)
    if not p.exists():
        raise AudioError(f"no such audio file: {p}")
    if not p.is_file():
        raise AudioError(f"{p} is not a file (a folder?); give the path of an audio file")
    size = p.stat().st_size
    if size == 0:
        raise AudioError(f"{p} is empty (0 bytes)")
    if max_bytes is not None and size > max_bytes:
        raise AudioError(
            f"{p} is {size / _MB:.1f} MB, over the limit of {max_bytes / _MB:.3g} MB; "
            "trim or compress it"
        )
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(
            f"{p} is not an audio file soundfile can read (WAV, AIFF, FLAC, OGG, MP3): {e}"
        ) from e
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{p} holds no audio (0 frames)")
    if max_seconds is not None and info.frames / info.samplerate > max_seconds:
        raise AudioError(
            f"{p} lasts {info.frames / info.samplerate:.1f} s, over the limit of "
            f"{max_seconds:g} s; trim it"
        )
    try:
        # Read at most one frame past the limit: enough to notice a header that under-reports.
        limit = -1 if max_seconds is None else int(max_seconds * info.samplerate) + 1
        data, sr = sf.read(str(p), frames=limit, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(f"{p} could not be decoded (corrupt or truncated?): {e}") from e
    if data.shape[0] == 0:
        raise AudioError(f"{p} holds no audio (0 frames)")
    if max_seconds is not None and data.shape[0] / sr > max_seconds:
        raise AudioError(f"{p} lasts over {max_seconds:g} s; trim it")
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{p} contains NaN or infinite samples; re-export it")
    peak = float(np.max(np.abs(mono)))
    if peak > MAX_PEAK:
        raise AudioError(f"{p} has samples up to {peak:.3g}, not audio (full scale is 1); "
                         "normalize or re-export it")
    if sr != sample_rate:
        ratio = Fraction(int(sample_rate), int(sr)).limit_denominator(_MAX_DENOMINATOR)
        mono = resample_poly(mono, ratio.numerator, ratio.denominator)
    return np.ascontiguousarray(mono, dtype=np.float32)


def check_output_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Check, before any work is done, that a file can be written at ``path``.

    Rendering first and failing on the path afterwards wastes the render and prints output
    for a file that never appears, so commands call this up front. A probe file is created
    (and removed) in the destination folder: that is the only check that also catches
    read-only mounts and pseudo-filesystems such as /proc, where permission bits lie (and
    root passes every permission check anyway).
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise AudioError(
            f"{option} {p} is a folder; give a file name inside it, e.g. {p / 'a.wav'}"
        )
    # Walk up to the first existing ancestor: a file there is the real problem, not a
    # missing folder.
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise AudioError(
                    f"{option} {p}: {parent} is a file, not a folder; choose a path inside a folder"
                )
            break
    if not folder.is_dir():
        raise AudioError(
            f"{option} {p}: folder {folder} does not exist; create it first or choose another path"
        )
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".probe")
    except OSError as e:
        raise AudioError(
            f"{option} {p}: cannot create files in {folder} ({e.strerror or e}); "
            "choose a writable folder"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return p


def save_wav(
    path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT"
) -> Path:
    """Write ``audio`` ([T] mono or [T, channels]) as a WAV file, atomically.

    The samples go to a temporary file in the destination folder, which then replaces
    ``path`` in one step: a reader never sees a partial file, and a failure leaves whatever
    was at ``path`` before untouched. ``subtype`` is soundfile's (FLOAT keeps float32 exact;
    PCM_16 for older tools). Returns the path written.
    """
    p = Path(path)
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise AudioError(f"cannot write {p}: expected [T] or [T, channels] audio, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AudioError(f"cannot write {p}: the audio contains NaN or infinite samples")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise AudioError(f"cannot write {p}: folder {folder} does not exist")
    try:
        with atomic.replacing(p) as tmp:
            if p.exists():  # an overwritten file keeps its mode
                os.chmod(tmp, p.stat().st_mode & 0o777)
            sf.write(tmp, arr, int(sample_rate), format="WAV", subtype=subtype)
    except PermissionError as e:
        raise AudioError(f"cannot write {p}: folder {folder} is not writable ({e})") from e
    except (OSError, sf.LibsndfileError, ValueError, RuntimeError) as e:
        raise AudioError(f"cannot write {p}: {e}") from e
    return p
