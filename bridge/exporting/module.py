"""The exported model: one scriptable module with the host methods and its own metadata.

Every method takes and returns float32 tensors with a leading batch dimension of any size:
    params_from_latent(z[B, D]) -> v[B, N]    decoded, host-ready normalized values in [0, 1]
    param_scores(z[B, D])       -> s[B, E]    the regression flow's raw encoded scores
    latent_from_params(v[B, N]) -> z[B, D]    encode, then the inverse regression flow
    latent_from_macros(m[B, 8], base[B, D]) -> z[B, D]
    macros_from_latent(z[B, D]) -> m[B, 8]
    latent_from_audio(audio[B, T]) -> z[B, D] mel front end, encoder mean, posterior flows
    center()                    -> z[1, D]    the start point: a fresh slot, a load, a restart
    metadata()                  -> str        the sidecar's JSON facts
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from bridge.audio.features import MelSpectrogram
from bridge.exporting.codec import ParamCodec
from bridge.exporting.flows import convert_flow
from bridge.models.flowsynth import FlowSynth
from bridge.models.saved import SavedModel


class ExportedFlowSynth(nn.Module):
    def __init__(self, model: SavedModel, metadata: str) -> None:
        super().__init__()
        net = model.net
        if not isinstance(net, FlowSynth) or model.macros is None:
            raise ValueError(
                f"only flow models with macros export (this one is {model.cfg.kind!r}); "
                "train with config default, esling2020 or levaillant2021"
            )
        net = net.eval()
        self.meta_json = metadata
        self.latent_dim = int(model.latent_dim)
        self.n_params = len(model.learn_spec)
        self.n_samples = int(round(model.notes[0].duration * model.features.sample_rate))
        self.n_notes = len(model.notes)
        self.norm_mean = float(model.norm["mean"])
        self.norm_std = float(model.norm["std"])
        self.mel = MelSpectrogram(model.features)
        self.encoder = copy.deepcopy(net.encoder).eval()
        self.to_mu = copy.deepcopy(net.to_mu).eval()
        self.posterior = convert_flow(net.posterior)
        self.disentangle = convert_flow(net.disentangle)
        self.regression = convert_flow(net.regression)
        self.codec = ParamCodec(model.learn_spec, model.cfg.encoding)  # type: ignore[arg-type]
        m = model.macros
        self.n_macros = m.n
        # Dial maths in float64 like macros.DialMaths, so values match to the last bit.
        self.register_buffer("macro_basis", torch.tensor(m.basis, dtype=torch.float64))
        self.register_buffer("macro_dual", torch.tensor(m.dual, dtype=torch.float64))
        self.register_buffer("macro_low", torch.tensor(m.low, dtype=torch.float64))
        span = [h - lo for h, lo in zip(m.high, m.low, strict=True)]
        self.register_buffer("macro_span", torch.tensor(span, dtype=torch.float64))
        self.register_buffer("origin64", torch.tensor(m.origin, dtype=torch.float64)[None])
        self.register_buffer("origin", torch.tensor(m.origin, dtype=torch.float32)[None])
        self.requires_grad_(False)

    @torch.jit.export
    def metadata(self) -> str:
        return self.meta_json

    @torch.jit.export
    def param_scores(self, z: torch.Tensor) -> torch.Tensor:
        return self.codec.clamp_scores(self.regression(z))

    @torch.jit.export
    def params_from_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.codec.decode(self.regression(z))

    @torch.jit.export
    def latent_from_params(self, v: torch.Tensor) -> torch.Tensor:
        return self.regression.inverse(self.codec.encode(v))

    @torch.jit.export
    def latent_from_macros(self, m: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        target = self.macro_low + self.macro_span * m.to(torch.float64).clamp(0.0, 1.0)
        b = base.to(torch.float64)
        z = b + (target - (b - self.origin64) @ self.macro_dual.T) @ self.macro_basis
        return z.to(torch.float32)

    @torch.jit.export
    def macros_from_latent(self, z: torch.Tensor) -> torch.Tensor:
        c = (z.to(torch.float64) - self.origin64) @ self.macro_dual.T
        return ((c - self.macro_low) / self.macro_span).clamp(0.0, 1.0).to(torch.float32)

    @torch.jit.export
    def latent_from_audio(self, audio: torch.Tensor) -> torch.Tensor:
        # Cut or zero-pad to the training notes' length, as CheckpointModel does.
        n = min(self.n_samples, audio.shape[1])
        fixed = torch.zeros(audio.shape[0], self.n_samples, dtype=torch.float32)
        fixed[:, :n] = audio[:, :n].to(torch.float32)
        mel = self.mel(fixed).unsqueeze(1).repeat(1, self.n_notes, 1, 1)
        x = (mel - self.norm_mean) / self.norm_std
        z = self.to_mu(self.encoder(x))
        return self.disentangle(self.posterior(z))

    @torch.jit.export
    def center(self) -> torch.Tensor:
        return self.origin.clone()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.params_from_latent(z)
