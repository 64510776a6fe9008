"""`flowsynth eval`: the papers' metrics for a model on a held-out split."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a model.pt written by `flowsynth train`")
    p.add_argument("--data", required=True, help="dataset folder (same synth and subset)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N presets")
    p.add_argument(
        "--ood", default=None, metavar="DIR", help="also a folder of out-of-domain audio"
    )
    p.add_argument("--out", default=None, help="report folder (default: beside the model, eval/)")
    p.add_argument("--no-plot", action="store_true", help="skip the spectrogram PNG")
    p.add_argument("--match", type=float, default=None, metavar="S",
                   help="also score the matcher, S seconds a sound (renders with the synth)")


def command_line(args: argparse.Namespace) -> str:
    """The command that repeats this evaluation, every option spelled out (the report's
    record; relative paths are relative to where it ran)."""
    parts = ["flowsynth", "eval", "--model", args.model, "--data", args.data]
    parts += ["--split", args.split]
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    if args.ood:
        parts += ["--ood", args.ood]
    if args.out:
        parts += ["--out", args.out]
    if args.no_plot:
        parts.append("--no-plot")
    if args.match is not None:
        parts += ["--match", f"{args.match:g}"]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    from bridge.evaluate import evaluate, markdown_table

    if args.match is not None and not 0 < args.match <= 60:
        raise ValueError(f"--match {args.match}: give seconds a sound, above 0 and at most 60")
    out = Path(args.out) if args.out else Path(args.model).parent / "eval"
    result = evaluate(
        args.model,
        args.data,
        args.split,
        args.limit,
        args.ood,
        out,
        not args.no_plot,
        command=command_line(args),
        match_budget=args.match,
    )
    print(markdown_table(result["results"]))
    if "out_of_domain" in result:
        print("\nout of domain:")
        print(markdown_table({result["kind"]: result["out_of_domain"]["results"]}))
    print(f"\nwrote {out}/eval.json, eval.md" + ("" if args.no_plot else ", reconstructions.png"))
    return 0
