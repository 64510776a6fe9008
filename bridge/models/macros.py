"""Macros: the latent dimensions that move the sound most, as 8 dials.

Semantic dimensions (those shaped by disentangling flows for tag pairs) come first; the rest
are ranked by the variance of the training set's latent means along each dimension (the
variance criterion of Esling et al. 2020, section 5.4). Each dial is named after its tag pair,
or after the parameter that moves most when the dial is swept.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import ndtr, ndtri

from bridge.models.saved import Macros, SavedModel


@torch.no_grad()
def latent_means(model: SavedModel, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    net = model.net.eval()
    return np.concatenate(
        [net.latent(x[i : i + batch])[0].numpy() for i in range(0, len(x), batch)]
    )


# scipy.special's ndtri/ndtr give the very numbers scipy.stats.norm.ppf/cdf give, without
# the distribution machinery's ~90 us per call: a dial turn waits for these.


def dial_to_latent(m: Macros, u: np.ndarray) -> np.ndarray:
    """[B, K] dial values in [0, 1] -> [B, K] latent values of the macro dimensions."""
    p = m.eps + (1 - 2 * m.eps) * np.clip(u, 0.0, 1.0)
    return np.asarray(m.center) + np.asarray(m.scale) * ndtri(p)


def latent_to_dial(m: Macros, z: np.ndarray) -> np.ndarray:
    p = ndtr((z - np.asarray(m.center)) / np.asarray(m.scale))
    return np.clip((p - m.eps) / (1 - 2 * m.eps), 0.0, 1.0)


@torch.no_grad()
def _most_moved_param(model: SavedModel, center: np.ndarray, dim: int, lo: float, hi: float) -> str:
    z = np.repeat(center[None], 9, 0).astype(np.float32)
    z[:, dim] = np.linspace(lo, hi, 9)
    v = model.decode_params(model.net.params_from_latent(torch.from_numpy(z)))
    return model.learn_spec.names[int(np.argmax(np.ptp(v, axis=0)))]


def define_macros(
    model: SavedModel, x_train: torch.Tensor, tag_names: list[str] | None = None
) -> Macros:
    z = latent_means(model, x_train)
    center, scale = z.mean(0), np.maximum(z.std(0), 1e-3)
    n_sem = len(model.cfg.tag_pairs)
    rest = sorted(range(n_sem, z.shape[1]), key=lambda d: -scale[d])
    dims = (list(range(n_sem)) + rest)[: model.cfg.n_macros]
    names: list[str] = []
    for d in dims:
        if d < n_sem:
            name = model.cfg.tag_pairs[d].replace("_", "-")
        else:
            name = _most_moved_param(
                model, center, d, center[d] - 2 * scale[d], center[d] + 2 * scale[d]
            )
        base, k = name, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return Macros(
        dims,
        names,
        [float(center[d]) for d in dims],
        [float(scale[d]) for d in dims],
        [float(c) for c in center],
    )
