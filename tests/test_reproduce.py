"""benchmarks/reproduce.py: the pipeline runs end to end at toy size, resumes from its cache,
and docs/results.md is exactly what the committed JSON results give."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

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
            "--results", str(results), "--no-plots"]  # fmt: skip
    assert reproduce.main(argv) == 0
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
