"""The parameter loss shared by the regression flow and every baseline, so they compare fairly.

On an encoded preset (num / numcat / numcat++), numerical columns get a mean squared error and
each one-hot group a cross-entropy on its scores divided by a temperature (0.2 in Le Vaillant
et al. 2021); each part is averaged over its own dimension before they are summed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bridge.synth.spec import ParamSpec


class ParamLoss(nn.Module):
    def __init__(self, spec: ParamSpec, encoding: str, temperature: float = 0.2) -> None:
        super().__init__()
        layout = spec.layout(encoding)  # type: ignore[arg-type]
        num = [s.start for s in layout if s.width == 1]
        self.register_buffer("num_idx", torch.tensor(num, dtype=torch.long))
        # Groups of equal width are batched together: one cross-entropy call per width.
        by_width: dict[int, list[int]] = {}
        for s in layout:
            if s.width > 1:
                by_width.setdefault(s.width, []).append(s.start)
        self.widths = sorted(by_width)
        for w in self.widths:
            idx = torch.tensor([[st + j for j in range(w)] for st in by_width[w]], dtype=torch.long)
            self.register_buffer(f"cat_idx_{w}", idx)
        self.n_groups = sum(len(v) for v in by_width.values())
        self.temperature = temperature
        self.size = spec.encoded_size(encoding)  # type: ignore[arg-type]

    def _groups(self, v: torch.Tensor):
        for w in self.widths:
            idx = getattr(self, f"cat_idx_{w}")
            yield v[:, idx]  # [B, G, w]

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        zero = pred.new_zeros(())
        out["mse"] = (
            F.mse_loss(pred[:, self.num_idx], target[:, self.num_idx])
            if len(self.num_idx)
            else zero
        )
        if self.n_groups:
            ce, acc, n = zero, zero, 0
            for p, t in zip(self._groups(pred), self._groups(target), strict=False):
                logits = p / self.temperature
                labels = t.argmax(-1)
                ce = ce + F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum"
                )
                acc = acc + (logits.argmax(-1) == labels).float().sum()
                n += labels.numel()
            out["ce"] = ce / n
            out["acc"] = acc / n
        else:
            out["ce"] = zero
            out["acc"] = zero
        out["loss"] = out["mse"] + out["ce"]
        return out

    def clamp(self, v: torch.Tensor) -> torch.Tensor:
        """Numerical columns into [0, 1]; one-hot scores are left for argmax."""
        v = v.clone()
        if len(self.num_idx):
            v[:, self.num_idx] = v[:, self.num_idx].clamp(0.0, 1.0)
        return v
