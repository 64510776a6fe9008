"""`flowsynth ood-set`: make the out-of-domain evaluation sounds (docs/ood_set.md)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from bridge.data.ood_set import add_arguments as ood_arguments

    ood_arguments(p)


def run(args: argparse.Namespace) -> int:
    from bridge.data.ood_set import run as make

    return make(args)
