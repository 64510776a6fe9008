"""The OOD evaluation set (bridge/data/ood_set.py, `flowsynth ood-set`): contents, format,
determinism, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.cli import main
from bridge.data import ood_set as ood

SR = 22050
# Five per kind, not two: the voice kind cycles through five methods and each should run.
PER_KIND = 5
FAST = dict(sample_rate=SR, seconds=1.0, per_kind=PER_KIND, seed=3, progress=False)
needs_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed (scripts/install_system_deps.sh installs them)",
)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed")
    a = tmp_path_factory.mktemp("ood") / "a"
    b = tmp_path_factory.mktemp("ood") / "b"
    return (
        a,
        ood.make_ood_set(a, "subtractive", **FAST),
        b,
        ood.make_ood_set(b, "subtractive", **FAST),
    )


@needs_tools
def test_kinds_and_files(made):
    out, manifest, _, _ = made
    assert manifest["status"] == "complete"
    assert manifest["args"]["other_synth"] == "fm"
    for kind in ood.KINDS:
        assert len(list((out / kind).glob("*.wav"))) == PER_KIND
    methods = {f["method"] for f in manifest["files"] if f["kind"] == "voice"}
    assert methods == set(ood.VOICE_METHODS)
    assert {f["method"] for f in manifest["files"] if f["kind"] == "other_synth"} == {"fm_synth"}
    for item in manifest["files"]:
        path = out / item["path"]
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.frames) == (SR, 1, SR), item["path"]
        x, _ = sf.read(str(path), dtype="float32")
        assert np.all(np.isfinite(x))
        peak = float(np.abs(x).max())
        assert peak == pytest.approx(10 ** (ood.PEAK_DBFS / 20), rel=1e-3), item["path"]
        assert np.sqrt(np.mean(x**2)) > 1e-3, f"{item['path']} is nearly silent"
        assert ood.sha256_file(path) == item["sha256"]
    on_disk = json.loads((out / ood.MANIFEST).read_text())
    assert on_disk == manifest
    assert "espeak-ng" in manifest["tools"] and "sox" in manifest["tools"]


@needs_tools
def test_same_seed_same_bytes(made):
    _, first, _, second = made
    sha = {f["path"]: f["sha256"] for f in first["files"]}
    assert sha == {f["path"]: f["sha256"] for f in second["files"]}
    assert [f["settings"] for f in first["files"]] == [f["settings"] for f in second["files"]]


@needs_tools
def test_rerun_does_nothing_and_other_args_need_overwrite(made, tmp_path):
    src, manifest, _, _ = made
    out = tmp_path / "set"
    shutil.copytree(src, out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert ood.make_ood_set(out, "subtractive", **FAST) == manifest
    assert stamps == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    with pytest.raises(ood.OODSetError, match="other settings.*seed.*--overwrite"):
        ood.make_ood_set(out, "subtractive", **{**FAST, "seed": 4})
    smaller = {**FAST, "seed": 4, "per_kind": 1}
    redo = ood.make_ood_set(out, "subtractive", **smaller, overwrite=True)
    assert len(redo["files"]) == 3
    # Files of the old, larger set do not linger next to the new one.
    assert sorted(p.name for p in out.rglob("*.wav")) == sorted(
        Path(f["path"]).name for f in redo["files"]
    )


def test_unknown_synth_is_a_clear_error(tmp_path):
    with pytest.raises(ood.OODSetError, match="unknown synth 'dx7'.*subtractive, fm"):
        ood.make_ood_set(tmp_path / "x", "dx7", **FAST)
    assert not (tmp_path / "x").exists()
    assert main(["ood-set", "--out", str(tmp_path / "x"), "--synth", "dx7"]) == 2


def test_missing_tool_names_the_package(tmp_path, monkeypatch):
    real = shutil.which
    monkeypatch.setattr(ood.shutil, "which", lambda t: None if t == "sox" else real(t))
    with pytest.raises(ood.OODSetError, match="apt-get install sox"):
        ood.make_ood_set(tmp_path / "x", "fm", **FAST)
    assert not (tmp_path / "x").exists()


def test_foreign_folder_is_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed")
    with pytest.raises(ood.OODSetError, match="not empty"):
        ood.make_ood_set(tmp_path, "fm", **FAST)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@needs_tools
def test_other_manifest_is_never_replaced(tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": "flowsynth-dataset"}')
    for overwrite in (False, True):
        with pytest.raises(ood.OODSetError, match="not an OOD set's manifest"):
            ood.make_ood_set(tmp_path, "fm", **FAST, overwrite=overwrite)
    assert (tmp_path / "manifest.json").read_text() == '{"format": "flowsynth-dataset"}'
