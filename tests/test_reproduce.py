"""benchmarks/reproduce.py: the pipeline runs end to end at toy size, resumes from its cache,
and docs/results.md is exactly what the committed JSON results give."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from benchmarks import reproduce
from benchmarks.reproduce import TABLES, Run, fold_split, render_report

ROOT = Path(__file__).resolve().parent.parent


def test_results_doc_is_generated_from_the_committed_json():
    committed = (ROOT / "docs" / "results.md").read_text()
    assert render_report() == committed, (
        "docs/results.md is stale: run `python benchmarks/reproduce.py report`"
    )


def test_every_table_names_runs_it_can_train():
    for table, runs in TABLES.items():
        assert runs, table
        for r in runs:
            assert r.dataset in reproduce.DATASETS and r.variant in reproduce.VARIANTS
            cfg = reproduce.model_config(r, reproduce.SIZES["cpu"])
            assert cfg.encoding == r.encoding
            assert bool(cfg.tag_pairs) == (r.variant == "flow_dis")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    results = tmp_path_factory.mktemp("results")
    argv = ["run", "--size", "smoke", "--only", "levaillant2021_notes", "--work", str(work),
            "--results", str(results), "--no-plots", "--threads", "1"]  # fmt: skip
    threads = torch.get_num_threads()
    try:
        assert reproduce.main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    return work, results, argv


def test_smoke_run_writes_folds_mean_and_std(smoke):
    work, results, _ = smoke
    data = json.loads((results / "reproduce_levaillant2021_notes.json").read_text())
    assert data["settings"]["size"] == "smoke" and data["machine"]["cpu_count"]
    for r in TABLES["levaillant2021_notes"]:
        row = data["runs"][r.key]
        for k in ("spectral_convergence", "log_spectral_mae", "mfcc_mae", "cat_accuracy"):
            cell = row["model"][k]
            assert cell["std"] >= 0 and cell["mean"] == cell["mean"]  # finite, not NaN
        assert len(row["epochs_run"]) == reproduce.SIZES["smoke"].folds
        for fold in range(reproduce.SIZES["smoke"].folds):
            assert (work / "runs" / r.key / f"fold{fold}" / "result.json").exists()
    text = render_report(results)
    assert "One note or six" in text and "Baselines against flows" not in text


def test_a_finished_run_is_read_back_not_retrained(smoke):
    work, results, argv = smoke
    before = (work / "runs" / Run("fm", "flow").key / "fold0" / "result.json").stat().st_mtime
    t0 = time.time()
    assert reproduce.main(argv) == 0
    assert time.time() - t0 < 30
    after = (work / "runs" / Run("fm", "flow").key / "fold0" / "result.json").stat().st_mtime
    assert before == after


def test_folds_partition_the_dataset(smoke):
    from bridge.data.dataset import Dataset

    work, _, _ = smoke
    ds = Dataset(work / "data" / "fm")
    tests = []
    for fold in range(3):
        s = fold_split(ds, 3, fold)
        assert not set(s["train"]) & set(s["valid"]) and not set(s["train"]) & set(s["test"])
        assert len(s["train"]) + len(s["valid"]) + len(s["test"]) == len(ds)
        tests.append(s["test"])
    assert sorted(int(i) for t in tests for i in t) == list(range(len(ds)))


def test_unknown_table_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown table"):
        reproduce.main(["run", "--only", "nope", "--work", str(tmp_path)])


def _without_timings(table: dict) -> dict:
    out = {k: v for k, v in table.items()
           if k not in ("machine", "compute_minutes_all_tables", "render_minutes")}  # fmt: skip
    out["runs"] = {
        key: {k: v for k, v in row.items() if k not in ("train_minutes", "score_minutes")}
        for key, row in table["runs"].items()
    }
    return out


@pytest.mark.ray
@pytest.mark.slow
def test_a_smoke_run_over_ray_equals_the_local_run(smoke, tmp_path):
    """Datasets rendered and folds trained as tasks of a local Ray instance (2 CPUs, one
    thread per task, as the local run): the same tables, timings aside."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install '.[cluster]')")
    work, results, argv = smoke
    results_ray = tmp_path / "results"
    argv_ray = [a for a in argv]
    argv_ray[argv_ray.index("--work") + 1] = str(tmp_path / "work")
    argv_ray[argv_ray.index("--results") + 1] = str(results_ray)
    assert reproduce.main(argv_ray + ["--ray", "local"]) == 0
    name = "reproduce_levaillant2021_notes.json"
    local = json.loads((results / name).read_text())
    ray = json.loads((results_ray / name).read_text())
    assert _without_timings(ray) == _without_timings(local)
    for r in TABLES["levaillant2021_notes"]:
        for fold in range(reproduce.SIZES["smoke"].folds):
            assert (tmp_path / "work" / "runs" / r.key / f"fold{fold}" / "result.json").exists()
    data = tmp_path / "work" / "data" / "fm"
    for shard in sorted(data.glob("*.npz")):
        assert shard.read_bytes() == (work / "data" / "fm" / shard.name).read_bytes()


def test_a_fold_task_on_a_node_without_the_dataset_names_the_node_and_the_fix(tmp_path):
    from bridge.cluster import WorkerError

    with pytest.raises(WorkerError, match=r"on Ray worker .*is not on this node: --work must"):
        reproduce._fold_on_worker(Run("fm", "flow").key, 0, "smoke", str(tmp_path),
                                  str(tmp_path / "data" / "fm"), None, 1)  # fmt: skip
