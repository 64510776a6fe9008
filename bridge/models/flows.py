"""Normalizing flows built from nflows' composable transforms.

- ``realnvp``: affine coupling layers with alternating masks (Dinh et al.; the regression flow
  of Le Vaillant et al. 2021 and their posterior option).
- ``iaf``: masked affine autoregressive layers used in the sampling direction, i.e. inverse
  autoregressive flow (Kingma et al.; the posterior flow of Esling et al. 2020): every output
  is computed in one parallel pass from z0.
"""

from __future__ import annotations

import torch
from nflows.nn.nets import ResidualNet
from nflows.transforms import CompositeTransform, ReversePermutation, Transform
from nflows.transforms.autoregressive import MaskedAffineAutoregressiveTransform
from nflows.transforms.coupling import AffineCouplingTransform
from nflows.utils import create_alternating_binary_mask


class BoundedAffineCoupling(AffineCouplingTransform):
    """Affine coupling whose scale is exp(bound * tanh(s)), within [e^-bound, e^bound].

    nflows' own scale, sigmoid(s + 2) + 1e-3, may shrink a coordinate a thousandfold, so the
    inverse of a trained regression flow blows anything slightly off its image up to 1e10 and
    beyond; a preset encoded into the sound space must land near the sounds, so the scale is
    bounded both ways (and starts at 1).
    """

    def __init__(self, mask, transform_net_create_fn, bound: float = 2.0) -> None:
        super().__init__(mask, transform_net_create_fn)
        self.scale_bound = float(bound)

    def _scale_and_shift(self, transform_params):
        unconstrained = transform_params[:, self.num_transform_features :, ...]
        shift = transform_params[:, : self.num_transform_features, ...]
        return torch.exp(self.scale_bound * torch.tanh(unconstrained)), shift


def realnvp(
    features: int, layers: int, hidden: int, blocks: int = 2, bound: float = 2.0
) -> CompositeTransform:
    """Coupling layers; ``bound`` > 0 bounds their scales (see BoundedAffineCoupling), 0 keeps
    nflows' sigmoid scale."""
    if features < 2:
        raise ValueError("a coupling flow needs at least 2 features")
    transforms: list[Transform] = []
    for i in range(layers):
        mask = create_alternating_binary_mask(features, even=(i % 2 == 0))

        def net(n_in: int, n_out: int, hidden=hidden, blocks=blocks) -> torch.nn.Module:
            return ResidualNet(n_in, n_out, hidden_features=hidden, num_blocks=blocks)

        if bound > 0:
            transforms.append(BoundedAffineCoupling(mask, net, bound))
        else:
            transforms.append(AffineCouplingTransform(mask, net))
    return CompositeTransform(transforms)


def iaf(features: int, layers: int, hidden: int, blocks: int = 2) -> CompositeTransform:
    transforms: list[Transform] = []
    for i in range(layers):
        if i > 0:
            transforms.append(ReversePermutation(features))
        transforms.append(
            MaskedAffineAutoregressiveTransform(features, hidden_features=hidden, num_blocks=blocks)
        )
    return CompositeTransform(transforms)


def build_flow(
    kind: str, features: int, layers: int, hidden: int, blocks: int = 2
) -> Transform | None:
    if kind == "none" or layers == 0:
        return None
    if kind == "iaf":
        return iaf(features, layers, hidden, blocks)
    if kind == "realnvp":
        return realnvp(features, layers, hidden, blocks)
    raise ValueError(f"unknown flow {kind!r}; use iaf, realnvp or none")
