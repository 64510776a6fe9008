"""Convolutional spectrogram encoder and decoder, single- or multi-channel.

Multi-note inputs follow Le Vaillant et al. 2021 (section 4): one single-spectrogram encoder is
applied to each note's channel, the feature maps are stacked and mixed by a 1x1 convolution.
The decoder mirrors this.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_stack(channels: tuple[int, ...], kernel: int, transpose: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    pad = kernel // 2
    for i in range(len(channels) - 1):
        cin, cout = channels[i], channels[i + 1]
        if transpose:
            layers.append(
                nn.ConvTranspose2d(cin, cout, kernel, stride=2, padding=pad, output_padding=1)
            )
        else:
            layers.append(nn.Conv2d(cin, cout, kernel, stride=2, padding=pad))
        layers += [nn.BatchNorm2d(cout), nn.ELU()]
    return nn.Sequential(*layers)


def _reduced(size: int, n: int) -> int:
    for _ in range(n):
        size = (size + 1) // 2
    return size


class SpectrogramEncoder(nn.Module):
    """[B, C, M, F] normalized log-mels -> [B, out_features]."""

    def __init__(
        self,
        n_notes: int,
        n_mels: int,
        n_frames: int,
        channels: tuple[int, ...],
        kernel: int,
        out_features: int,
    ) -> None:
        super().__init__()
        self.n_notes = n_notes
        self.convs = _conv_stack((1,) + tuple(channels), kernel)
        c = channels[-1]
        self.mix = nn.Sequential(nn.Conv2d(c * n_notes, c, 1), nn.ELU())
        h, w = _reduced(n_mels, len(channels)), _reduced(n_frames, len(channels))
        self.flat = c * h * w
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(self.flat, out_features), nn.ELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, m, f = x.shape
        feats = self.convs(x.reshape(b * c, 1, m, f))
        feats = feats.reshape(b, c * feats.shape[1], feats.shape[2], feats.shape[3])
        return self.head(self.mix(feats))


class SpectrogramDecoder(nn.Module):
    """[B, D] -> [B, C, M, F] normalized log-mels."""

    def __init__(
        self,
        n_notes: int,
        n_mels: int,
        n_frames: int,
        channels: tuple[int, ...],
        kernel: int,
        in_features: int,
        hidden: int,
    ) -> None:
        super().__init__()
        self.n_notes, self.n_mels, self.n_frames = n_notes, n_mels, n_frames
        c = channels[-1]
        self.h, self.w = _reduced(n_mels, len(channels)), _reduced(n_frames, len(channels))
        self.c = c
        self.fc = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ELU(),
            nn.Linear(hidden, c * n_notes * self.h * self.w),
            nn.ELU(),
        )
        rev = tuple(reversed(channels))
        self.deconvs = _conv_stack(rev, kernel, transpose=True)
        self.out = nn.ConvTranspose2d(
            rev[-1], 1, kernel, stride=2, padding=kernel // 2, output_padding=1
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        x = self.fc(z).reshape(b * self.n_notes, self.c, self.h, self.w)
        x = self.out(self.deconvs(x))
        x = x[:, :, : self.n_mels, : self.n_frames]
        return x.reshape(b, self.n_notes, self.n_mels, self.n_frames)


class MLP(nn.Module):
    def __init__(
        self, sizes: list[int], dropout: float = 0.0, out_act: nn.Module | None = None
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers += [nn.BatchNorm1d(sizes[i + 1]), nn.ELU()]
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        if out_act is not None:
            layers.append(out_act)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
