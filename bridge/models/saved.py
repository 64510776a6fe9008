"""A saved model: one file holding weights, parameter spec, feature settings, normalization
statistics, macro definitions and the training config.

The file is a torch archive of tensors plus one JSON string, so it loads with
``torch.load(weights_only=True)``: opening a model never runs pickled code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bridge import atomic
from bridge.audio.features import FeatureConfig, log_mel
from bridge.models.baselines import VAEMLP, CNNRegressor, MLPRegressor
from bridge.models.configs import ModelConfig
from bridge.models.flowsynth import FlowSynth
from bridge.synth.base import Note
from bridge.synth.spec import ParamSpec

FORMAT = "flowsynth-model"
VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a flowsynth model, or a damaged one."""


def build_net(
    cfg: ModelConfig, learn_spec: ParamSpec, n_notes: int, n_mels: int, n_frames: int
) -> nn.Module:
    classes = {"flow": FlowSynth, "mlp": MLPRegressor, "cnn": CNNRegressor, "vae_mlp": VAEMLP}
    return classes[cfg.kind](cfg, learn_spec, n_notes, n_mels, n_frames)


@dataclass
class Macros:
    """The 8 dials: each moves the latent point along its own direction, and its [0, 1] maps
    linearly onto a stretch of that direction taken from where training sounds live.

    A dial's coordinate of a latent point z is ``dual[k] . (z - origin)``; ``dual`` is the
    pseudo-inverse of ``basis`` (kept in the file so that every host reads the same numbers),
    so turning one dial moves z along ``basis[k]`` and leaves the other dials' coordinates
    where they were. Dial value u stands for the coordinate ``low + (high - low) u``.
    ``origin`` is the start point: where a fresh slot, a load and a restart begin (a training
    preset's latent, so it decodes to a preset the synth really has); each dial shows where
    it sits on that dial rather than 0.5.
    """

    names: list[str]
    basis: list[list[float]]  # [K][D] latent direction of each dial
    dual: list[list[float]]  # [K][D] rows with dual[i] . basis[j] = (i == j)
    low: list[float]  # [K] coordinate at dial 0
    high: list[float]  # [K] coordinate at dial 1
    origin: list[float]  # [D] the start point

    def to_dict(self) -> dict:
        return {
            "version": 2,
            "names": self.names,
            "basis": self.basis,
            "dual": self.dual,
            "low": self.low,
            "high": self.high,
            "origin": self.origin,
        }

    @staticmethod
    def from_dict(d: dict) -> Macros:
        if d.get("version", 1) >= 2:
            return Macros(
                list(d["names"]),
                [list(r) for r in d["basis"]],
                [list(r) for r in d["dual"]],
                list(d["low"]),
                list(d["high"]),
                list(d["origin"]),
            )
        return Macros.from_axes(
            list(d["dims"]), list(d["names"]), list(d["center"]), list(d["scale"]),
            list(d["origin"]), float(d["eps"]),
        )

    @staticmethod
    def from_axes(dims: list[int], names: list[str], center: list[float], scale: list[float],
                  origin: list[float], eps: float = 0.01) -> Macros:
        """Dials along latent axes, as models saved before version 2 stored them (centre and
        normal-quantile scale): the same axes and end points, reached linearly; the start point
        is the old one (the origin with each dial's axis at its centre)."""
        from scipy.special import ndtri

        d = len(origin)
        start = list(map(float, origin))
        for i, c in zip(dims, center, strict=True):
            start[i] = float(c)
        basis = [[1.0 if j == i else 0.0 for j in range(d)] for i in dims]
        reach = float(ndtri(1 - eps))
        return Macros(
            list(names), basis, [list(r) for r in basis],
            [-reach * float(s) for s in scale], [reach * float(s) for s in scale], start,
        )

    @property
    def n(self) -> int:
        return len(self.names)


@dataclass
class SavedModel:
    net: nn.Module
    cfg: ModelConfig
    spec: ParamSpec  # the synth's full spec
    learn_spec: ParamSpec  # the parameters the model predicts (a subset, or all)
    synth_name: str
    features: FeatureConfig
    notes: list[Note]
    n_frames: int
    norm: dict[str, float]  # log-mel normalization from the training split
    macros: Macros | None = None
    info: dict = field(default_factory=dict)  # dataset, split, training summary
    # Tensors that travel with the model but are not weights (a retrieval index): stored
    # beside the state dict so that older readers, which ignore the key, still load the file.
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    path: Path | None = None  # the file it was loaded from (None when built in memory)

    @property
    def latent_dim(self) -> int:
        return self.learn_spec.encoded_size(self.cfg.encoding)  # type: ignore[arg-type]

    def meta(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "config": self.cfg.to_dict(),
            "spec": self.spec.to_dict(),
            "learn": self.learn_spec.names,
            "synth": self.synth_name,
            "features": self.features.to_dict(),
            "notes": [n.to_dict() for n in self.notes],
            "n_frames": self.n_frames,
            "norm": self.norm,
            "macros": self.macros.to_dict() if self.macros else None,
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write atomically: a temporary file in the same folder, then a rename."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in self.net.state_dict().items()}
        blob = {"flowsynth_meta": json.dumps(self.meta()), "state_dict": state}
        if self.extras:
            blob["extras"] = {k: v.detach().cpu() for k, v in self.extras.items()}
        with atomic.replacing(path, fsync=True) as tmp:
            torch.save(blob, tmp)
        return path

    @staticmethod
    def load(path: str | Path, map_location: str = "cpu") -> SavedModel:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no model file at {path}; train one with `flowsynth train` or omit --model"
            )
        try:
            blob = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e:  # torch raises many types for foreign or damaged files
            raise ModelFileError(
                f"{path} is not a readable flowsynth model ({type(e).__name__}); "
                "it may be damaged or another program's file"
            ) from e
        if not isinstance(blob, dict) or "flowsynth_meta" not in blob or "state_dict" not in blob:
            raise ModelFileError(f"{path} is a torch file but not a flowsynth model")
        try:
            meta = json.loads(blob["flowsynth_meta"])
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"{path}: format {meta.get('format')!r} is not {FORMAT}")
            if int(meta.get("version", 0)) > VERSION:
                raise ModelFileError(f"{path} was written by a newer flowsynth; upgrade to load it")
            # Models saved before bounded couplings existed used nflows' sigmoid scale.
            # Loss terms added later were off for models saved without them.
            old = {"coupling_bound": 0.0, "inverse_weight": 0.0, "morph_weight": 0.0}
            cfg = ModelConfig.from_dict({**old, "onehot_weight": 0.0, **meta["config"]})
            spec = ParamSpec.from_dict(meta["spec"])
            learn_spec = spec.subset(meta["learn"])
            features = FeatureConfig.from_dict(meta["features"])
            notes = [Note(**n) for n in meta["notes"]]
            model = SavedModel(
                net=build_net(cfg, learn_spec, len(notes), features.n_mels, int(meta["n_frames"])),
                cfg=cfg,
                spec=spec,
                learn_spec=learn_spec,
                synth_name=meta["synth"],
                features=features,
                notes=notes,
                n_frames=int(meta["n_frames"]),
                norm=meta["norm"],
                macros=Macros.from_dict(meta["macros"]) if meta.get("macros") else None,
                info=meta.get("info", {}),
            )
            model.net.load_state_dict(blob["state_dict"])
            extras = blob.get("extras") or {}
            if not isinstance(extras, dict) or not all(
                isinstance(v, torch.Tensor) for v in extras.values()
            ):
                raise ModelFileError(f"{path}: damaged flowsynth model (extras are not tensors)")
            model.extras = dict(extras)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelFileError(f"{path}: damaged flowsynth model ({e})") from e
        model.net.eval()
        model.path = path.resolve()
        return model

    # --- numpy conveniences used by evaluation, plots and the hosted interface --------------
    def normalize(self, mels_db: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(mels_db, dtype=np.float32))
        return (x - self.norm["mean"]) / self.norm["std"]

    def decode_params(self, v_scores: torch.Tensor | np.ndarray) -> np.ndarray:
        """Encoded scores -> [B, N_learn] normalized values of the learned parameters."""
        v = v_scores.detach().cpu().numpy() if isinstance(v_scores, torch.Tensor) else v_scores
        return self.learn_spec.decode(v, self.cfg.encoding)  # type: ignore[arg-type]

    @property
    def note_samples(self) -> int:
        """Samples in one training note: the audio length the encoder expects."""
        return int(round(self.notes[0].duration * self.features.sample_rate))

    def fit_to_note(self, audio: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Clips ([B, T] or a list of 1-D arrays) cut or zero-padded to the training notes'
        length: [B, n] float32."""
        clips = [np.asarray(a, np.float32).reshape(-1) for a in audio]
        n = self.note_samples
        out = np.zeros((len(clips), n), np.float32)
        for i, a in enumerate(clips):
            out[i, : min(n, len(a))] = a[:n]
        return out

    def audio_features(self, audio: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Any audio -> the log-mels (dB) the model reads, [B, C, M, F]: a multi-note model
        sees the same sound on every note channel."""
        mel = log_mel(self.fit_to_note(audio), self.features)[:, None]
        return np.repeat(mel, len(self.notes), axis=1)

    def mean_preset(self, v_encoded: np.ndarray) -> np.ndarray:
        """The mean of encoded presets, decoded: the trivial baseline every model must beat."""
        return self.decode_params(np.asarray(v_encoded).mean(0, keepdims=True))[0]

    def full_presets(self, learn_norm: np.ndarray) -> np.ndarray:
        """Learned values -> complete presets for the synth (other parameters at defaults)."""
        return self.spec.expand(self.learn_spec, learn_norm)
