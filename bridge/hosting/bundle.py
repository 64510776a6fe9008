"""An exported TorchScript bundle presented through the HostedModel interface.

Only ``torch.jit.load`` and the sidecar JSON are used: the bundle's own methods do everything,
including the spec decode, so what the server answers is what a C++ or nn~ host computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bridge.export import MODEL_FILE, read_sidecar
from bridge.synth.spec import ParamSpec


class BundleModel:
    """HostedModel over a folder written by `flowsynth export`."""

    def __init__(self, module: torch.jit.ScriptModule, meta: dict, name: str | None = None) -> None:
        self.module = module.eval()
        self.meta = meta
        self.name = name or meta["name"]
        self.synth_name = meta["synth"]
        self.param_names = list(meta["param_names"])
        # The synth's whole spec as trained (renders complete a learned subset with it).
        self.full_spec = ParamSpec.from_dict(meta["spec"]) if "spec" in meta else None
        self.macro_names = list(meta["macros"]["names"])
        self.latent_dim = int(meta["latent_dim"])
        self.sample_rate = int(meta["sample_rate"])

    @staticmethod
    def load(path: str | Path, name: str | None = None) -> BundleModel:
        """A bundle folder, or its model.ts (the sidecar must lie beside it)."""
        folder = Path(path)
        if folder.is_file():
            folder = folder.parent
        meta = read_sidecar(folder)
        try:
            module = torch.jit.load(str(folder / MODEL_FILE), map_location="cpu")
        except Exception as e:  # torch raises many types for damaged or foreign files
            raise ValueError(f"{folder / MODEL_FILE} is not a loadable TorchScript file "
                             f"({type(e).__name__}); export the bundle again") from e
        return BundleModel(module, meta, name or folder.name)

    @staticmethod
    def _t(a: np.ndarray) -> torch.Tensor:
        a = np.asarray(a, np.float32)
        return torch.from_numpy(np.ascontiguousarray(a[None] if a.ndim == 1 else a))

    @torch.inference_mode()
    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        return self.module.params_from_latent(self._t(z)).numpy()

    @torch.inference_mode()
    def param_scores(self, z: np.ndarray) -> np.ndarray:
        """The regression flow's raw encoded scores (numerical columns clamped to [0, 1])."""
        return self.module.param_scores(self._t(z)).numpy()

    @torch.inference_mode()
    def latent_from_params(self, v: np.ndarray) -> np.ndarray:
        return self.module.latent_from_params(self._t(v)).numpy()

    @torch.inference_mode()
    def latent_from_macros(self, m: np.ndarray, base: np.ndarray) -> np.ndarray:
        return self.module.latent_from_macros(self._t(m), self._t(base)).numpy()

    @torch.inference_mode()
    def macros_from_latent(self, z: np.ndarray) -> np.ndarray:
        return self.module.macros_from_latent(self._t(z)).numpy()

    @torch.inference_mode()
    def latent_from_audio(self, audio: np.ndarray) -> np.ndarray:
        return self.module.latent_from_audio(self._t(audio)).numpy()

    @torch.inference_mode()
    def center(self) -> np.ndarray:
        return self.module.center().numpy()


def is_bundle(path: str | Path) -> bool:
    """True for a bundle folder or a model.ts with a sidecar beside it (for the registry)."""
    p = Path(path)
    folder = p.parent if p.is_file() else p
    return (folder / "model.json").is_file() and (folder / MODEL_FILE).is_file()


def load_bundle(path: str | Path, name: str | None = None) -> BundleModel:
    return BundleModel.load(path, name)
