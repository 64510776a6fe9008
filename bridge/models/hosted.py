"""The one interface through which the server (and anything downstream) uses a model.

A training checkpoint and an exported TorchScript bundle both present themselves as a
``HostedModel``. All arrays are float32 numpy arrays with a leading batch dimension.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class HostedModel(Protocol):
    name: str  # what `/flowsynth/S/load` and `/flowsynth/models` call it
    synth_name: str  # a name `bridge.synth.get_synth` accepts
    param_names: list[str]  # the order of `/flowsynth/S/params`
    macro_names: list[str]  # one per macro (8 for a trained model)
    latent_dim: int
    sample_rate: int  # what latent_from_audio expects

    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        """[B, D] latent points -> [B, N] normalized parameter values in [0, 1]."""

    def latent_from_params(self, v: np.ndarray) -> np.ndarray:
        """[B, N] normalized presets -> [B, D] latent points (the inverse regression flow)."""

    def latent_from_macros(self, m: np.ndarray, base: np.ndarray) -> np.ndarray:
        """[B, M] dial values in [0, 1] and [B, D] base points -> [B, D]: the macro dimensions
        of ``base`` replaced by the latent values the dials stand for."""

    def macros_from_latent(self, z: np.ndarray) -> np.ndarray:
        """[B, D] -> [B, M] dial values in [0, 1], the inverse of latent_from_macros."""

    def latent_from_audio(self, audio: np.ndarray) -> np.ndarray:
        """[B, T] mono audio at ``sample_rate`` -> [B, D] latent points (posterior means)."""

    def center(self) -> np.ndarray:
        """[1, D] the start point: where a fresh slot, a load and a restart begin."""
