"""Files that appear whole or not at all.

Everything flowsynth writes (datasets, models, checkpoints, reports, plots, audio, presets)
goes through :func:`replacing`: the content is written to a temporary file beside the target,
with a name no other writer can pick, and renamed over the target only when it is complete.
A reader sees the old file or the new one; a kill leaves the old file and at most a
``.NAME.*.tmp`` beside it; two writers of one target never write into each other's file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process's umask, read without changing it (os.umask would, for a moment, for every
    thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_temporary(name: str, target: str | None = None) -> bool:
    """Whether ``name`` is a temporary file of :func:`replacing` (for ``target``, if given)."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return False
    return target is None or name.startswith(f".{target}.")


@contextmanager
def replacing(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for the block to write; it replaces ``path``
    when the block ends without an error and is removed otherwise.

    ``fsync``: flush the file to the disk before the rename (datasets and checkpoints, whose
    loss after a power cut costs hours).
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        # mkstemp makes files private (0600); give the file the mode open() would have.
        os.fchmod(fd, 0o666 & ~current_umask())
        os.close(fd)
        fd = -1
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = False) -> Path:
    with replacing(path, fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, fsync: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), fsync)


def write_json(
    path: str | os.PathLike, obj: Any, indent: int | None = 2, fsync: bool = False
) -> Path:
    """``obj`` as JSON with a final newline."""
    return write_text(path, json.dumps(obj, indent=indent) + "\n", fsync)
