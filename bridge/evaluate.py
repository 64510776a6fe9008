"""Evaluation: `flowsynth eval --model M --data D`.

Infers presets for a held-out split, renders them with the synth and compares with the audio
of the true presets: parameter errors (numerical MSE/MAE, categorical accuracy) and audio
errors (spectral convergence, log-spectrogram MAE, MFCC MAE; Le Vaillant et al. 2021,
section 3.4), mean and standard deviation. Beside the model: the mean preset of the training
split (the trivial baseline), the training preset whose log-mel is nearest (``nearest_1``,
the strongest simple baseline), the mean of the 5 nearest (``nearest_5_mean``) and, with
``match_budget``, the matcher. Out-of-domain audio (any folder of sound files) gets
the audio errors only.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bridge import atomic
from bridge.audio.features import log_mel
from bridge.audio.io import load_audio
from bridge.audio.metrics import audio_metrics, param_metrics, summarize
from bridge.data.dataset import Dataset, sha256_file
from bridge.matching.pitch import Pitch
from bridge.models.saved import SavedModel
from bridge.synth.registry import get_synth
from bridge.synth.spec import ParamSpec

AUDIO_EXTS = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}
COLUMNS = [
    ("num_mse", "Num. MSE"),
    ("num_mae", "Num. MAE"),
    ("cat_accuracy", "Cat. acc."),
    ("spectral_convergence", "SC"),
    ("log_spectral_mae", "log-spec MAE"),
    ("mfcc_mae", "MFCC MAE"),
]


@torch.no_grad()
def infer_learned(model: SavedModel, mels_db: np.ndarray, batch: int = 128) -> np.ndarray:
    """[B, C, M, F] log-mels (dB) -> [B, N_learn] normalized values of the learned parameters."""
    out = []
    for i in range(0, len(mels_db), batch):
        x = model.normalize(mels_db[i : i + batch])
        out.append(model.decode_params(model.net.infer(x)))
    return np.concatenate(out) if out else np.zeros((0, len(model.learn_spec)), np.float32)


def _render_metrics(
    synth,
    notes,
    sr: int,
    true_full: np.ndarray,
    pred_full: np.ndarray,
    batch: int = 32,
    desc: str = "render",
) -> dict[str, np.ndarray]:
    per_note: list[dict[str, np.ndarray]] = []
    for note in notes:
        parts: dict[str, list[np.ndarray]] = {}
        for i in tqdm(
            range(0, len(true_full), batch),
            desc=f"{desc} note {note.pitch}",
            leave=False,
            disable=None,
        ):
            a = synth.render(true_full[i : i + batch], note, sr)
            b = synth.render(pred_full[i : i + batch], note, sr)
            for k, v in audio_metrics(a, b, sr).items():
                parts.setdefault(k, []).append(v)
        per_note.append({k: np.concatenate(v) for k, v in parts.items()})
    return {k: np.mean([m[k] for m in per_note], axis=0) for k in per_note[0]}


def baseline_presets(
    ds: Dataset,
    params: np.ndarray,
    mels: np.ndarray,
    idx: np.ndarray,
    train_idx: np.ndarray,
    encoding: str,
) -> dict[str, np.ndarray]:
    """What the simple baselines answer for the presets ``idx`` (learned values): the
    training split's mean preset (the trivial one), the training preset whose log-mel is
    nearest in L2 over every note channel (the strongest simple one), and the mean of the 5
    nearest presets; means are taken in ``encoding`` and decoded, as a model's are."""
    train_learn = ds.spec.restrict(ds.learn_spec, params[train_idx])
    enc = ds.learn_spec.encode(train_learn, encoding)  # type: ignore[arg-type]
    mean = ds.learn_spec.decode(enc.mean(0, keepdims=True), encoding)  # type: ignore[arg-type]
    return {
        "mean_preset": np.repeat(mean, len(idx), 0),
        **nearest_presets(mels[idx], mels[train_idx], train_learn, ds.learn_spec, encoding),
    }


def nearest_presets(
    query_mels: np.ndarray,
    train_mels: np.ndarray,
    train_learn: np.ndarray,
    learn_spec: ParamSpec,
    encoding: str,
) -> dict[str, np.ndarray]:
    """The nearest-neighbour baselines for any queries: the training preset whose log-mel is
    nearest in L2 (``nearest_1``) and the mean of the 5 nearest in ``encoding``, decoded
    (``nearest_5_mean``)."""
    near = nearest_training(query_mels, train_mels, k=5)
    enc = learn_spec.encode(train_learn, encoding)  # type: ignore[arg-type]
    return {
        "nearest_1": train_learn[near[:, 0]],
        "nearest_5_mean": learn_spec.decode(enc[near].mean(1), encoding),  # type: ignore[arg-type]
    }


def score_presets(
    ds: Dataset, params: np.ndarray, idx: np.ndarray, preds: dict[str, np.ndarray]
) -> dict[str, dict]:
    """Summary rows for each named set of learned presets answering the presets ``idx``:
    parameter errors, and audio errors between the renders of both."""
    synth, sr = ds.synth(), ds.features.sample_rate
    true_full = params[idx]
    true_learn = ds.spec.restrict(ds.learn_spec, true_full)
    rows: dict[str, dict] = {}
    for name, pred in preds.items():
        pred_full = ds.spec.expand(ds.learn_spec, pred)
        per_item = {
            **param_metrics(ds.learn_spec, None, true_learn, pred),
            **_render_metrics(synth, ds.notes, sr, true_full, pred_full, desc=name),
        }
        rows[name] = summarize(per_item)
    return rows


def score(
    model: SavedModel,
    ds: Dataset,
    params: np.ndarray,
    mels: np.ndarray,
    idx: np.ndarray,
    train_idx: np.ndarray,
    match_budget: float | None = None,
) -> tuple[dict[str, dict], np.ndarray]:
    """Score a model on the presets ``idx`` of a loaded dataset, beside the baselines of
    :func:`baseline_presets` (and the matcher at ``match_budget`` seconds a sound, when
    given); returns the summary rows and the inferred learned parameters."""
    pred_learn = infer_learned(model, mels[idx])
    preds = {model.cfg.kind: pred_learn,
             **baseline_presets(ds, params, mels, idx, train_idx, model.cfg.encoding)}
    if match_budget is not None:
        preds[f"matcher_{match_budget:g}s"] = _match_all(model, ds, params[idx], match_budget)
    return score_presets(ds, params, idx, preds), pred_learn


def _match_all(model: SavedModel, ds: Dataset, presets: np.ndarray, budget: float) -> np.ndarray:
    """The matcher's answer for each preset's render (at the dataset's first note)."""
    from bridge.matching.matcher import Matcher

    synth, note, sr = ds.synth(), ds.notes[0], ds.features.sample_rate
    matcher = Matcher(model, synth)
    matcher.warm_up()
    out = []
    for i in tqdm(range(len(presets)), desc="match", leave=False, disable=None):
        audio = synth.render(presets[i : i + 1], note, sr)[0]
        # the dataset's note is the one to compare at: pitch is not what is measured here
        m = matcher.match(audio, budget, pitch=Pitch(-1, 0.0, 0.0))
        out.append(m.learned)
    return np.stack(out)


def nearest_training(queries: np.ndarray, train: np.ndarray, k: int = 5,
                     chunk: int = 256) -> np.ndarray:
    """[B, k] indices (into ``train``) of each query's nearest log-mels in L2, nearest first."""
    t = torch.as_tensor(np.asarray(train, np.float32).reshape(len(train), -1))
    t2 = (t**2).sum(1)
    k = min(k, len(t))
    out = []
    for i in range(0, len(queries), chunk):
        q = torch.as_tensor(np.asarray(queries[i : i + chunk], np.float32).reshape(-1, t.shape[1]))
        d2 = (q**2).sum(1, keepdim=True) - 2.0 * q @ t.T + t2[None]
        out.append(torch.topk(d2, k, dim=1, largest=False).indices.numpy())
    return np.concatenate(out) if out else np.zeros((0, k), np.int64)


def git_commit(where: str | Path | None = None) -> str | None:
    """The checkout's commit, suffixed ``-dirty`` when tracked files differ from it; None
    outside a git checkout or without git."""
    cwd = Path(where) if where else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def provenance(model_path: str | Path, command: str | None = None) -> dict:
    """What a report needs to be traced back: the command, the code, the model file, when."""
    return {
        "command": command,
        "git_commit": git_commit(),
        "model_sha256": sha256_file(Path(model_path)),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def evaluate(
    model_path: str | Path,
    data_dir: str | Path,
    split: str = "test",
    limit: int | None = None,
    ood_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    plot: bool = True,
    command: str | None = None,
    match_budget: float | None = None,
) -> dict:
    """Score a model; ``command`` (the command line that asked for it) goes into the report."""
    model = SavedModel.load(model_path)
    ds = Dataset(data_dir)
    if ds.synth_name != model.synth_name or ds.learn_spec.names != model.learn_spec.names:
        raise ValueError(
            f"model {model_path} learned {model.synth_name} ({len(model.learn_spec)} parameters)"
            f" but {data_dir} holds {ds.synth_name} ({len(ds.learn_spec)} parameters); evaluate on"
            " a dataset rendered with the same synth and --subset"
        )
    params, mels, _ = ds.load()
    splits = ds.split(seed=int(model.info.get("split_seed", 0)))
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(splits)}")
    idx = splits[split][:limit] if limit else splits[split]
    if len(idx) == 0:
        raise ValueError(f"the {split} split of {data_dir} is empty; render a larger dataset")
    rows, pred_learn = score(model, ds, params, mels, idx, splits["train"], match_budget)
    synth = ds.synth()
    true_full = params[idx]
    result = {
        "model": str(model_path),
        "kind": model.cfg.kind,
        "config": model.cfg.to_dict(),
        "data": str(data_dir),
        "split": split,
        "n": int(len(idx)),
        "synth": ds.synth_name,
        "n_params": len(ds.learn_spec),
        "notes": [n.to_dict() for n in ds.notes],
        "results": rows,
        "provenance": provenance(model_path, command),
    }
    if ood_dir:
        result["out_of_domain"] = evaluate_out_of_domain(model, ood_dir)
    if out_dir:
        write_report(result, out_dir)
        if plot:
            plot_reconstructions(
                model,
                synth,
                mels[idx[:4]],
                pred_learn[:4],
                true_full[:4],
                Path(out_dir) / "reconstructions.png",
            )
    return result


def evaluate_out_of_domain(model: SavedModel, folder: str | Path) -> dict:
    """Audio errors for sounds the synth did not make: each file against its inferred preset."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_EXTS)
    if not files:
        raise FileNotFoundError(f"no audio files ({', '.join(sorted(AUDIO_EXTS))}) in {folder}")
    synth, sr, note = get_synth(model.synth_name), model.features.sample_rate, model.notes[0]
    audio = model.fit_to_note([load_audio(f, sr, max_seconds=60) for f in files])
    pred = model.full_presets(infer_learned(model, model.audio_features(audio)))
    est = synth.render(pred, note, sr)
    return {
        "n": len(files),
        "folder": str(folder),
        "results": summarize(audio_metrics(audio, est, sr)),
    }


def markdown_table(rows: dict[str, dict]) -> str:
    head = "| model | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, stats in rows.items():
        cells = []
        for key, _ in COLUMNS:
            s = stats.get(key)
            cells.append(f"{s['mean']:.4f} ± {s['std']:.4f}" if s else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(result: dict, out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = [
        f"# Evaluation of {result['model']}",
        "",
        f"{result['n']} presets of the {result['split']} split of `{result['data']}` "
        f"({result['synth']}, {result['n_params']} parameters, {len(result['notes'])} note(s)).",
        "",
        markdown_table(result["results"]),
        "",
    ]
    prov = result.get("provenance")
    if prov:
        md += [
            f"- command: `{prov['command'] or 'not recorded (called from Python)'}`",
            f"- git commit: {prov['git_commit'] or 'unknown (not a git checkout)'}",
            f"- model file sha256: {prov['model_sha256']}",
            f"- date (UTC): {prov['date']}",
            "",
        ]
    if "out_of_domain" in result:
        ood = result["out_of_domain"]
        md += [
            f"Out-of-domain: {ood['n']} files from `{ood['folder']}`",
            "",
            markdown_table({result["kind"]: ood["results"]}),
            "",
        ]
    for name, text in (("eval.json", json.dumps(result, indent=2)), ("eval.md", "\n".join(md))):
        atomic.write_text(out / name, text)


def plot_reconstructions(model, synth, target_mels, pred_learn, true_full, path: Path) -> None:
    """Target spectrograms above the spectrograms of the inferred presets, rendered."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    note, sr = model.notes[0], model.features.sample_rate
    pred_full = model.full_presets(pred_learn)
    est = log_mel(synth.render(pred_full, note, sr), model.features)
    n = len(target_mels)
    fig, axes = plt.subplots(2, n, figsize=(3 * n, 5), squeeze=False)
    for i in range(n):
        for row, img, title in ((0, target_mels[i, 0], "target"), (1, est[i], "inferred")):
            axes[row, i].imshow(
                np.asarray(img, np.float32), origin="lower", aspect="auto", vmin=-100, vmax=0
            )
            axes[row, i].set_title(f"{title} {i + 1}", fontsize=9)
            axes[row, i].axis("off")
    fig.tight_layout()
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
