"""`flowsynth train --ddp` under `torchrun --nproc-per-node 2` (gloo, on the CPU): the same
model quality as one process, and a resume that retraces an uninterrupted DDP run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bridge.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 6
# Best validation loss, DDP on 2 ranks against one process at the same seed, this dataset and
# config, seeds 0-3: within 3-9% (2.17/2.08, 2.23/2.33, 2.60/2.68, 2.29/2.51), while the seed
# alone moves one process's best over 29% (2.08-2.68). Ranks draw their own noise and
# normalize their half batches, so the two runs are not the same arithmetic.
TOLERANCE = 0.15


@pytest.fixture(scope="module")
def sine_data(tmp_path_factory):
    from tests.conftest import render_sine_dataset

    return render_sine_dataset(tmp_path_factory.mktemp("data") / "sine")


def _train(data: Path, out: Path, *extra: str, ranks: int = 0) -> subprocess.CompletedProcess:
    argv = ["-m", "bridge.cli", "train", "--data", str(data), "--out", str(out),
            "--config", "tiny", "--set", f"epochs={EPOCHS}", "--set", "tag_pairs=dark_bright",
            "--threads", "1", *extra]  # fmt: skip
    if ranks:
        argv = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
                *argv, "--ddp"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _rows(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("time_s")
    return rows


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model.pt", map_location="cpu", weights_only=False)["state_dict"]


def test_ddp_on_two_ranks_matches_one_process_and_resumes(sine_data, tmp_path):
    single, ddp, cut = tmp_path / "single", tmp_path / "ddp", tmp_path / "cut"
    _train(sine_data, single)
    shown = _train(sine_data, ddp, ranks=2)
    # rank 0 alone reports and saves
    assert shown.stdout.count("saved ") == 1 and shown.stdout.count(f"epoch {EPOCHS}/") == 1

    best_one = min(r["valid_loss"] for r in _rows(single))
    best_ddp = min(r["valid_loss"] for r in _rows(ddp))
    assert abs(best_ddp - best_one) <= TOLERANCE * best_one, (best_ddp, best_one)
    assert [r["epoch"] for r in _rows(ddp)] == list(range(1, EPOCHS + 1))

    # Stopped after 3 epochs (a finished run of 3), resumed to 6: every epoch's numbers and the
    # final weights equal the uninterrupted DDP run's.
    _train(sine_data, cut, "--set", "epochs=3", ranks=2)
    resumed = _train(sine_data, cut, "--resume", ranks=2)
    assert "resuming" in resumed.stdout
    assert _rows(cut) == _rows(ddp)
    a, b = _weights(cut), _weights(ddp)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_ddp_outside_torchrun_says_how_to_start_it(sine_data, tmp_path, capsys, monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    code = main(["train", "--data", str(sine_data), "--out", str(tmp_path / "run"),
                 "--config", "tiny", "--ddp"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "torchrun --nproc-per-node" in err and "RANK" in err
    assert not (tmp_path / "run").exists()
