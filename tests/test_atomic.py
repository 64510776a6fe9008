"""bridge.atomic: a target is replaced whole or left alone, and writers never share a file."""

from __future__ import annotations

import json
import os
import stat

import pytest

from bridge import atomic


def _others(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def test_a_write_replaces_the_target_with_the_mode_open_would_give(tmp_path):
    target = tmp_path / "preset.json"
    target.write_text("old")
    atomic.write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1} and target.read_text().endswith("\n")
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode == 0o666 & ~atomic.current_umask()
    assert _others(tmp_path, "preset.json") == []


def test_an_error_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic.replacing(target, fsync=True) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old" and _others(tmp_path, "model.pt") == []


def test_two_writers_of_one_target_write_their_own_files(tmp_path):
    target = tmp_path / "metrics.json"
    with atomic.replacing(target) as a, atomic.replacing(target) as b:
        assert a != b and atomic.is_temporary(a.name, "metrics.json")
        a.write_text("first")
        b.write_text("second")
    # the inner block (b) finished first, then a replaced it: each landed whole
    assert target.read_text() == "first" and _others(tmp_path, "metrics.json") == []


def test_temporary_names_are_recognized_for_their_target_only():
    assert atomic.is_temporary(".shard-00001.npz.abc123.tmp", "shard-00001.npz")
    assert not atomic.is_temporary(".shard-00001.npz.abc123.tmp", "manifest.json")
    assert not atomic.is_temporary("shard-00001.npz")
    assert atomic.is_temporary(".x.tmp")


def test_a_missing_folder_is_an_error_that_names_it(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic.write_text(tmp_path / "nope" / "x.txt", "x")
    assert not (tmp_path / "nope").exists()
    assert os.listdir(tmp_path) == []
