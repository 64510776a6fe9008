"""`flowsynth train`: train a model on a rendered dataset."""

from __future__ import annotations

import argparse
import json

from bridge.models.configs import CONFIGS, ModelConfig, get_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset folder made by `flowsynth render`")
    p.add_argument("--config", default="default", help=f"named config: {', '.join(CONFIGS)}")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics.jsonl, model.pt")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set epochs=20 --set encoding=num (repeatable)",
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/valid/test split")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    p.add_argument(
        "--ddp",
        action="store_true",
        help="one rank of a multi-process run started by `torchrun --nproc-per-node N -m "
        "bridge.cli train ... --ddp` (docs/scale.md); each batch is split across the ranks",
    )


def parse_overrides(pairs: list[str]) -> dict:
    defaults = ModelConfig().to_dict()
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set {pair!r}: write KEY=VALUE")
        key, raw = pair.split("=", 1)
        if key not in defaults:
            raise ValueError(f"--set {key}: no such config key; known: {', '.join(defaults)}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if isinstance(defaults[key], list):
            items = value if isinstance(value, list) else [v for v in str(value).split(",") if v]
            cast = type(defaults[key][0]) if defaults[key] else str
            try:
                value = tuple(cast(v) for v in items)
            except ValueError as e:
                raise ValueError(f"--set {key}: {e}") from e
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    import torch

    from bridge.train import train

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = get_config(args.config, **parse_overrides(args.set))
    model = train(
        args.data,
        cfg,
        args.out,
        resume=args.resume,
        device=args.device,
        split_seed=args.split_seed,
        ddp=args.ddp,
    )
    if model is None:  # a DDP rank other than 0: rank 0 saved the model and reports it
        return 0
    print(
        f"saved {args.out}/model.pt (best epoch {model.info['best_epoch']}, "
        f"{model.info['train_minutes']} min)"
    )
    if model.macros:
        print("macros: " + ", ".join(model.macros.names))
    print(f"evaluate it: flowsynth eval --model {args.out}/model.pt --data {args.data}")
    return 0
