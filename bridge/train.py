"""Training: `flowsynth train --data D --config NAME --out runs/X`.

Adam with a linear learning-rate warm-up then reduce-on-plateau, beta warm-up, early stopping,
a checkpoint every epoch (resume with ``--resume``), a JSON-lines metrics log, fixed seeds.
The finished model (best validation epoch, with its macros) is ``<out>/model.pt``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bridge import atomic, distributed
from bridge.audio.features import normalization_stats
from bridge.data.dataset import Dataset
from bridge.matching.index import RetrievalIndex
from bridge.models.configs import ModelConfig
from bridge.models.macros import define_macros
from bridge.models.saved import SavedModel, build_net

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
METRICS = "metrics.jsonl"
# Config keys that only decide when training stops: a resumed run may change them, e.g.
# `--resume --set epochs=N` with N epochs done finishes the run now from its best epoch.
STOPPING = {"epochs", "max_minutes", "early_stop_patience"}


@dataclass
class Prepared:
    """Tensors for training, from a dataset and a config."""

    x: torch.Tensor  # [n, C, M, F] normalized log-mels
    v: torch.Tensor  # [n, D] encoded presets of the learned parameters
    tags: torch.Tensor  # [n, n_pairs] labels in {-1, 0, 1}
    split: dict[str, np.ndarray]
    norm: dict[str, float]
    descriptors: dict[str, np.ndarray]  # audio descriptors by name (bridge.data.tags), [n] each


def prepare(
    ds: Dataset, cfg: ModelConfig, split_seed: int = 0, split: dict | None = None
) -> Prepared:
    params, mels, tags = ds.load()
    split = split or ds.split(seed=split_seed)
    if len(split["train"]) == 0 or len(split["valid"]) == 0:
        raise ValueError(f"dataset {ds.root} is too small to split into train and validation sets")
    norm = normalization_stats(mels[split["train"]])
    x = (torch.from_numpy(mels.astype(np.float32)) - norm["mean"]) / norm["std"]
    learn = ds.spec.restrict(ds.learn_spec, params)
    v = torch.from_numpy(ds.learn_spec.encode(learn, cfg.encoding))  # type: ignore[arg-type]
    missing = [p for p in cfg.tag_pairs if p not in tags]
    if missing:
        raise ValueError(f"the dataset has no tags {missing}; it has {sorted(tags)}")
    lab = np.stack([tags[p] for p in cfg.tag_pairs], 1) if cfg.tag_pairs else np.zeros((len(x), 0))
    descriptors = {n: tags[n] for n in ds.descriptor_names}
    return Prepared(x, v, torch.from_numpy(lab.astype(np.float32)), split, norm, descriptors)


def _keep_metrics_until(path: Path, epoch: int) -> None:
    """After a kill, drop metrics rows of epochs whose checkpoint never landed."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in rows if json.loads(line).get("epoch", 0) <= epoch]
    if len(kept) != len(rows):
        atomic.write_text(path, "".join(f"{line}\n" for line in kept))


def _lr_factor(cfg: ModelConfig, epoch: int) -> float:
    if cfg.lr_warmup_epochs <= 0:
        return 1.0
    return min(1.0, (epoch + 1) / (cfg.lr_warmup_epochs + 1))


def _beta(cfg: ModelConfig, epoch: int) -> float:
    if cfg.beta_warmup_epochs <= 0:
        return cfg.beta
    return cfg.beta * min(1.0, epoch / cfg.beta_warmup_epochs)


def _run_epoch(
    net,
    data: Prepared,
    idx: np.ndarray,
    cfg,
    beta,
    opt=None,
    gen=None,
    device="cpu",
    desc="",
    group: distributed.Group = distributed.SINGLE,
):
    """One pass over ``idx``; ``net`` is a module whose forward is the loss. Under DDP every
    rank draws the same batch order and trains on its share of each batch."""
    train = opt is not None
    net.train(train)
    order = torch.from_numpy(idx)
    if train:
        order = order[torch.randperm(len(order), generator=gen)]
    sums: dict[str, float] = {}
    n = 0
    batches = range(0, len(order), cfg.batch_size)
    show = None if group.leader else True  # tqdm's disable: None hides it off a terminal
    for start in tqdm(batches, desc=desc, leave=False, disable=show):
        b = order[start : start + cfg.batch_size]
        # batch norm needs two samples, on every rank: all ranks skip the same batches
        if train and len(b) < 2 * group.world:
            continue
        b = b[group.rank :: group.world]
        x, v, t = data.x[b].to(device), data.v[b].to(device), data.tags[b].to(device)
        with torch.set_grad_enabled(train):
            out = net(x, v, t, beta)
            if train:
                opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
                opt.step()
        for k, val in out.items():
            sums[k] = sums.get(k, 0.0) + float(val.detach()) * len(b)
        n += len(b)
    sums, n = distributed.sum_metrics(group, sums, n)
    return {k: s / max(n, 1) for k, s in sums.items()}


def train(
    data_dir: str | Path,
    cfg: ModelConfig,
    out_dir: str | Path,
    resume: bool = False,
    device: str | None = None,
    split_seed: int = 0,
    split: dict | None = None,
    quiet: bool = False,
    ddp: bool = False,
) -> SavedModel | None:
    """Train a model; return it (also saved as <out_dir>/model.pt).

    ``ddp``: this process is one rank of a ``torchrun`` launch (bridge.distributed); rank 0
    writes the run folder and returns the model, the other ranks return None.
    """
    out = Path(out_dir)
    ds = Dataset(data_dir)
    group = distributed.start(device) if ddp else distributed.SINGLE
    # On an error this rank just leaves: torchrun stops the others, which a barrier here would
    # wait for forever.
    return _train(ds, cfg, out, resume, device, split_seed, split, quiet or not group.leader,
                  group)  # fmt: skip


def _train(
    ds: Dataset,
    cfg: ModelConfig,
    out: Path,
    resume: bool,
    device: str | None,
    split_seed: int,
    split: dict | None,
    quiet: bool,
    group: distributed.Group,
) -> SavedModel | None:
    if out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    if group.active:
        torch.distributed.barrier()  # every rank has looked at --out before rank 0 writes there
    if group.leader:
        out.mkdir(parents=True, exist_ok=True)
    device = group.device if group.active else device
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    data = prepare(ds, cfg, split_seed, split)
    n_notes, n_mels, n_frames = data.x.shape[1:]
    net = build_net(cfg, ds.learn_spec, n_notes, n_mels, n_frames).to(device)
    step = distributed.wrap(group, net)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=cfg.plateau_factor, patience=cfg.plateau_patience
    )
    state = {"epoch": 0, "best": float("inf"), "best_epoch": -1, "stale": 0, "elapsed": 0.0}
    ckpt_path = out / CHECKPOINT
    # The best epoch's weights travel inside the checkpoint: one atomic write per epoch, so a
    # kill can never leave best weights and a training state from different epochs.
    best_net: dict[str, torch.Tensor] | None = None
    # Rank 0 reads the checkpoint and hands it to the others, whose disks may not hold it.
    found = distributed.broadcast(group, resume and ckpt_path.exists())
    if found:
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True) if group.leader else None
        ck = distributed.broadcast(group, ck)
        changed = sorted(
            k for k, v in cfg.to_dict().items() if ck["config"].get(k) != v and k not in STOPPING
        )
        if changed:
            raise ValueError(
                f"{ckpt_path} was trained with other values of {', '.join(changed)}; resume with "
                f"the same config (only {', '.join(sorted(STOPPING))} may change)"
            )
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        plateau.load_state_dict(ck["plateau"])
        state = ck["state"]
        best_net = ck.get("best_net")
        legacy = out / "best_state.pt"  # runs checkpointed before best_net was inside
        if best_net is None and legacy.exists():
            best_net = torch.load(legacy, map_location="cpu", weights_only=True)
        if not quiet:
            print(f"resuming {out} at epoch {state['epoch']}")
    t0 = time.time() - state["elapsed"]
    if group.leader:
        _keep_metrics_until(out / METRICS, state["epoch"])
        log = (out / METRICS).open("a")
    for epoch in range(state["epoch"], cfg.epochs):
        if epoch <= cfg.lr_warmup_epochs:
            for g in opt.param_groups:
                g["lr"] = cfg.lr * _lr_factor(cfg, epoch)
        # Resumed epochs draw the same noise; each rank its own (rank 0's is a single run's).
        torch.manual_seed(cfg.seed * 100003 + epoch + 1_000_003 * group.rank)
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)  # the same order on all
        beta = _beta(cfg, epoch)
        tr = _run_epoch(
            step, data, data.split["train"], cfg, beta, opt, gen, device, f"epoch {epoch + 1}",
            group,
        )  # fmt: skip
        # Rank 0 validates with its batch-norm statistics (the ones the model keeps) and tells
        # the others, so that all step the learning rate and stop on the same epoch.
        va = None
        if group.leader:
            with torch.no_grad():
                va = _run_epoch(
                    distributed.LossModule(net), data, data.split["valid"], cfg, cfg.beta,
                    device=device,
                )  # fmt: skip
        va = distributed.broadcast(group, va)
        if epoch >= cfg.lr_warmup_epochs:
            plateau.step(va["loss"])
        improved = va["loss"] < state["best"] - 1e-6
        if improved:
            state.update(best=va["loss"], best_epoch=epoch, stale=0)
            best_net = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            state["stale"] += 1
        state["epoch"] = epoch + 1
        state["elapsed"] = distributed.broadcast(group, time.time() - t0)
        row = {
            "epoch": epoch + 1,
            "beta": beta,
            "lr": opt.param_groups[0]["lr"],
            "time_s": round(state["elapsed"], 2),
            **{f"train_{k}": round(v, 6) for k, v in tr.items()},
            **{f"valid_{k}": round(v, 6) for k, v in va.items()},
        }
        if group.leader:
            with atomic.replacing(ckpt_path, fsync=True) as tmp:
                torch.save({
                    "net": net.state_dict(),
                    "opt": opt.state_dict(),
                    "plateau": plateau.state_dict(),
                    "state": state,
                    "config": cfg.to_dict(),
                    "best_net": best_net,
                }, tmp)  # fmt: skip
            log.write(json.dumps(row) + "\n")
            log.flush()
        if not quiet:
            tqdm.write(
                f"epoch {epoch + 1}/{cfg.epochs}  train {tr['loss']:.4f}  valid {va['loss']:.4f}"
                f"  (mse {va['mse']:.4f} acc {va['acc']:.3f})" + ("  *" if improved else "")
            )
        if state["stale"] >= cfg.early_stop_patience:
            if not quiet:
                print(f"early stop: no improvement for {cfg.early_stop_patience} epochs")
            break
        if cfg.max_minutes and state["elapsed"] > cfg.max_minutes * 60:
            if not quiet:
                print(f"time budget of {cfg.max_minutes} min reached")
            break
    # The ranks part here: rank 0 alone chooses the dials and saves, which may take longer
    # than a collective's timeout.
    distributed.stop(group)
    if not group.leader:
        return None
    log.close()
    if best_net is None:
        raise RuntimeError(
            f"{out} has no best epoch to save (no epoch finished); train with more epochs"
        )
    net.load_state_dict(best_net)
    net = net.cpu().eval()
    model = SavedModel(
        net=net,
        cfg=cfg,
        spec=ds.spec,
        learn_spec=ds.learn_spec,
        synth_name=ds.synth_name,
        features=ds.features,
        notes=ds.notes,
        n_frames=int(n_frames),
        norm=data.norm,
        info={
            "dataset": str(ds.root),
            "dataset_size": len(ds),
            "split_seed": split_seed,
            "sampling": ds.manifest.get("sampling"),
            "best_epoch": state["best_epoch"] + 1,
            "epochs_run": state["epoch"],
            "best_valid_loss": state["best"],
            "train_minutes": round(state["elapsed"] / 60, 2),
            "device": device,
            "ranks": group.world,
        },
    )
    model.info["mean_preset"] = (
        model.mean_preset(data.v[data.split["train"]].numpy()).round(6).tolist()
    )
    if cfg.kind == "flow":
        model.macros = choose_dials(model, ds, data, data.x[data.split["train"]])
    # The matcher's retrieval index of the training sounds travels inside the model file.
    train_idx = data.split["train"]
    mels_db = data.x[train_idx].numpy() * data.norm["std"] + data.norm["mean"]
    learned = ds.learn_spec.decode(data.v[train_idx].numpy(), cfg.encoding)  # type: ignore[arg-type]
    model.extras.update(RetrievalIndex.build(mels_db, learned).to_tensors())
    model.save(out / MODEL)
    return model


def choose_dials(model: SavedModel, ds: Dataset, data: Prepared, x_train: torch.Tensor):
    """The start point and dials for ``model`` from its training split (``x_train``: the split's
    spectrograms normalized as the model reads them), listening through the dataset's synth."""
    tr = data.split["train"]
    return define_macros(model, x_train, data.v[tr], render=_renderer(ds),
                         descriptors={n: d[tr] for n, d in data.descriptors.items()})


def _renderer(ds: Dataset):
    """Learned presets -> audio of the dataset's first note, for choosing the dials; None when
    the dataset's synth cannot be built here (a plugin that is not installed): the dials are
    then chosen without listening."""
    try:
        synth = ds.synth()
    except (ValueError, OSError) as e:
        tqdm.write(f"dials chosen without rendering: {e}")
        return None
    note = ds.notes[0]

    def render(learned: np.ndarray) -> np.ndarray:
        full = ds.spec.expand(ds.learn_spec, learned)
        return synth.render(full, note, ds.features.sample_rate)

    return render
