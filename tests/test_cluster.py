"""Ray for rendering (a local Ray instance on 2 CPUs): the same bytes as one worker, a kill
halfway and a resume, and errors that name the worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.data.dataset import MANIFEST
from bridge.data.render import RenderSettings, render_dataset
from tests.processes import alive, descendants, kill_after_shards

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[cluster]')")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads processes from /proc")
def test_ray_render_is_byte_identical_killed_halfway_and_resumed(tmp_path):
    """The built-in synth over a local Ray instance with 2 CPUs, a SIGKILL of the driver after
    a few shards, a resume over Ray: every file equals a `--workers 1` render, byte for byte."""
    argv = [
        sys.executable, "-m", "bridge.cli", "render", "--synth", "subtractive",
        "--presets", "192", "--shard-size", "12", "--held", "0.3", "--duration", "0.5",
        "--seed", "4", "--quiet",
    ]  # fmt: skip
    ref, out = tmp_path / "ref", tmp_path / "ray"
    one = subprocess.run(argv + ["--workers", "1", "--out", str(ref)], env=ENV,
                         capture_output=True)  # fmt: skip
    assert one.returncode == 0, one.stderr.decode()

    proc = subprocess.Popen(
        argv + ["--ray", "local", "--workers", "2", "--out", str(out)],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    seen = kill_after_shards(proc, out, 2, watch=descendants, poll=0.02)
    if proc.returncode == 0:
        pytest.skip("the Ray render finished before it could be killed (machine too fast)")
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "rendering" and 2 <= len(manifest["shards"]) < 16
    assert len(seen) >= 3  # Ray's own processes and its workers ran below the driver

    resumed = subprocess.run(argv + ["--ray", "local", "--workers", "2", "--out", str(out)],
                             env=ENV, capture_output=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert _files(out) == _files(ref)

    # The killed run's Ray processes do not linger: its workers and raylet go with the driver,
    # its node agents notice within a minute or so.
    gone_by = time.time() + 120
    while any(alive(p) for p in seen) and time.time() < gone_by:
        time.sleep(0.5)
    left = [Path(f"/proc/{p}/cmdline").read_bytes()[:60] for p in seen if alive(p)]
    assert not left, f"processes of the killed Ray run outlived it: {left}"


def test_a_plugin_missing_on_a_worker_is_named_with_the_worker(tmp_path, monkeypatch):
    """The driver finds the plugin; the workers are told a path that is not there: the run stops
    with an error that names the worker and the path, and the dataset folder stays resumable."""
    from bridge.data import render
    from bridge.synth import dexed

    try:
        dexed.find_plugin()
    except dexed.DexedNotFound as e:
        pytest.skip(f"needs Dexed where the driver looks for it: {e}")
    missing = tmp_path / "nowhere" / "Dexed.vst3"
    monkeypatch.setattr(render, "_worker_env", lambda: {dexed.ENV_VAR: str(missing)})
    settings = RenderSettings(synth="dexed", n_presets=4, shard_size=2, sampling="natural")
    out = tmp_path / "ds"
    with pytest.raises(render.cluster.WorkerError) as e:
        render_dataset(settings, out, ray="local", workers=1, progress=False)
    msg = str(e.value)
    assert "on Ray worker" in msg and os.uname().nodename in msg and str(missing) in msg, msg
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "rendering" and manifest["shards"] == []
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST]  # no half-written shard


def test_dexed_renders_on_ray_workers_as_in_one_process(tmp_path):
    """A real plugin on Ray workers (the path travels to them): the same bytes as one process."""
    from bridge.synth import dexed

    try:
        dexed.find_plugin()
    except dexed.DexedNotFound as e:
        pytest.skip(f"needs Dexed: {e}")
    settings = RenderSettings(synth="dexed", n_presets=6, shard_size=2, sampling="natural",
                              seed=2)  # fmt: skip
    a = render_dataset(settings, tmp_path / "one", workers=1, progress=False)
    b = render_dataset(settings, tmp_path / "ray", ray="local", workers=2, progress=False)
    assert a["shards"] == b["shards"]
    assert _files(tmp_path / "one") == _files(tmp_path / "ray")


def test_without_ray_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if not installed
    settings = RenderSettings(synth="testsine", n_presets=4, shard_size=2)
    with pytest.raises(ValueError, match=r"flowsynth-bridge\[cluster\]"):
        render_dataset(settings, tmp_path / "ds", ray="local", progress=False)
    assert not (tmp_path / "ds").exists()
