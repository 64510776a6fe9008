"""Where `render` writes, written safely: a destination checked when a request arrives is
written seconds later, so the check is made again, race-free, at write time.

- A destination is remembered as (allowed folder, sub-folders, file name), not as a path.
  Writing opens the allowed folder, then each sub-folder relative to the one before with
  O_NOFOLLOW: a sub-folder swapped for a link after the request is refused, not followed.
- The file is created beside its destination under a temporary name with O_EXCL (no link is
  followed, nothing is truncated), then linked into place. ``os.link`` fails if the name
  exists, so a file the server did not write is never replaced unless the request asked
  for it; a file this server wrote (remembered by device and inode) may be rendered again.
- The output folder (renders without a path) is kept under a size cap: the oldest of the
  server's own renders (``slot<S>-<stamp>-<n>.wav``) are deleted first; nothing else there is
  counted or touched.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bridge.server.validate import RequestError

# Renders the output folder may hold, in bytes (`flowsynth serve --output-cap-mb`).
DEFAULT_OUTPUT_CAP_BYTES = 256 * 1024 * 1024
RENDER_NAME = re.compile(r"^slot\d{1,2}-\d{8}-\d{6}-\d+\.wav$")
_OWNED_MAX = 4096
_SAFE = hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY") and \
    {os.open, os.link, os.stat, os.unlink, os.rename} <= os.supports_dir_fd


@dataclass(frozen=True)
class Target:
    """A render destination inside an allowed folder."""

    root: str  # the allowed folder (a real path, resolved at start-up or request)
    folders: tuple[str, ...]  # sub-folders below root, in order
    name: str  # the file name

    @property
    def path(self) -> str:
        return os.path.join(self.root, *self.folders, self.name)


def target_in(real_path: str, roots: list[str]) -> Target:
    """The Target for ``real_path`` (already resolved and checked to lie inside a root)."""
    for root in roots:
        root = os.path.realpath(root)
        rel = os.path.relpath(real_path, root)
        if rel != os.curdir and not rel.startswith(os.pardir + os.sep) and rel != os.pardir:
            parts = rel.split(os.sep)
            return Target(root, tuple(parts[:-1]), parts[-1])
    raise RequestError("not_allowed", f"render path {real_path[:200]!r} is outside the allowed "
                                      "folders")


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A float32 WAV file in memory (written to disk in one go, by ``write``)."""
    import soundfile as sf

    a = np.asarray(audio, dtype=np.float32)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError("the synth rendered no audio or non-finite samples")
    buf = io.BytesIO()
    sf.write(buf, a, int(sample_rate), format="WAV", subtype="FLOAT")
    return buf.getvalue()


class RenderWriter:
    """Writes renders into their Targets; remembers the files it wrote."""

    def __init__(self) -> None:
        self._owned: OrderedDict[tuple[int, int], None] = OrderedDict()

    def owns(self, st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino) in self._owned

    def _remember(self, st: os.stat_result) -> None:
        self._owned[(st.st_dev, st.st_ino)] = None
        while len(self._owned) > _OWNED_MAX:
            self._owned.popitem(last=False)

    def check_new(self, target: Target, overwrite: bool) -> None:
        """At request time: refuse at once a name taken by a file this server did not write."""
        try:
            st = os.lstat(target.path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise RequestError("not_allowed", f"cannot write {target.path[:200]!r}: "
                                              f"{e.strerror or e}") from None
        self._refuse_existing(target, st, overwrite)

    def _refuse_existing(self, target: Target, st: os.stat_result, overwrite: bool) -> None:
        if stat.S_ISDIR(st.st_mode):
            raise RequestError("bad_args", f"render path {target.path[:200]!r} is a folder")
        if not overwrite and not self.owns(st):
            raise RequestError(
                "not_allowed", f"{target.path[:200]!r} exists and was not written by this "
                               "server; pick a new name, or send render <path> 1 to replace it")

    def write(self, target: Target, data: bytes, overwrite: bool = False) -> str:
        """Write ``data`` at ``target``; the path written. RequestError if the way there
        changed (a link) or the name is taken by a file this server did not write."""
        if not _SAFE:  # e.g. Windows: no dir_fd; the path was checked at request time
            return self._write_by_path(target, data, overwrite)
        dir_fd = self._open_folder(target)
        try:
            try:
                st = os.stat(target.name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None:
                self._refuse_existing(target, st, overwrite)
            tmp = f".{target.name}.{secrets.token_hex(6)}.tmp"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(tmp, flags, 0o644, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    written = os.fstat(f.fileno())
                if st is None:
                    # link() never replaces: a file that appeared meanwhile is kept.
                    try:
                        os.link(tmp, target.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                    except FileExistsError:
                        raise RequestError("not_allowed", f"{target.path[:200]!r} appeared "
                                                          "while rendering; not replaced") from None
                else:
                    os.rename(tmp, target.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            finally:
                try:
                    os.unlink(tmp, dir_fd=dir_fd)
                except FileNotFoundError:
                    pass
        finally:
            os.close(dir_fd)
        self._remember(written)
        return target.path

    def _open_folder(self, target: Target) -> int:
        flags = os.O_RDONLY | os.O_DIRECTORY
        try:
            fd = os.open(target.root, flags | os.O_NOFOLLOW)
        except OSError as e:
            raise RequestError("not_allowed", f"allowed folder {target.root[:200]!r} cannot be "
                                              f"opened ({e.strerror or e})") from None
        for part in target.folders:
            try:
                nxt = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                os.close(fd)
                raise RequestError(
                    "not_allowed", f"folder {part[:100]!r} on the way to "
                                   f"{target.path[:200]!r} is missing or became a link "
                                   f"({e.strerror or e}); not written") from None
            os.close(fd)
            fd = nxt
        return fd

    def _write_by_path(self, target: Target, data: bytes, overwrite: bool) -> str:
        path = target.path
        if os.path.realpath(os.path.dirname(path)) != os.path.dirname(path):
            raise RequestError("not_allowed", f"the folder of {path[:200]!r} became a link")
        if os.path.lexists(path):
            self._refuse_existing(target, os.lstat(path), overwrite)
        tmp = f"{path}.{secrets.token_hex(6)}.tmp"
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
        self._remember(os.stat(path))
        return path


def new_render_name(folder: str, slot: int, stamp: str, count: int) -> str:
    """``slot<S>-<stamp>-<n>.wav``, with n raised past any name taken."""
    n = count
    while os.path.lexists(os.path.join(folder, f"slot{slot}-{stamp}-{n}.wav")):
        n += 1
    return f"slot{slot}-{stamp}-{n}.wav"


def enforce_cap(folder: str, cap_bytes: int, keep: str | None = None) -> list[str]:
    """Delete the oldest of the server's renders in ``folder`` until they total at most
    ``cap_bytes`` (``keep``, the newest, stays even if alone over the cap); the names deleted."""
    renders = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if RENDER_NAME.match(e.name) and e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    renders.append((st.st_mtime_ns, e.name, st.st_size))
    except OSError:
        return []
    renders.sort()
    total = sum(size for _, _, size in renders)
    deleted = []
    for _, name, size in renders:
        if total <= cap_bytes:
            break
        if name == keep:
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            continue
        total -= size
        deleted.append(name)
    return deleted
