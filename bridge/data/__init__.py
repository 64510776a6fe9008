"""Datasets: rendering a synth's presets to sharded files, reading them back, tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Presets per shard file: the unit of parallel work and of resuming. Small enough that the
# README's 256-preset run spreads over several workers and a killed run loses little, large
# enough that per-shard costs stay small (docs/dataset.md has the measured overhead). Kept
# here, away from torch, so `flowsynth --help` does not import it.
DEFAULT_SHARD_SIZE = 64

if TYPE_CHECKING:
    from bridge.data.dataset import Dataset

__all__ = ["DEFAULT_SHARD_SIZE", "Dataset"]


def __getattr__(name: str) -> Any:
    # Dataset pulls in torch (through the feature code); import it only when asked for.
    if name == "Dataset":
        from bridge.data.dataset import Dataset

        return Dataset
    raise AttributeError(f"module 'bridge.data' has no attribute {name!r}")
