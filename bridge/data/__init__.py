"""Datasets: rendering a synth's presets to sharded files, reading them back, tags."""

from bridge.data.dataset import Dataset

__all__ = ["Dataset"]
