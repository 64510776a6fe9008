"""A parameter spec's encode/decode as a scriptable module (bridge/synth/spec.py in torch).

Decoding turns the regression flow's scores into host-ready normalized values: numerical
columns clipped to [0, 1] and snapped to their steps, one-hot groups argmaxed to k/(steps-1).
It runs in float64, as ParamSpec does in numpy, so the exported file and CheckpointModel give
bit-identical values for the same scores.
"""

from __future__ import annotations

import torch
from torch import nn

from bridge.synth.spec import Encoding, ParamSpec


class ParamCodec(nn.Module):
    def __init__(self, spec: ParamSpec, encoding: Encoding) -> None:
        super().__init__()
        layout = spec.layout(encoding)
        self.n_params = len(spec)
        self.size = spec.encoded_size(encoding)
        num = [s for s in layout if s.width == 1]
        cat = [s for s in layout if s.width > 1]
        steps = [spec.params[s.index].steps for s in num]
        self.register_buffer("num_col", torch.tensor([s.start for s in num], dtype=torch.long))
        self.register_buffer("num_out", torch.tensor([s.index for s in num], dtype=torch.long))
        self.register_buffer("num_discrete", torch.tensor([n >= 2 for n in steps]))
        # Continuous columns get a harmless divisor of 1; torch.where keeps them unsnapped.
        self.register_buffer(
            "num_div", torch.tensor([max(n - 1, 1) for n in steps], dtype=torch.float64)
        )
        # Groups of any width, padded to the widest: padding points at an extra -inf column.
        wmax = max([s.width for s in cat], default=1)
        pad = self.size
        cols = [[s.start + j if j < s.width else pad for j in range(wmax)] for s in cat]
        self.register_buffer(
            "cat_cols", torch.tensor(cols, dtype=torch.long).reshape(len(cat), wmax)
        )
        self.register_buffer("cat_start", torch.tensor([s.start for s in cat], dtype=torch.long))
        self.register_buffer("cat_out", torch.tensor([s.index for s in cat], dtype=torch.long))
        self.register_buffer(
            "cat_div", torch.tensor([s.width - 1 for s in cat], dtype=torch.float64)
        )

    def clamp_scores(self, v: torch.Tensor) -> torch.Tensor:
        """Numerical columns into [0, 1], one-hot scores untouched (ParamLoss.clamp)."""
        out = v.clone()
        out[:, self.num_col] = v[:, self.num_col].clamp(0.0, 1.0)
        return out

    def _snap(self, u: torch.Tensor) -> torch.Tensor:
        u = u.clamp(0.0, 1.0)
        return torch.where(self.num_discrete, torch.round(u * self.num_div) / self.num_div, u)

    def decode(self, scores: torch.Tensor) -> torch.Tensor:
        """[B, size] scores -> [B, n_params] float32 normalized values."""
        enc = scores.to(torch.float64)
        b = enc.shape[0]
        out = torch.empty(b, self.n_params, dtype=torch.float64, device=enc.device)
        out[:, self.num_out] = self._snap(enc[:, self.num_col])
        padded = torch.cat([enc, torch.full_like(enc[:, :1], -float("inf"))], 1)
        k = padded[:, self.cat_cols].argmax(-1)  # first maximum on ties, as numpy
        out[:, self.cat_out] = k.to(torch.float64) / self.cat_div
        return out.to(torch.float32)

    def encode(self, values: torch.Tensor) -> torch.Tensor:
        """[B, n_params] normalized values -> [B, size] float32 learnable vectors."""
        v = values.to(torch.float64)
        b = v.shape[0]
        out = torch.zeros(b, self.size, dtype=torch.float32, device=v.device)
        out[:, self.num_col] = self._snap(v[:, self.num_out]).to(torch.float32)
        k = torch.round(v[:, self.cat_out].clamp(0.0, 1.0) * self.cat_div).to(torch.long)
        out.scatter_(1, self.cat_start.unsqueeze(0) + k, 1.0)
        return out
