"""Scriptable flow layers built from nflows transforms, holding copies of their weights.

Only what FlowSynth builds is supported (bridge/models/flows.py): AffineCouplingTransform with
an nflows ResidualNet, MaskedAffineAutoregressiveTransform with residual MADE blocks, and
ReversePermutation. Anything else raises, so an export never silently drops a layer.
Each layer performs the same floating-point operations as nflows, in the same order, so the
exported model matches the eager one to rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from nflows.nn.nets import ResidualNet
from nflows.transforms import CompositeTransform, Permutation, Transform
from nflows.transforms.autoregressive import MaskedAffineAutoregressiveTransform
from nflows.transforms.coupling import AffineCouplingTransform
from torch import nn


class ResBlock(nn.Module):
    """relu -> linear -> relu -> linear, plus the input (nflows' block without context)."""

    def __init__(self, first: nn.Linear, second: nn.Linear) -> None:
        super().__init__()
        self.first = first
        self.second = second

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.second(F.relu(self.first(F.relu(x))))


class ResNet(nn.Module):
    def __init__(self, initial: nn.Linear, blocks: list[ResBlock], final: nn.Linear) -> None:
        super().__init__()
        self.initial = initial
        self.blocks = nn.ModuleList(blocks)
        self.final = final

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.initial(x)
        for block in self.blocks:
            h = block(h)
        return self.final(h)


def _linear(src: nn.Linear) -> nn.Linear:
    """A plain Linear with src's weights; a MaskedLinear's mask is baked in once
    (w * 1 = w and w * 0 = 0 exactly, as when nflows applies it at every call)."""
    out = nn.Linear(src.in_features, src.out_features, bias=src.bias is not None)
    mask = getattr(src, "mask", None)
    with torch.no_grad():
        out.weight.copy_(src.weight * mask if mask is not None else src.weight)
        if src.bias is not None:
            out.bias.copy_(src.bias)
    return out.requires_grad_(False)


def _resnet(net: nn.Module) -> ResNet:
    if not isinstance(net, ResidualNet) or net.context_features is not None:
        raise TypeError(f"cannot export a coupling net of type {type(net).__name__}")
    blocks = []
    for b in net.blocks:
        if b.use_batch_norm or b.activation is not F.relu or b.dropout.p != 0:
            raise TypeError("only ReLU residual blocks without batch norm or dropout export")
        blocks.append(ResBlock(_linear(b.linear_layers[0]), _linear(b.linear_layers[1])))
    return ResNet(_linear(net.initial_layer), blocks, _linear(net.final_layer))


class Coupling(nn.Module):
    """Affine coupling: the transformed half is scaled (bounded exp-tanh, or nflows' sigmoid)
    and shifted."""

    def __init__(self, t: AffineCouplingTransform) -> None:
        super().__init__()
        if t.unconditional_transform is not None:
            raise TypeError("coupling layers with an unconditional transform do not export")
        self.register_buffer("identity", t.identity_features.clone())
        self.register_buffer("transform", t.transform_features.clone())
        self.n = int(t.num_transform_features)
        self.net = _resnet(t.transform_net)
        # BoundedAffineCoupling's exp(bound * tanh(s)); 0 means nflows' own sigmoid scale.
        self.bound = float(getattr(t, "scale_bound", 0.0))

    def _scale_shift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        kept = x.index_select(1, self.identity)
        p = self.net(kept)
        if self.bound > 0:
            scale = torch.exp(self.bound * torch.tanh(p[:, self.n :]))
        else:
            scale = torch.sigmoid(p[:, self.n :] + 2) + 1e-3
        return kept, scale, p[:, : self.n]

    def _assemble(self, x: torch.Tensor, kept: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        out.index_copy_(1, self.identity, kept)
        out.index_copy_(1, self.transform, moved)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept, scale, shift = self._scale_shift(x)
        return self._assemble(x, kept, x.index_select(1, self.transform) * scale + shift)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        kept, scale, shift = self._scale_shift(x)
        return self._assemble(x, kept, (x.index_select(1, self.transform) - shift) / scale)


class MaskedAffine(nn.Module):
    """One IAF step: MADE gives (unconstrained scale, shift) per feature from the inputs,
    outputs = (softplus(s) + 1e-3) * x + shift, all features in one pass."""

    def __init__(self, t: MaskedAffineAutoregressiveTransform) -> None:
        super().__init__()
        made = t.autoregressive_net
        if not made.use_residual_blocks:
            raise TypeError("only residual MADE networks export")
        blocks = []
        for b in made.blocks:
            if b.use_batch_norm or b.activation is not F.relu or b.dropout.p != 0:
                raise TypeError("only ReLU MADE blocks without batch norm or dropout export")
            blocks.append(ResBlock(_linear(b.linear_layers[0]), _linear(b.linear_layers[1])))
        self.net = ResNet(_linear(made.initial_layer), blocks, _linear(made.final_layer))
        self.features = int(t.features)
        self.eps = float(t._epsilon)

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.net(x).view(-1, self.features, 2)
        return F.softplus(p[..., 0]) + self.eps, p[..., 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, shift = self._params(x)
        return scale * x + shift

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        # Sequential: feature i needs the outputs before it (D passes, as nflows does).
        out = torch.zeros_like(x)
        for _ in range(self.features):
            scale, shift = self._params(out)
            out = (x - shift) / scale
        return out


class Permute(nn.Module):
    def __init__(self, t: Permutation) -> None:
        super().__init__()
        self.register_buffer("perm", t._permutation.clone())
        self.register_buffer("inv", torch.argsort(t._permutation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, self.perm)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, self.inv)


class Flow(nn.Module):
    """A stack of layers; empty for a model without this flow (then it is the identity)."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        # Reversed order for the inverse: TorchScript unrolls ModuleList loops but has no
        # reversed(); the same modules are registered twice, their weights stored once.
        self.backward_layers = nn.ModuleList(list(reversed(layers)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.backward_layers:
            x = layer.inverse(x)
        return x


def convert_flow(t: Transform | None) -> Flow:
    """nflows transform (or None) -> scriptable Flow with copies of its weights."""
    if t is None:
        return Flow([])
    parts = list(t._transforms) if isinstance(t, CompositeTransform) else [t]
    layers: list[nn.Module] = []
    for p in parts:
        if isinstance(p, AffineCouplingTransform):
            layers.append(Coupling(p))
        elif isinstance(p, MaskedAffineAutoregressiveTransform):
            layers.append(MaskedAffine(p))
        elif isinstance(p, Permutation):
            layers.append(Permute(p))
        else:
            raise TypeError(f"cannot export flow layer {type(p).__name__}")
    return Flow(layers)
