"""A saved training model presented through the HostedModel interface (numpy in, numpy out)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bridge.models.macros import DialMaths
from bridge.models.saved import SavedModel


class CheckpointModel:
    """HostedModel over a SavedModel with a flow (kind ``flow``)."""

    def __init__(self, model: SavedModel, name: str | None = None) -> None:
        if model.cfg.kind != "flow" or model.macros is None:
            raise ValueError(
                f"a {model.cfg.kind!r} model has no invertible latent space to host; "
                "serve a flow model (config default, esling2020 or levaillant2021)"
            )
        self.model = model
        self.net = model.net.eval()
        self.name = name or "model"
        self.synth_name = model.synth_name
        self.param_names = model.learn_spec.names
        # The synth's whole spec as trained: a render completes the learned parameters with
        # the others' training values (bridge.server.osc_server.complete_preset).
        self.full_spec = model.spec
        self.macro_names = list(model.macros.names)
        self.latent_dim = model.latent_dim
        self.sample_rate = model.features.sample_rate
        self._dials = DialMaths(model.macros)

    @staticmethod
    def load(path: str | Path, name: str | None = None) -> CheckpointModel:
        return CheckpointModel(SavedModel.load(path), name or Path(path).stem)

    @torch.no_grad()
    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        v = self.net.params_from_latent(torch.as_tensor(np.asarray(z, np.float32)))
        return self.model.decode_params(v)

    @torch.no_grad()
    def latent_from_params(self, v: np.ndarray) -> np.ndarray:
        enc = self.model.learn_spec.encode(np.asarray(v, np.float32), self.model.cfg.encoding)  # type: ignore[arg-type]
        return self.net.latent_from_params(torch.from_numpy(enc)).numpy()

    def latent_from_macros(self, m: np.ndarray, base: np.ndarray) -> np.ndarray:
        return self._dials.latent_from_macros(m, base)

    def macros_from_latent(self, z: np.ndarray) -> np.ndarray:
        return self._dials.macros_from_latent(z)

    @torch.no_grad()
    def latent_from_audio(self, audio: np.ndarray) -> np.ndarray:
        """Audio is cut or zero-padded to the training notes' length; a multi-note model sees the
        same sketch on every note channel."""
        a = np.asarray(audio, np.float32)
        x = self.model.normalize(self.model.audio_features(a[None] if a.ndim == 1 else a))
        return self.net.latent(x)[0].numpy()

    def center(self) -> np.ndarray:
        """[1, D] the start point (bridge.models.macros): a typical training preset's latent."""
        return self._dials.start()
