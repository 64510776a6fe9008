"""Reproduce the papers' comparisons on the built-in synths (opt-in, long).

    python benchmarks/reproduce.py run [--size cpu|full] [--only NAME ...]
    python benchmarks/reproduce.py report      # docs/results.md from the JSON files

``run`` renders the datasets with the repo's own renderer, trains every model of every table
k-fold, scores them all with the same code (``bridge.evaluate.score``) and writes one JSON file
per table under benchmarks/results/ (``reproduce_<table>.json``). Each fold of each model is
cached under ``--work`` as it finishes, so an interrupted run picks up where it stopped; a
training interrupted mid-way resumes from its last epoch. ``run --ray [auto|local|ADDRESS]``
renders the datasets and trains and scores the folds as Ray tasks, one core each (``--threads``
cores with it), on a local Ray instance or a cluster whose nodes share ``--work`` and this
checkout at the same paths (docs/scale.md). ``report`` only reads those JSON
files, so the document can be rebuilt (and is checked by tests/test_reproduce.py) without
training anything.

Tables (the papers' layouts, this repo's synths):
- ``esling2020``: baselines (MLP, CNN, VAE+MLP) against the flow models with and without
  disentangling flows, on subtractive with 16 and 32 learned parameters and on fm, plus an
  out-of-domain set for the 32-parameter models (Esling et al. 2020, Table 1).
- ``levaillant2021_encodings``: num / numcat / numcat++ encodings with flow and MLP regression
  on fm (Le Vaillant et al. 2021, Table 1).
- ``levaillant2021_notes``: single-note against six-note inputs on fm (their Table 2).
- ``levaillant2021_dexed_encodings``, ``levaillant2021_dexed_notes``: the same two tables on
  the real Dexed plugin (the ``dexed`` synth, 144 parameters; needs Dexed, see docs/dexed.md),
  the synth the paper used. Run only when named with ``--only``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS_DIR, machine_info, write_result  # noqa: E402
from bridge import atomic  # noqa: E402

DOC = ROOT / "docs" / "results.md"
IMG = ROOT / "docs" / "img"


@dataclass(frozen=True)
class Size:
    """How big everything is. ``cpu`` fits the 2-core machine in about an hour and a half."""

    presets: int
    folds: int
    duration: float  # seconds rendered per note
    held: float  # seconds the key is held
    n_mels: int
    channels: tuple[int, ...]
    hidden: int
    posterior_layers: int
    regression_layers: int
    regression_hidden: int
    regression_blocks: int
    mlp_hidden: int
    epochs: int
    max_minutes: float  # per training, 0: none
    early_stop_patience: int
    beta_warmup_epochs: int
    batch_size: int
    eval_limit: int  # test presets scored per fold (rendering them is the slow part)
    ood_per_kind: int


SIZES: dict[str, Size] = {
    "cpu": Size(
        presets=2000,
        folds=3,
        duration=2.0,
        held=1.5,
        n_mels=64,
        channels=(8, 16, 32, 32),
        hidden=128,
        posterior_layers=2,
        regression_layers=4,
        regression_hidden=64,
        regression_blocks=1,
        mlp_hidden=256,
        epochs=30,
        max_minutes=1.5,
        early_stop_patience=6,
        beta_warmup_epochs=5,
        batch_size=32,
        eval_limit=200,
        ood_per_kind=8,
    ),
    # Seconds: proves the pipeline in tests/test_reproduce.py, numbers mean nothing.
    "smoke": Size(
        presets=48,
        folds=2,
        duration=1.0,
        held=0.5,
        n_mels=32,
        channels=(4, 8),
        hidden=16,
        posterior_layers=1,
        regression_layers=2,
        regression_hidden=16,
        regression_blocks=1,
        mlp_hidden=16,
        epochs=2,
        max_minutes=0.0,
        early_stop_patience=2,
        beta_warmup_epochs=1,
        batch_size=16,
        eval_limit=8,
        ood_per_kind=1,
    ),
    # Closer to the papers' scale; for a GPU (the same code uses one when there is one).
    "full": Size(
        presets=20000,
        folds=5,
        duration=4.0,
        held=3.0,
        n_mels=64,
        channels=(16, 32, 64, 64),
        hidden=256,
        posterior_layers=4,
        regression_layers=6,
        regression_hidden=128,
        regression_blocks=2,
        mlp_hidden=1024,
        epochs=200,
        max_minutes=0.0,
        early_stop_patience=20,
        beta_warmup_epochs=20,
        batch_size=64,
        eval_limit=2000,
        ood_per_kind=24,
    ),
}

# name -> (synth, subset, notes)
DATASETS: dict[str, tuple[str, str | None, str]] = {
    "subtractive-16": ("subtractive", "16", "60"),
    "subtractive-32": ("subtractive", "32", "60"),
    "fm": ("fm", None, "60"),
    "fm-six": ("fm", None, "six"),
    "dexed": ("dexed", None, "60"),
    "dexed-six": ("dexed", None, "six"),
}

VARIANTS = {
    "mlp": "MLP",
    "cnn": "CNN",
    "vae_mlp": "VAE+MLP",
    "flow": "Flow (regression flow)",
    "flow_dis": "Flow + disentangling",
}
TAG_PAIRS = ("calm_aggressive", "dark_bright")


@dataclass(frozen=True)
class Run:
    """One model trained and scored on every fold."""

    dataset: str
    variant: str
    encoding: str = "numcat++"

    @property
    def key(self) -> str:
        return f"{self.dataset}__{self.variant}__{self.encoding}"


TABLES: dict[str, list[Run]] = {
    "esling2020": [
        Run(d, v) for d in ("subtractive-32", "subtractive-16", "fm") for v in VARIANTS
    ],
    "levaillant2021_encodings": [
        Run("fm", v, e) for v in ("flow", "vae_mlp") for e in ("num", "numcat", "numcat++")
    ],
    "levaillant2021_notes": [Run("fm", "flow"), Run("fm-six", "flow")],
    "levaillant2021_dexed_encodings": [
        Run("dexed", v, e) for v in ("flow", "vae_mlp") for e in ("num", "numcat", "numcat++")
    ],
    "levaillant2021_dexed_notes": [Run("dexed", "flow"), Run("dexed-six", "flow")],
}
# What `run` does without --only: the tables that need no plugin.
DEFAULT_TABLES = ("esling2020", "levaillant2021_encodings", "levaillant2021_notes")
OOD_DATASET = "subtractive-32"


def model_config(run: Run, size: Size, seed: int = 0):
    from bridge.models.configs import ModelConfig

    common = dict(
        encoding=run.encoding,
        channels=size.channels,
        hidden=size.hidden,
        epochs=size.epochs,
        max_minutes=size.max_minutes,
        early_stop_patience=size.early_stop_patience,
        plateau_patience=max(2, size.early_stop_patience // 2),
        beta_warmup_epochs=size.beta_warmup_epochs,
        batch_size=size.batch_size,
        seed=seed,
        n_macros=8,
        notes=f"benchmarks/reproduce.py {run.key}",
    )
    if DATASETS[run.dataset][0] == "dexed":
        # A 610-wide latent (numcat++): the posterior's default width (twice that) would
        # make the cpu size's flow models 70 MB; the VAE's own width keeps them in step.
        common["posterior_hidden"] = size.hidden
    if run.variant == "mlp":
        return ModelConfig(kind="mlp", dropout=0.3, **{**common, "hidden": size.mlp_hidden})
    if run.variant == "cnn":
        return ModelConfig(kind="cnn", **common)
    if run.variant == "vae_mlp":
        return ModelConfig(kind="vae_mlp", posterior_flow="none", **common)
    return ModelConfig(
        kind="flow",
        posterior_layers=size.posterior_layers,
        regression_layers=size.regression_layers,
        regression_hidden=size.regression_hidden,
        regression_blocks=size.regression_blocks,
        tag_pairs=TAG_PAIRS if run.variant == "flow_dis" else (),
        **common,
    )


def render_command(name: str, size: Size, out: Path) -> list[str]:
    synth, subset, notes = DATASETS[name]
    cmd = [
        "flowsynth", "render", "--synth", synth, "--presets", str(size.presets),
        "--out", str(out), "--notes", notes, "--held", str(size.held),
        "--duration", str(size.duration), "--n-mels", str(size.n_mels),
        "--sampling", "natural", "--seed", "0", "--quiet",
    ]  # fmt: skip
    return cmd + (["--subset", subset] if subset else [])


def ensure_dataset(name: str, size: Size, work: Path, ray: str | None = None) -> Path:
    """Render with the repo's own command (resumable; a finished dataset is reused), on the
    Ray cluster ``ray`` names when given."""
    from bridge.cli import main as cli

    out = work / "data" / name
    cmd = render_command(name, size, out) + (["--ray", ray] if ray else [])
    t0, fresh = time.time(), not (out / "manifest.json").exists()
    if cli(cmd[1:]) != 0:
        raise RuntimeError(f"rendering {name} failed: {' '.join(cmd)}")
    if fresh:  # timed by the run that rendered it, not by a later one that found it done
        atomic.write_text(work / "data" / f"{name}.seconds", f"{time.time() - t0:.1f}\n")
    return out


def fold_split(ds, k: int, fold: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Fold ``fold`` of k as train/valid/test: a tenth of the training part validates."""
    train, test = ds.folds(k, seed)[fold]
    rng = np.random.default_rng(seed + 1000 + fold)
    perm = rng.permutation(train)
    n_valid = max(1, len(train) // 10)
    return {"train": np.sort(perm[n_valid:]), "valid": np.sort(perm[:n_valid]), "test": test}


def cached_fold(run: Run, fold: int, size: Size, work: Path) -> dict | None:
    """A fold's result from an earlier run, None when it has not finished."""
    done = work / "runs" / run.key / f"fold{fold}" / "result.json"
    if not done.exists():
        return None
    cached = json.loads(done.read_text())
    if cached.get("size") != asdict(size) | {"channels": list(size.channels)}:
        raise SystemExit(f"{done} was made with other sizes; use another --work or pass --fresh")
    return cached


def run_fold(run: Run, fold: int, size: Size, work: Path, data: Path, ood: Path | None) -> dict:
    """Train (or resume) one fold and score it; the result is cached as JSON."""
    cached = cached_fold(run, fold, size, work)
    if cached is not None:
        return cached
    return _train_and_score(run, fold, size, work / "runs" / run.key / f"fold{fold}", data, ood)


def _fold_on_worker(key: str, fold: int, size_name: str, work: str, data: str,
                    ood: str | None, threads: int) -> dict:  # fmt: skip
    """A Ray task: this module as the worker imports it (the driver may run it as a script)."""
    import torch

    from bridge import cluster

    def go() -> dict:
        for seen in [Path(data) / "manifest.json"] + ([Path(ood)] if ood else []):
            if not seen.exists():
                raise ValueError(
                    f"{seen} is not on this node: --work must be a folder every node of the "
                    "cluster shares at the same path (docs/scale.md)"
                )
        torch.set_num_threads(threads)
        from benchmarks import reproduce

        run = next(r for t in reproduce.TABLES.values() for r in t if r.key == key)
        return reproduce.run_fold(run, fold, reproduce.SIZES[size_name], Path(work), Path(data),
                                  Path(ood) if ood else None)  # fmt: skip

    return cluster.on_worker(go)


def _run_folds_on_ray(todo, args, size, work, data, ood, bar) -> dict:
    """Every fold not yet finished, as Ray tasks; results come back as they finish."""
    import ray

    from bridge import cluster

    threads = args.threads or 1
    task = ray.remote(num_cpus=threads)(_fold_on_worker)
    jobs = [(run.key, fold, args.size, str(work), str(data[run.dataset]),
             str(ood) if ood and run.dataset == OOD_DATASET else None, threads)
            for run, fold in todo]  # fmt: skip
    limit = max(1, cluster.cluster_cpus() // threads)
    got = {}
    for r in cluster.as_completed(
        task, jobs, limit, on_running=lambda n: bar.set_postfix_str(f"{n} running")
    ):
        got[(Run(**r["run"]), r["fold"])] = r
        bar.update()
    return got


def _train_and_score(
    run: Run, fold: int, size: Size, out: Path, data: Path, ood: Path | None
) -> dict:
    from bridge.data.dataset import Dataset, write_json_atomic
    from bridge.evaluate import evaluate_out_of_domain, score
    from bridge.models.saved import SavedModel
    from bridge.train import MODEL, train

    done = out / "result.json"
    ds = Dataset(data)
    split = fold_split(ds, size.folds, fold)
    cfg = model_config(run, size)
    t0 = time.time()
    if (out / MODEL).exists():
        model = SavedModel.load(out / MODEL)
    else:
        resume = (out / "checkpoint.pt").exists()
        model = train(data, cfg, out, resume=resume, split=split, quiet=True)
    train_s = time.time() - t0
    params, mels, _ = ds.load()
    test = split["test"][: size.eval_limit]
    t1 = time.time()
    rows, _ = score(model, ds, params, mels, test, split["train"])
    result = {
        "run": asdict(run),
        "size": asdict(size) | {"channels": list(size.channels)},
        "fold": fold,
        "n_train": int(len(split["train"])),
        "n_valid": int(len(split["valid"])),
        "n_test": int(len(test)),
        "latent_dim": int(ds.learn_spec.encoded_size(cfg.encoding)),  # type: ignore[arg-type]
        "weights": int(sum(p.numel() for p in model.net.parameters())),
        "best_epoch": model.info.get("best_epoch"),
        "epochs_run": model.info.get("epochs_run"),
        "train_minutes": model.info.get("train_minutes"),
        "model": rows[model.cfg.kind],
        "mean_preset": rows["mean_preset"],
        "nearest_1": rows["nearest_1"],
        "nearest_5_mean": rows["nearest_5_mean"],
    }
    if ood is not None:
        result["out_of_domain"] = {
            kind: evaluate_out_of_domain(model, ood / kind)["results"]
            for kind in ("other_synth", "noise", "voice")
        }
    result["seconds"] = {"train": round(train_s, 1), "score": round(time.time() - t1, 1)}
    write_json_atomic(done, result)
    return result


METRICS = [
    ("num_mse", "Num. MSE", 1.0),
    ("num_mae", "Num. MAE", 1.0),
    ("cat_accuracy", "Cat. acc. (%)", 100.0),
    ("spectral_convergence", "SC", 1.0),
    ("log_spectral_mae", "log-spec MAE", 1.0),
    ("mfcc_mae", "MFCC MAE", 1.0),
]


def _across_folds(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(a.mean()), 6), "std": round(float(a.std()), 6)}


def aggregate(folds: list[dict]) -> dict:
    """Mean and standard deviation across folds of each fold's mean."""
    parts = [p for p in ("model", "mean_preset", "nearest_1", "nearest_5_mean") if p in folds[0]]
    out: dict = {p: {} for p in parts}
    for part in parts:
        for key in folds[0][part]:
            out[part][key] = _across_folds([f[part][key]["mean"] for f in folds])
    if "out_of_domain" in folds[0]:
        out["out_of_domain"] = {
            kind: {
                k: _across_folds([f["out_of_domain"][kind][k]["mean"] for f in folds])
                for k in folds[0]["out_of_domain"][kind]
            }
            for kind in folds[0]["out_of_domain"]
        }
    for k in ("latent_dim", "weights", "n_train", "n_test"):
        out[k] = folds[0][k]
    out["train_minutes"] = round(sum(f["seconds"]["train"] for f in folds) / 60, 2)
    out["score_minutes"] = round(sum(f["seconds"]["score"] for f in folds) / 60, 2)
    out["epochs_run"] = [f["epochs_run"] for f in folds]
    out["best_epochs"] = [f["best_epoch"] for f in folds]
    return out


def cmd_run(args: argparse.Namespace) -> int:
    import torch

    tables = args.only or list(DEFAULT_TABLES)
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise SystemExit(f"unknown table(s) {unknown}; choose from {', '.join(TABLES)}")
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.ray:
        return _run_tables(args, tables)
    from bridge import cluster

    # Workers import this checkout's `benchmarks` and `bridge` from the same path.
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    if os.environ.get("FLOWSYNTH_DEXED"):
        env["FLOWSYNTH_DEXED"] = os.environ["FLOWSYNTH_DEXED"]
    try:
        with cluster.connect(args.ray, env=env):
            return _run_tables(args, tables)
    except cluster.WorkerError as e:
        raise SystemExit(f"error: {e}") from None


def _run_tables(args: argparse.Namespace, tables: list[str]) -> int:
    import torch
    from tqdm import tqdm

    size = SIZES[args.size]
    work = Path(args.work)
    needed = sorted({r.dataset for t in tables for r in TABLES[t]})
    data = {}
    for name in tqdm(needed, desc="datasets"):
        data[name] = ensure_dataset(name, size, work, ray=args.ray)
    ood = None
    if "esling2020" in tables:
        from bridge.data.ood_set import make_ood_set

        ood = work / "ood" / DATASETS[OOD_DATASET][0]
        make_ood_set(ood, DATASETS[OOD_DATASET][0], seconds=size.duration,
                     per_kind=size.ood_per_kind, seed=0)  # fmt: skip
    timings = [work / "data" / f"{n}.seconds" for n in needed]
    render_minutes = (
        round(sum(float(t.read_text()) for t in timings) / 60, 2)
        if all(t.exists() for t in timings)
        else None  # rendered by an older version that kept no timings
    )
    runs = list(dict.fromkeys(r for t in tables for r in TABLES[t]))
    results: dict[str, dict] = {}
    todo = [(run, fold) for run in runs for fold in range(size.folds)]
    got: dict[tuple[Run, int], dict] = {}
    for run, fold in todo:
        cached = cached_fold(run, fold, size, work)
        if cached is not None:
            got[(run, fold)] = cached
    bar = tqdm(total=len(todo), initial=len(got), desc="folds")
    left = [job for job in todo if job not in got]
    if args.ray:
        got.update(_run_folds_on_ray(left, args, size, work, data, ood, bar))
    else:
        for run, fold in left:
            bar.set_postfix_str(f"{run.key} fold {fold}")
            use_ood = ood if run.dataset == OOD_DATASET else None
            got[(run, fold)] = run_fold(run, fold, size, work, data[run.dataset], use_ood)
            bar.update()
    bar.close()
    for run in runs:
        results[run.key] = aggregate([got[(run, f)] for f in range(size.folds)])
    setting = {
        "size": args.size,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(size).items()},
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
    }
    for table in tables:
        write_result(
            f"reproduce_{table}",
            {
                "benchmark": "reproduce",
                "table": table,
                "command": f"python benchmarks/reproduce.py run --size {args.size}",
                "settings": setting,
                "datasets": {
                    d: " ".join(render_command(d, size, Path(f"runs/reproduce/data/{d}")))
                    for d in sorted({r.dataset for r in TABLES[table]})
                },
                "machine": machine_info(),
                "compute_minutes_all_tables": round(
                    (render_minutes or 0)
                    + sum(r["train_minutes"] + r["score_minutes"] for r in results.values()),
                    1,
                ),
                "render_minutes": render_minutes,
                "runs": {r.key: {**asdict(r), **results[r.key]} for r in TABLES[table]},
            },
            Path(args.results) / f"reproduce_{table}.json",
        )
    if not args.no_plots:
        best_model_plots(work, size)
    return 0


def best_model_plots(work: Path, size: Size) -> Path | None:
    """Macro traversal and morph of the flow model with the lowest test SC on subtractive-32."""
    from bridge.models.saved import SavedModel
    from bridge.plots import plot_macros, plot_morph

    best, best_sc = None, float("inf")
    for variant in ("flow", "flow_dis"):
        run = Run(OOD_DATASET, variant)
        for fold in range(size.folds):
            p = work / "runs" / run.key / f"fold{fold}"
            if (p / "result.json").exists():
                sc = json.loads((p / "result.json").read_text())["model"]
                sc = sc["spectral_convergence"]["mean"]
                if sc < best_sc:
                    best, best_sc = p, sc
    if best is None:
        return None
    model = SavedModel.load(best / "model.pt")
    plot_macros(model, IMG / "results_macros.png")
    plot_morph(model, IMG / "results_morph.png", None, None)
    atomic.write_text(IMG / "results_best_model.txt", f"{best.relative_to(work)}\n")
    return best


# --- report -------------------------------------------------------------------------------

PAPER_ESLING = {  # Esling et al. 2020, Table 1 (Diva): mean over folds, published
    "16": {"MLP": (0.236, 6.226), "CNN": (0.171, 1.372), "ResNet": (0.191, 1.004),
           "VAE": (0.182, 0.810), "Flow_reg": (0.197, 0.752), "Flow_dis": (0.199, 0.831)},
    "32": {"MLP": (0.218, 13.51), "CNN": (0.159, 19.18), "ResNet": (0.196, 10.37),
           "VAE": (0.153, 5.519), "Flow_reg": (0.193, 0.911), "Flow_dis": (0.197, 1.481)},
}  # fmt: skip
PAPER_LEVAILLANT_T1 = {  # Le Vaillant et al. 2021, Table 1, 81 Dexed parameters, published
    ("flow", "num"): (1.391, 58.1, 0.547, 1.08, 17.9),
    ("flow", "numcat"): (1.187, 84.3, 0.510, 1.28, 17.2),
    ("flow", "numcat++"): (0.916, 85.3, 0.470, 1.15, 12.1),
    ("vae_mlp", "num"): (1.242, 66.6, 0.496, 0.99, 16.1),
    ("vae_mlp", "numcat"): (1.187, 83.9, 0.548, 1.22, 17.1),
    ("vae_mlp", "numcat++"): (1.026, 83.3, 0.471, 0.98, 12.2),
}
PAPER_LEVAILLANT_T2 = {  # their Table 2, 81 parameters: channels -> (num MAE x10, acc %, SC)
    1: (0.97, 83.9, 1.37, 12.1),
    6: (0.86, 86.3, 1.44, 11.1),
}
PAPER_LEVAILLANT_T1_144 = {  # their Table 1, all 144 Dexed parameters, published
    ("flow", "num"): (1.465, 63.4, 0.740, 1.03, 19.2),
    ("flow", "numcat"): (1.284, 85.1, 0.650, 1.09, 18.6),
    ("flow", "numcat++"): (1.049, 86.0, 0.615, 1.03, 14.7),
    ("vae_mlp", "num"): (1.360, 68.6, 0.699, 0.97, 19.1),
    ("vae_mlp", "numcat"): (1.274, 84.4, 0.654, 1.03, 18.6),
    ("vae_mlp", "numcat++"): (1.110, 84.4, 0.637, 0.94, 15.0),
}
PAPER_LEVAILLANT_T2_144 = {  # their Table 2, 144 parameters: (num MAE x10, acc %, SC, MFCC)
    1: (1.14, 84.0, 1.03, 15.2),
    6: (0.99, 86.7, 1.05, 13.9),
}


def _fmt(m: dict, scale: float = 1.0, digits: int = 3) -> str:
    return f"{m['mean'] * scale:.{digits}f} ± {m['std'] * scale:.{digits}f}"


def _load(table: str, results_dir: Path) -> dict | None:
    p = results_dir / f"reproduce_{table}.json"
    return json.loads(p.read_text()) if p.exists() else None


def _best_baseline_sc(runs: dict, dataset: str) -> tuple[str, float]:
    base = {v: runs[Run(dataset, v).key]["model"]["spectral_convergence"]["mean"]
            for v in ("mlp", "cnn", "vae_mlp")}  # fmt: skip
    name = min(base, key=base.get)
    return name, base[name]


def render_report(results_dir: Path = RESULTS_DIR) -> str:
    """docs/results.md, from the JSON files alone (same files, same text)."""
    e = _load("esling2020", results_dir)
    enc = _load("levaillant2021_encodings", results_dir)
    notes = _load("levaillant2021_notes", results_dir)
    lines = [
        "# Reproducing the papers on the built-in synths",
        "",
        "<!-- Generated by `python benchmarks/reproduce.py report` from "
        "benchmarks/results/reproduce_*.json; do not edit by hand. -->",
        "",
        "Do flow models infer presets better than direct regression? This page answers with",
        "numbers from this repository: every figure below is read from a JSON file under",
        "`benchmarks/results/` written by `benchmarks/reproduce.py`, and",
        "`tests/test_reproduce.py` checks that this page is exactly what those files give.",
        "The papers' published numbers stand beside ours for orientation only: they were",
        "measured on other synths (Diva, Dexed), other data and much larger models, so what",
        "can be compared is the ordering of the models and the size of the margins.",
        "",
    ]
    if e is None and enc is None and notes is None:
        lines += ["No results yet: run `python benchmarks/reproduce.py run`.", ""]
        return "\n".join(lines)
    first = e or enc or notes
    s, m = first["settings"], first["machine"]
    lines += [
        "## How these numbers were made",
        "",
        f"- Command: `{first['command']}`, then `python benchmarks/reproduce.py report`.",
        f"- Machine: {m['cpu_model']}, {m['cpu_count']} cores, {s['device']}, "
        f"{s['torch_threads']} torch thread(s), torch {m['torch']}; "
        f"all tables took {first['compute_minutes_all_tables']} min of compute ("
        + (f"rendering {first['render_minutes']} min, " if first["render_minutes"] else
           "rendering not counted, ")
        + "the rest training and scoring, each fold on one core, two folds at a time).",
        f"- Size `{s['size']}`: {s['presets']} natural presets per dataset, {s['folds']}-fold "
        f"cross-validation (a tenth of each training part validates), notes of "
        f"{s['duration']} s (key held {s['held']} s), {s['n_mels']} mel bands; up to "
        f"{s['eval_limit']} test presets scored per fold.",
        f"- Models: conv channels {tuple(s['channels'])}, hidden {s['hidden']}; flows: "
        f"{s['posterior_layers']} IAF posterior layers, {s['regression_layers']} RealNVP "
        f"regression layers of width {s['regression_hidden']}; MLP baseline width "
        f"{s['mlp_hidden']}. At most {s['epochs']} epochs"
        + (f" or {s['max_minutes']} min" if s["max_minutes"] else "")
        + f" per training, early stop after {s['early_stop_patience']} epochs without "
        "improvement; the best validation epoch is kept.",
        "- Metrics (as `flowsynth eval`): parameter MSE/MAE of numerical parameters "
        "(normalized to [0, 1]), categorical accuracy, and on audio rendered from the "
        "inferred presets: spectral convergence (SC), log-spectrogram MAE and MFCC MAE. "
        "Each cell is the mean ± standard deviation across folds of the per-fold means.",
        "- Datasets (each rendered by the repo's own command):",
    ]
    datasets: dict[str, str] = {}
    dexed_tables = [_load(f"levaillant2021_dexed_{k}", results_dir) for k in ("encodings", "notes")]
    for t in (e, enc, notes, *dexed_tables):
        if t:
            datasets.update(t["datasets"])
    lines += [f"  - `{d}`: `{c}`" for d, c in sorted(datasets.items())]
    lines.append("")
    if e:
        lines += _esling_section(e, _load("baselines", results_dir))
    if enc:
        lines += _encodings_section(enc)
    if notes:
        lines += _notes_section(notes)
    dexed_enc = _load("levaillant2021_dexed_encodings", results_dir)
    dexed_notes = _load("levaillant2021_dexed_notes", results_dir)
    if dexed_enc:
        lines += _encodings_section(dexed_enc, "dexed")
    if dexed_notes:
        lines += _notes_section(dexed_notes, "dexed")
    lines += _goals_section(e, enc)
    if (IMG / "results_macros.png").exists() and (IMG / "results_best_model.txt").exists():
        best = (IMG / "results_best_model.txt").read_text().strip()
        lines += [
            "## The best model's sound space",
            "",
            f"The flow model with the lowest test SC on subtractive-32 (`{best}`): each macro "
            "swept from 0 to 1 (spectrograms of the rendered presets, left; the parameters "
            "that move most, right), and a morph between two presets through the latent "
            "space. Made by the same run (`best_model_plots`).",
            "",
            "![macros](img/results_macros.png)",
            "",
            "![morph](img/results_morph.png)",
            "",
        ]
    lines += _discussion(e, enc, notes)
    return "\n".join(lines).rstrip() + "\n"


def _esling_section(e: dict, base: dict | None = None) -> list[str]:
    runs = e["runs"]
    baselines = base["datasets"] if base else None
    baselines_cmd = base["command"] if base else ""
    cols = [("num_mse", 1.0, 3), ("spectral_convergence", 1.0, 3), ("log_spectral_mae", 1.0, 3),
            ("mfcc_mae", 1.0, 2), ("cat_accuracy", 100.0, 1)]  # fmt: skip
    out = [
        "## Baselines against flows (Esling et al. 2020, Table 1)",
        "",
        f"`{e['command']} --only esling2020` (numcat++ encoding for every model).",
        "",
    ]
    for dataset in ("subtractive-16", "subtractive-32", "fm"):
        if Run(dataset, "flow").key not in runs:
            continue
        out += [
            f"### {dataset}",
            "",
            "| Model | Num. MSE | SC | log-spec MAE | MFCC MAE | Cat. acc. (%) | weights |"
            " train min |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for v, label in VARIANTS.items():
            r = runs[Run(dataset, v).key]
            cells = [_fmt(r["model"][k], sc, d) for k, sc, d in cols]
            out.append(f"| {label} | " + " | ".join(cells) + f" | {r['weights']:,} | "
                       f"{r['train_minutes']} |")  # fmt: skip
        r = runs[Run(dataset, "flow").key]
        cells = [_fmt(r["mean_preset"][k], sc, d) for k, sc, d in cols]
        out.append("| mean preset (no model) | " + " | ".join(cells) + " | 0 | 0 |")
        near = r if "nearest_1" in r else (baselines or {}).get(dataset)
        for part, label in (("nearest_1", "nearest training sound (no model)"),
                            ("nearest_5_mean", "mean of the 5 nearest presets (no model)")):
            if near and part in near:
                cells = [_fmt(near[part][k], sc, d) for k, sc, d in cols]
                out.append(f"| {label} | " + " | ".join(cells) + " | 0 | 0 |")
        out.append("")
        if near is not None and near is not r:
            out += [f"The nearest-neighbour rows come from `{baselines_cmd}` (the same folds "
                    "and test presets, scored later).", ""]
        subset = dataset.split("-")[-1]
        if subset in PAPER_ESLING:
            p = PAPER_ESLING[subset]
            out += [
                f"Published (Esling et al. 2020, Diva, {subset} parameters; Num. MSE, SC): "
                + ", ".join(f"{k} {a:.3f} / {b:.3f}" for k, (a, b) in p.items()) + ".",
                "",
            ]
    ood_runs = {v: runs[Run(OOD_DATASET, v).key] for v in VARIANTS
                if "out_of_domain" in runs.get(Run(OOD_DATASET, v).key, {})}  # fmt: skip
    if ood_runs:
        kinds = list(next(iter(ood_runs.values()))["out_of_domain"])
        out += [
            f"### Out of domain ({OOD_DATASET} models)",
            "",
            "Sounds the synth did not make (docs/ood_set.md: the other built-in synth, "
            "processed noises, voice-like sketches), each scored against the sound of its "
            "inferred preset. SC / MFCC MAE:",
            "",
            "| Model | " + " | ".join(kinds) + " |",
            "|---|" + "---|" * len(kinds),
        ]
        for v, r in ood_runs.items():
            cells = [
                f"{_fmt(r['out_of_domain'][k]['spectral_convergence'], 1, 3)} / "
                f"{_fmt(r['out_of_domain'][k]['mfcc_mae'], 1, 1)}"
                for k in kinds
            ]
            out.append(f"| {VARIANTS[v]} | " + " | ".join(cells) + " |")
        out += ["", "Published out-of-domain SC (Esling et al. 2020, 32 p.): MLP 2.348, "
                "CNN 2.311, ResNet 2.322, VAE 1.237, Flow_reg 1.101, Flow_dis 1.209.", ""]
    return out


def _encodings_section(t: dict, dataset: str = "fm") -> list[str]:
    runs = t["runs"]
    paper = PAPER_LEVAILLANT_T1 if dataset == "fm" else PAPER_LEVAILLANT_T1_144
    title = ("## Learnable representations (Le Vaillant et al. 2021, Table 1)" if dataset == "fm"
             else "## Learnable representations on Dexed itself (Le Vaillant et al. 2021, "
             "Table 1)")
    what = ("fm (31 parameters), one note. Published values (Dexed, 81 parameters) in "
            "brackets." if dataset == "fm" else "the real Dexed plugin, all 144 voice "
            "parameters, one note. Published values (Dexed, 144 parameters) in brackets; "
            "theirs come from 30k distinct cartridge presets and models of tens of millions "
            "of weights, ours from the cpu size's natural presets around 1056 voices.")
    out = [
        title,
        "",
        f"`{t['command']} --only {t['table']}`, {what}",
        "",
        "| Regression | Encoding | D | Num. MAE (x10) | Cat. acc. (%) | log-spec MAE | SC |"
        " MFCC MAE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in ("flow", "vae_mlp"):
        for enc in ("num", "numcat", "numcat++"):
            r = runs[Run(dataset, v, enc).key]["model"]
            p = paper[(v, enc)]
            out.append(
                f"| {'Flow' if v == 'flow' else 'MLP (on VAE latent)'} | {enc} | "
                f"{runs[Run(dataset, v, enc).key]['latent_dim']} | "
                f"{_fmt(r['num_mae'], 10, 3)} [{p[0]:.3f}] | "
                f"{_fmt(r['cat_accuracy'], 100, 1)} [{p[1]:.1f}] | "
                f"{_fmt(r['log_spectral_mae'], 1, 3)} [{p[2]:.3f}] | "
                f"{_fmt(r['spectral_convergence'], 1, 2)} [{p[3]:.2f}] | "
                f"{_fmt(r['mfcc_mae'], 1, 1)} [{p[4]:.1f}] |"
            )
    out.append("")
    return out


def _notes_section(t: dict, dataset: str = "fm") -> list[str]:
    runs = t["runs"]
    paper = PAPER_LEVAILLANT_T2 if dataset == "fm" else PAPER_LEVAILLANT_T2_144
    title = ("## One note or six (Le Vaillant et al. 2021, Table 2)" if dataset == "fm"
             else "## One note or six on Dexed itself (Le Vaillant et al. 2021, Table 2)")
    synth = "fm" if dataset == "fm" else "the real Dexed plugin (144 parameters)"
    published = "Dexed, 81 parameters" if dataset == "fm" else "Dexed, 144 parameters"
    out = [
        title,
        "",
        f"`{t['command']} --only {t['table']}`, {synth}, flow model, numcat++. Audio "
        "errors of the six-note model are averaged over its six notes, those of the one-note "
        f"model over its one note. Published values ({published}) in brackets.",
        "",
        "| Input channels | Num. MAE (x10) | Cat. acc. (%) | log-spec MAE | SC | MFCC MAE |",
        "|---|---|---|---|---|---|",
    ]
    for ch, d in ((1, dataset), (6, f"{dataset}-six")):
        r = runs[Run(d, "flow").key]["model"]
        p = paper[ch]
        out.append(
            f"| {ch} | {_fmt(r['num_mae'], 10, 3)} [{p[0]:.2f}] | "
            f"{_fmt(r['cat_accuracy'], 100, 1)} [{p[1]:.1f}] | "
            f"{_fmt(r['log_spectral_mae'], 1, 3)} | "
            f"{_fmt(r['spectral_convergence'], 1, 2)} [{p[2]:.2f}] | "
            f"{_fmt(r['mfcc_mae'], 1, 1)} [{p[3]:.1f}] |"
        )
    out.append("")
    return out


def goals(e: dict | None, enc: dict | None) -> dict[str, dict]:
    """The issue's two goals, computed from the JSON (also used by the closing note)."""
    out: dict[str, dict] = {}
    if e:
        runs = e["runs"]
        name, base = _best_baseline_sc(runs, "subtractive-32")
        flow = min(runs[Run("subtractive-32", v).key]["model"]["spectral_convergence"]["mean"]
                   for v in ("flow", "flow_dis"))  # fmt: skip
        margin = 1 - flow / base
        out["flow_beats_baseline_sc"] = {
            "best_baseline": name, "baseline_sc": round(base, 4), "flow_sc": round(flow, 4),
            "margin": round(margin, 4), "goal": 0.25, "met": bool(margin >= 0.25),
        }  # fmt: skip
    if enc:
        runs = enc["runs"]
        a = runs[Run("fm", "flow", "numcat++").key]["model"]["cat_accuracy"]["mean"]
        b = runs[Run("fm", "flow", "num").key]["model"]["cat_accuracy"]["mean"]
        out["numcatpp_beats_num_accuracy"] = {
            "numcat++": round(a, 4), "num": round(b, 4), "met": bool(a > b),
        }  # fmt: skip
    return out


def _goals_section(e: dict | None, enc: dict | None) -> list[str]:
    g = goals(e, enc)
    if not g:
        return []
    out = ["## The goals", ""]
    if "flow_beats_baseline_sc" in g:
        f = g["flow_beats_baseline_sc"]
        out.append(
            f"- Flow beats the best direct baseline ({VARIANTS[f['best_baseline']]}) on SC, "
            f"subtractive-32, by at least 25% (Esling et al.: 0.752 against 1.004 for 16 "
            f"parameters): flow {f['flow_sc']:.3f} against {f['baseline_sc']:.3f}, a margin "
            f"of {100 * f['margin']:.1f}%: **{'met' if f['met'] else 'not met'}**."
        )
    if "numcatpp_beats_num_accuracy" in g:
        f = g["numcatpp_beats_num_accuracy"]
        out.append(
            f"- numcat++ beats num on fm's categorical accuracy (flow regression): "
            f"{100 * f['numcat++']:.1f}% against {100 * f['num']:.1f}%: "
            f"**{'met' if f['met'] else 'not met'}**."
        )
    out.append("")
    return out


def _discussion(e: dict | None, enc: dict | None, notes: dict | None) -> list[str]:
    """What reproduced, what did not, and why; the numbers come from the same JSON."""
    out = ["## What reproduced, what did not, and why", ""]
    tables = [t for t in (e, enc, notes) if t]
    s = tables[0]["settings"]
    capped: dict[str, list[int]] = {}
    for t in tables:
        for r in t["runs"].values():
            kind = "flow" if r["variant"].startswith("flow") else "baseline"
            c = capped.setdefault(kind, [0, 0])
            # Stopped by the cap while its best epoch was one of the last three.
            c[0] += sum(n >= s["epochs"] and b >= n - 2
                        for n, b in zip(r["epochs_run"], r["best_epochs"], strict=True))
            c[1] += len(r["epochs_run"])
    if e:
        runs = e["runs"]
        for dataset in ("subtractive-16", "subtractive-32", "fm"):
            if Run(dataset, "flow").key not in runs:
                continue
            name, base = _best_baseline_sc(runs, dataset)
            flows = {v: runs[Run(dataset, v).key]["model"] for v in ("flow", "flow_dis")}
            best_flow = min(flows, key=lambda v: flows[v]["spectral_convergence"]["mean"])
            f = flows[best_flow]
            b = runs[Run(dataset, name).key]["model"]
            mean_sc = runs[Run(dataset, "flow").key]["mean_preset"]["spectral_convergence"]
            sc_f = f["spectral_convergence"]["mean"]
            verdict = "beats" if sc_f < base else "does not beat"
            out.append(
                f"- {dataset}: the best flow model ({VARIANTS[best_flow]}) {verdict} the best "
                f"direct baseline ({VARIANTS[name]}) on SC: {sc_f:.3f} against {base:.3f} "
                f"({100 * (1 - sc_f / base):+.1f}%). On parameters: numerical MSE "
                f"{f['num_mse']['mean']:.4f} against {b['num_mse']['mean']:.4f}, categorical "
                f"accuracy {100 * f['cat_accuracy']['mean']:.1f}% against "
                f"{100 * b['cat_accuracy']['mean']:.1f}%. The mean preset scores SC "
                f"{mean_sc['mean']:.3f}."
            )
    if enc:
        runs = enc["runs"]
        for v in ("flow", "vae_mlp"):
            acc = {k: runs[Run("fm", v, k).key]["model"]["cat_accuracy"]["mean"]
                   for k in ("num", "numcat", "numcat++")}  # fmt: skip
            out.append(
                f"- fm encodings, {'flow' if v == 'flow' else 'MLP'} regression: categorical "
                f"accuracy num {100 * acc['num']:.1f}%, numcat {100 * acc['numcat']:.1f}%, "
                f"numcat++ {100 * acc['numcat++']:.1f}% (Le Vaillant et al.: num clearly "
                "worst, numcat and numcat++ close)."
            )
    if notes:
        runs = notes["runs"]
        one, six = (runs[Run(d, "flow").key]["model"] for d in ("fm", "fm-six"))
        out.append(
            f"- fm, one note against six: numerical MAE {one['num_mae']['mean']:.4f} against "
            f"{six['num_mae']['mean']:.4f}, categorical accuracy "
            f"{100 * one['cat_accuracy']['mean']:.1f}% against "
            f"{100 * six['cat_accuracy']['mean']:.1f}%, MFCC MAE {one['mfcc_mae']['mean']:.2f} "
            f"against {six['mfcc_mae']['mean']:.2f} (Le Vaillant et al.: six notes better on "
            "every criterion but SC)."
        )
    if e and Run("fm", "flow").key in e["runs"]:
        runs = e["runs"]
        mean_sc = runs[Run("fm", "flow").key]["mean_preset"]["spectral_convergence"]["mean"]
        worse = [VARIANTS[v] for v in VARIANTS
                 if runs[Run("fm", v).key]["model"]["spectral_convergence"]["mean"] > mean_sc]
        if worse:
            out.append(
                f"- On fm, the mean preset's SC ({mean_sc:.3f}) is lower than that of "
                f"{', '.join(worse)}, although every model beats it on MFCC MAE and "
                "categorical accuracy: SC weighs only the loudest partials, and an FM sound's "
                "loudest partials move with small changes of ratio and level, so on fm SC "
                "does not rank models; MFCC and log-spectrogram errors do."
            )  # fmt: skip
    fc, bc = capped.get("flow", [0, 0]), capped.get("baseline", [0, 0])
    out += [
        "",
        "Why the margins differ from the papers':",
        "",
        f"- Scale. The papers trained for hundreds of epochs on a GPU with tens of thousands "
        f"of presets; the `{s['size']}` size trains each model for at most {s['epochs']} epochs"
        + (f" or {s['max_minutes']} minutes" if s["max_minutes"] else "")
        + f" on {s['presets']} presets, with small networks. {fc[0]} of {fc[1]} flow-model "
        f"trainings and {bc[0]} of {bc[1]} baseline trainings were still improving when they "
        "hit the cap, and the flow models also spend their capacity on reconstructing the "
        "spectrogram and on an invertible map. `--size full` (on a GPU) is the run that "
        "tests the claim at the papers' scale.",
        "- Stronger baselines. Esling et al.'s baselines regressed every parameter with an MSE "
        "loss; here every model, baseline or flow, learns the same numcat++ encoding with the "
        "same MSE plus cross-entropy loss, so the tables isolate the regression model rather "
        "than the loss. Le Vaillant et al. (Table 1) also found MLP regression close to the "
        "flow on SC.",
        "- Spread. Folds differ by more than some of the margins (see the ± columns); with 3 "
        "folds and a few hundred scored presets per fold, differences smaller than the "
        "standard deviations are not findings.",
        "- Different synths. Diva and Dexed have more parameters, and many that barely change "
        "the sound; the built-in synths' subsets were chosen for audible parameters, which "
        "makes direct regression easier.",
        "",
    ]
    return out


BASELINE_DATASETS = ("subtractive-32", "subtractive-16", "fm")


def cmd_baselines(args: argparse.Namespace) -> int:
    """The simple baselines alone (no training): the mean preset, the nearest training sound
    and the mean of the 5 nearest, on the same folds and test presets as `run` scores, for
    tables measured before `run` recorded them."""
    from tqdm import tqdm

    from bridge.data.dataset import Dataset
    from bridge.evaluate import baseline_presets, score_presets

    size = SIZES[args.size]
    work = Path(args.work)
    t0 = time.time()
    out: dict[str, dict] = {}
    for name in tqdm(BASELINE_DATASETS, desc="datasets"):
        ds = Dataset(ensure_dataset(name, size, work))
        params, mels, _ = ds.load()
        folds = []
        for fold in range(size.folds):
            split = fold_split(ds, size.folds, fold)
            test = split["test"][: size.eval_limit]
            preds = baseline_presets(ds, params, mels, test, split["train"], "numcat++")
            folds.append(score_presets(ds, params, test, preds))
        out[name] = {part: {k: _across_folds([f[part][k]["mean"] for f in folds])
                            for k in folds[0][part]} for part in folds[0]}  # fmt: skip
    write_result(
        "reproduce_baselines",
        {
            "benchmark": "reproduce",
            "table": "baselines",
            "command": f"python benchmarks/reproduce.py baselines --size {args.size}",
            "settings": {"size": args.size, "folds": size.folds, "eval_limit": size.eval_limit,
                         "encoding": "numcat++"},
            "machine": machine_info(),
            "compute_minutes": round((time.time() - t0) / 60, 1),
            "datasets": out,
        },
        Path(args.results) / "reproduce_baselines.json",
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    text = render_report(Path(args.results))
    atomic.write_text(DOC, text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    for name, g in goals(_load("esling2020", Path(args.results)),
                         _load("levaillant2021_encodings", Path(args.results))).items():
        print(f"{name}: {g}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="render, train and score everything (long)")
    r.add_argument("--size", choices=SIZES, default="cpu")
    r.add_argument("--only", nargs="*", help=f"tables to run ({', '.join(TABLES)})")
    r.add_argument("--work", default=str(ROOT / "runs" / "reproduce"),
                   help="datasets, models and per-fold results (resumable)")  # fmt: skip
    r.add_argument("--results", default=str(RESULTS_DIR), help="where the JSON files go")
    r.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    r.add_argument("--no-plots", action="store_true")
    r.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                   help="render and train on Ray: auto (the cluster this machine is in, else "
                   "a local one), local, or a head's address; --work must be shared by the "
                   "nodes (docs/scale.md; pip install 'flowsynth-bridge[cluster]')")  # fmt: skip
    r.add_argument("--fresh", action="store_true", help="delete --work first")
    r.set_defaults(func=cmd_run)
    b = sub.add_parser("baselines", help="score the nearest-neighbour and mean-preset "
                       "baselines alone on run's folds (minutes)")
    b.add_argument("--size", choices=SIZES, default="cpu")
    b.add_argument("--work", default=str(ROOT / "runs" / "reproduce"))
    b.add_argument("--results", default=str(RESULTS_DIR), help="where the JSON file goes")
    b.set_defaults(func=cmd_baselines)
    rep = sub.add_parser("report", help="write docs/results.md from the JSON results")
    rep.add_argument("--results", default=str(RESULTS_DIR))
    rep.set_defaults(func=cmd_report)
    args = p.parse_args(argv)
    if getattr(args, "fresh", False):
        shutil.rmtree(args.work, ignore_errors=True)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
