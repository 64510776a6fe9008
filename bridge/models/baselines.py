"""Baselines trained on the same data, with the same parameter loss, evaluated the same way:
direct regressors (MLP and CNN, spectrogram -> parameters) and a VAE with an MLP regressor
(Esling et al. 2020, section 4.2, at a CPU-friendly size)."""

from __future__ import annotations

import torch
from torch import nn

from bridge.models.configs import ModelConfig
from bridge.models.flowsynth import _normal_logp
from bridge.models.nets import MLP, SpectrogramDecoder, SpectrogramEncoder
from bridge.models.param_loss import ParamLoss
from bridge.synth.spec import ParamSpec


class _Regressor(nn.Module):
    """Common loss and inference for models that map spectrograms straight to parameters."""

    param_loss: ParamLoss

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return self.param_loss.clamp(self.scores(x))

    def loss(self, x, v_encoded, tag_labels, beta) -> dict[str, torch.Tensor]:
        return self.param_loss(self.scores(x), v_encoded)


class MLPRegressor(_Regressor):
    def __init__(
        self, cfg: ModelConfig, spec: ParamSpec, n_notes: int, n_mels: int, n_frames: int
    ) -> None:
        super().__init__()
        d = spec.encoded_size(cfg.encoding)  # type: ignore[arg-type]
        sizes = [n_notes * n_mels * n_frames] + [cfg.hidden] * cfg.mlp_layers + [d]
        self.net = nn.Sequential(nn.Flatten(), MLP(sizes, cfg.dropout))
        self.param_loss = ParamLoss(spec, cfg.encoding, cfg.categorical_temperature)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNNRegressor(_Regressor):
    def __init__(
        self, cfg: ModelConfig, spec: ParamSpec, n_notes: int, n_mels: int, n_frames: int
    ) -> None:
        super().__init__()
        d = spec.encoded_size(cfg.encoding)  # type: ignore[arg-type]
        self.encoder = SpectrogramEncoder(
            n_notes, n_mels, n_frames, cfg.channels, cfg.kernel, cfg.hidden
        )
        self.head = MLP([cfg.hidden] * cfg.mlp_layers + [d], cfg.dropout)
        self.param_loss = ParamLoss(spec, cfg.encoding, cfg.categorical_temperature)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class VAEMLP(_Regressor):
    """A plain VAE (no flows) whose latent mean feeds a 2-layer MLP regressor."""

    def __init__(
        self, cfg: ModelConfig, spec: ParamSpec, n_notes: int, n_mels: int, n_frames: int
    ) -> None:
        super().__init__()
        d = spec.encoded_size(cfg.encoding)  # type: ignore[arg-type]
        self.latent_dim = d
        self.encoder = SpectrogramEncoder(
            n_notes, n_mels, n_frames, cfg.channels, cfg.kernel, cfg.hidden
        )
        self.to_mu = nn.Linear(cfg.hidden, d)
        self.to_logvar = nn.Linear(cfg.hidden, d)
        self.decoder = SpectrogramDecoder(
            n_notes, n_mels, n_frames, cfg.channels, cfg.kernel, d, cfg.hidden
        )
        self.head = MLP([d, cfg.hidden, d])
        self.param_loss = ParamLoss(spec, cfg.encoding, cfg.categorical_temperature)
        self.regression_weight = cfg.regression_weight

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.to_mu(self.encoder(x)))

    def loss(self, x, v_encoded, tag_labels, beta) -> dict[str, torch.Tensor]:
        h = self.encoder(x)
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-10, 6)
        std = torch.exp(0.5 * logvar)
        z = mu + std * torch.randn_like(std)
        kl = (_normal_logp(z, mu, std) - _normal_logp(z, 0.0, 1.0)).sum(-1).mean() / self.latent_dim
        recon = ((self.decoder(z) - x) ** 2).mean()
        reg = self.param_loss(self.head(z), v_encoded)
        total = recon + beta * kl + self.regression_weight * reg["loss"]
        return {
            "loss": total,
            "recon": recon,
            "kl": kl,
            "mse": reg["mse"],
            "ce": reg["ce"],
            "acc": reg["acc"],
        }
