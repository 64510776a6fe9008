"""Dataset rendering and reading: reproducibility, resuming, silence, checksums, splits."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bridge.data.dataset import MANIFEST, Dataset, read_shard
from bridge.data.render import (
    InjectedStop,
    RenderSettings,
    make_features,
    parse_notes,
    render_dataset,
    shard_presets,
)
from bridge.synth.base import Note
from tests.processes import alive, kill_after_shards

NOTES = (Note(60, 100, 0.5, 1.0), Note(67, 80, 0.5, 1.0))


def settings(**kw) -> RenderSettings:
    base = dict(
        synth="testsine",
        n_presets=40,
        notes=NOTES,
        shard_size=8,
        seed=3,
        features=make_features(22050, 64),
    )
    base.update(kw)
    return RenderSettings(**base)


def render(tmp_path, name="ds", **kw):
    workers = kw.pop("workers", 1)
    stop = kw.pop("stop_after", None)
    out = tmp_path / name
    render_dataset(
        settings(**kw), out, workers=workers, progress=False, stop_after=stop, log=lambda m: None
    )
    return out


def shard_stats(root):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.glob("shard-*.npz")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, testsine_registered_module):
    return render(tmp_path_factory.mktemp("ref"))


@pytest.fixture(scope="module")
def testsine_registered_module():
    from conftest import SineSynth

    from bridge.synth import registry

    registry.BUILTIN_SYNTHS["testsine"] = SineSynth
    yield
    registry.BUILTIN_SYNTHS.pop("testsine", None)


def test_layout_and_manifest(reference):
    ds = Dataset(reference)
    m = ds.manifest
    assert m["status"] == "complete" and m["n_shards"] == 5 and len(m["shards"]) == 5
    assert m["sampling"] == "uniform" and m["seed"] == 3 and m["shard_size"] == 8
    assert m["synth"]["name"] == "testsine" and ds.spec.names == ds.learn_spec.names
    assert [n.pitch for n in ds.notes] == [60, 67]
    params, mels, tags = ds.load()
    n = len(ds)
    assert params.shape == (n, 6) and params.dtype == np.float32
    assert mels.shape == (n, 2, 64, ds.features.n_frames(22050)) and mels.dtype == np.float16
    assert set(ds.tag_names) <= set(tags) and set(ds.descriptor_names) <= set(tags)
    assert all(len(v) == n for v in tags.values())
    assert set(np.unique(tags["calm_aggressive"])) <= {-1, 0, 1}
    assert m["counts"]["kept"] == n and m["counts"]["rendered"] == 40


def test_workers_do_not_change_the_data(reference, tmp_path, sine):
    out = tmp_path / "w2"
    render_dataset(settings(), out, workers=2, synth=sine, progress=False)
    a, b = Dataset(reference), Dataset(out)
    for x, y in zip(a.load()[:2], b.load()[:2], strict=True):
        np.testing.assert_array_equal(x, y)
    # Byte-identical shards: the checksums agree too.
    assert [s["sha256"] for s in a.manifest["shards"]] == [
        s["sha256"] for s in b.manifest["shards"]
    ]
    assert a.manifest["tags"] == b.manifest["tags"]


def test_resume_after_interruption_keeps_finished_shards(reference, tmp_path):
    with pytest.raises(InjectedStop):
        render(tmp_path, stop_after=2)
    root = tmp_path / "ds"
    with pytest.raises(ValueError, match="incomplete"):
        Dataset(root)
    before = shard_stats(root)
    assert len(before) == 2
    # What a kill mid-write leaves: a temp file, never counted, and it must go.
    (root / ".shard-00004.npz.junk.tmp").write_bytes(b"half")
    render(tmp_path)
    after = shard_stats(root)
    assert all(after[k] == v for k, v in before.items())
    assert not list(root.glob(".*.tmp"))
    ref, got = Dataset(reference), Dataset(root)
    assert [s["sha256"] for s in ref.manifest["shards"]] == [
        s["sha256"] for s in got.manifest["shards"]
    ]
    np.testing.assert_array_equal(ref.load()[1], got.load()[1])


def test_rerun_of_complete_dataset_renders_nothing(tmp_path):
    root = render(tmp_path, n_presets=16)
    before = shard_stats(root)
    render(tmp_path, n_presets=16)
    assert shard_stats(root) == before


def test_silent_presets_dropped_and_counted(reference, sine):
    ds = Dataset(reference)
    c = ds.manifest["counts"]
    assert c["dropped_silent"] > 0 and c["kept"] + c["dropped_silent"] == 40
    params, _, _ = ds.load()
    peaks = np.max([np.abs(sine.render(params, n, 22050)).max(axis=1) for n in NOTES], axis=0)
    assert np.all(20 * np.log10(peaks) >= -40.0)
    # Preset ids point back into the seeded sequence.
    ids = ds.preset_ids()
    for s in ds.manifest["shards"]:
        presets, gid = shard_presets(sine, settings(), s["index"])
        z = read_shard(reference / s["file"])
        np.testing.assert_array_equal(presets[np.isin(gid, z["preset_ids"])], z["params"])
    assert np.all(np.diff(ids) > 0) and len(ids) == len(ds)


def test_corrupted_shard_is_detected_then_rerendered(tmp_path):
    root = render(tmp_path, n_presets=16)
    shard = root / "shard-00001.npz"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        Dataset(root).load()
    messages = []
    render_dataset(settings(n_presets=16), root, progress=False, log=messages.append)
    assert any("shard-00001.npz" in m for m in messages)
    Dataset(root).load()


def test_other_settings_are_refused_not_mixed(tmp_path):
    root = render(tmp_path, n_presets=16)
    with pytest.raises(ValueError, match="other settings.*seed"):
        render(tmp_path, n_presets=16, seed=4)
    render_dataset(settings(n_presets=16, seed=4), root, overwrite=True, progress=False)
    assert Dataset(root).manifest["seed"] == 4


def test_foreign_folder_and_missing_dataset(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        render(tmp_path, name="other")
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["notes.txt"]
    with pytest.raises(FileNotFoundError, match="not a flowsynth dataset"):
        Dataset(tmp_path / "other")
    with pytest.raises(FileNotFoundError):
        Dataset(tmp_path / "nowhere")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Dataset(tmp_path / "bad")


def test_bad_settings_touch_nothing(tmp_path):
    out = tmp_path / "never"
    for bad in (dict(n_presets=0), dict(shard_size=0), dict(sampling="wild"), dict(seed=-1)):
        with pytest.raises(ValueError):
            render_dataset(settings(**bad), out, progress=False)
    for bad in (dict(subset="nope"), dict(synth="nope")):
        with pytest.raises(ValueError):
            render_dataset(settings(**bad), out, progress=False)
    assert not out.exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="file"):
        render_dataset(settings(), tmp_path / "afile" / "ds", progress=False)


def test_subset_keeps_other_parameters_at_defaults(tmp_path):
    root = render(tmp_path, n_presets=16, subset="tone", sampling="natural")
    ds = Dataset(root)
    assert ds.manifest["subset"] == "tone" and ds.manifest["sampling"] == "natural"
    assert ds.learn_spec.names == ["ratio", "mix", "wave"]
    params, _, _ = ds.load()
    fixed = [ds.spec.index(n) for n in ("decay", "level", "voices")]
    np.testing.assert_array_equal(
        params[:, fixed], np.broadcast_to(ds.spec.defaults()[fixed], (len(params), 3))
    )


def test_splits_and_folds(reference):
    ds = Dataset(reference)
    n = len(ds)
    a, b = ds.split(seed=1), ds.split(seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    joined = np.concatenate([a["train"], a["valid"], a["test"]])
    assert sorted(joined.tolist()) == list(range(n))
    assert len(a["train"]) == round(0.8 * n)
    assert not np.array_equal(ds.split(seed=2)["test"], a["test"])
    folds = ds.folds(4)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests.tolist()) == list(range(n))
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == n
    with pytest.raises(ValueError):
        ds.split((0.5, 0.6, 0.1))
    with pytest.raises(ValueError):
        ds.folds(1)


def test_manifest_records_settings(reference):
    m = json.loads((reference / MANIFEST).read_text())
    assert m["features"]["n_mels"] == 64 and m["sample_rate"] == 22050
    assert m["notes"][1] == {"pitch": 67, "velocity": 80, "held": 0.5, "duration": 1.0}
    assert all(len(s["sha256"]) == 64 and s["count"] <= 8 for s in m["shards"])
    pair = m["tags"]["pairs"]["dark_bright"]
    assert pair["descriptor"] == "centroid_hz" and pair["low"] <= pair["high"]


def test_parse_notes():
    assert [(n.pitch, n.velocity) for n in parse_notes("60")] == [(60, 100)]
    assert [n.pitch for n in parse_notes("60,64", velocity=90)] == [60, 64]
    assert len(parse_notes("six")) == 6
    assert [(n.pitch, n.velocity) for n in parse_notes("60:100, 64:80")] == [(60, 100), (64, 80)]
    for bad in ("sixty", "60,60", "200", "60:0", ""):
        with pytest.raises(ValueError):
            parse_notes(bad)
    with pytest.raises(ValueError):
        parse_notes("60", held=5.0, duration=4.0)


def test_subtractive_dataset(tmp_path):
    pytest.importorskip("bridge.synth.subtractive")
    s = RenderSettings(
        synth="subtractive",
        n_presets=6,
        shard_size=4,
        seed=0,
        notes=(Note(48, 100, 0.4, 0.5), Note(60, 100, 0.4, 0.5)),
    )
    render_dataset(s, tmp_path / "sub", progress=False)
    ds = Dataset(tmp_path / "sub")
    params, mels, tags = ds.load()
    assert params.shape[1] == len(ds.spec) and mels.shape[1:3] == (2, 64)
    assert len(ds) + ds.manifest["counts"]["dropped_silent"] == 6
    assert ds.synth().name == "subtractive"


KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from conftest import SineSynth
from bridge.synth import registry
registry.BUILTIN_SYNTHS["testsine"] = SineSynth
from bridge.cli import main
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_killed_subprocess_resumes_to_the_same_dataset(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent)))
    out = tmp_path / "killed"
    argv = [
        sys.executable,
        str(script),
        "render",
        "--synth",
        "testsine",
        "--presets",
        "160",
        "--shard-size",
        "8",
        "--notes",
        "six",
        "--held",
        "0.5",
        "--duration",
        "1",
        "--workers",
        "1",
        "--quiet",
        "--seed",
        "3",
        "--out",
        str(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    listed = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            listed = len(json.loads((out / MANIFEST).read_text())["shards"])
        except (OSError, ValueError, KeyError):
            listed = 0
        if listed >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    if proc.returncode == 0:
        pytest.skip("the render finished before it could be killed")
    before = shard_stats(out)
    kept = {s["file"] for s in json.loads((out / MANIFEST).read_text())["shards"]}
    assert json.loads((out / MANIFEST).read_text())["status"] == "rendering"
    assert subprocess.run(argv, env=env, capture_output=True).returncode == 0
    after = shard_stats(out)
    assert all(after[k] == before[k] for k in kept)
    ref = tmp_path / "ref"
    assert subprocess.run(argv[:-1] + [str(ref)], env=env, capture_output=True).returncode == 0
    a, b = Dataset(out), Dataset(ref)
    assert a.manifest["shards"] == b.manifest["shards"] and a.manifest["tags"] == b.manifest["tags"]


def test_default_shard_size_splits_the_readme_run():
    """`flowsynth render --presets 256` must give several shards: the unit of workers and resume."""
    from bridge.cli import build_parser
    from bridge.data import DEFAULT_SHARD_SIZE

    args = build_parser().parse_args(["render", "--presets", "256", "--out", "x"])
    assert args.shard_size == DEFAULT_SHARD_SIZE == RenderSettings("subtractive", 256).shard_size
    assert RenderSettings("subtractive", 256, shard_size=args.shard_size).n_shards == 4


def test_files_follow_the_umask(tmp_path, testsine_registered_module):
    """Shards and manifest get the mode a plain open() would give, not mkstemp's 0600."""
    old = os.umask(0o022)
    try:
        root = render(tmp_path, n_presets=8)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in root.iterdir()}
        os.umask(0o027)
        (root / MANIFEST).unlink()
        render(tmp_path, "ds2", n_presets=8)
        modes2 = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "ds2").iterdir()}
    finally:
        os.umask(old)
    assert modes and set(modes.values()) == {0o644}, modes
    assert set(modes2.values()) == {0o640}, modes2


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads processes from /proc")
def test_subtractive_two_workers_killed_then_resumed(tmp_path):
    """The built-in synth, two worker processes, a real SIGKILL of the main process:

    - the workers die with it (no orphans rendering shards nobody records, no tracebacks);
    - the resumed run leaves every shard the manifest lists untouched (same inode and mtime);
    - the result is byte-identical to a one-worker run.
    """
    pytest.importorskip("bridge.synth.subtractive")
    out, ref = tmp_path / "killed", tmp_path / "ref"
    argv = [
        sys.executable, "-m", "bridge.cli", "render", "--synth", "subtractive",
        "--presets", "160", "--shard-size", "16", "--held", "0.3", "--duration", "0.5",
        "--seed", "0", "--quiet", "--workers",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen(
        argv + ["2", "--out", str(out)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    workers = kill_after_shards(proc, out, 1, poll=0.005)
    if proc.returncode == 0:
        pytest.skip("the render finished before it could be killed (machine too fast)")
    assert proc.returncode == -signal.SIGKILL and len(workers) >= 2
    gone_by = time.time() + 10
    while any(alive(w) for w in workers) and time.time() < gone_by:
        time.sleep(0.05)
    assert not any(alive(w) for w in workers), "pool workers outlived the killed main process"
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "BrokenPipe" not in err, err

    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "rendering" and 1 <= len(manifest["shards"]) < 10
    listed_files = {s["file"] for s in manifest["shards"]}
    before = shard_stats(out)
    resumed = subprocess.run(argv + ["2", "--out", str(out)], env=env, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr.decode()
    after = shard_stats(out)
    assert all(after[f] == before[f] for f in listed_files), "a finished shard was rendered again"

    one = subprocess.run(argv + ["1", "--out", str(ref)], env=env, capture_output=True)
    assert one.returncode == 0, one.stderr.decode()
    a, b = Dataset(out), Dataset(ref)
    assert [s["sha256"] for s in a.manifest["shards"]] == [
        s["sha256"] for s in b.manifest["shards"]
    ]
    for x, y in zip(a.load()[:2], b.load()[:2], strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.manifest["tags"] == b.manifest["tags"] and len(a.manifest["shards"]) == 10
