"""Macros: the latent dimensions that move the sound most, as 8 dials.

Semantic dimensions (those shaped by disentangling flows for tag pairs) come first; the rest
are ranked by the variance of the training set's latent means along each dimension (the
variance criterion of Esling et al. 2020, section 5.4). Each dial is named after its tag pair,
or after the learned parameter its sweep moves furthest and most smoothly: a categorical flip
is a jump, not a dial's motion, so it counts for little, and no two dials share a name.
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


# A jump of a category (or of a coarse step) is not a dial's smooth motion: it scores this
# fraction of what a continuous parameter moving as far would, so those name a dial only
# when nothing continuous moves.
JUMP_WEIGHT = {"continuous": 1.0, "discrete": 0.3, "categorical": 0.15}
SWEEP = 17  # points along a dial's sweep when naming it


def _kind(p) -> str:
    if p.is_categorical:
        return "categorical"
    return "discrete" if p.steps else "continuous"


def param_motion(values: np.ndarray, spec) -> np.ndarray:
    """[S, N] decoded parameters along a sweep -> [N] scores of how far and how smoothly each
    parameter moves: net change times its share of the total variation (1 when monotonic),
    weighted down for categorical and stepped parameters."""
    v = np.asarray(values, np.float64)
    tv = np.abs(np.diff(v, axis=0)).sum(0)
    out = np.zeros(v.shape[1])
    for i, p in enumerate(spec.params):
        if tv[i] <= 1e-9:
            continue
        if p.is_categorical:
            # A category index has no order: count the flips, share of the sweep changed.
            moved = float(np.mean(v[1:, i] != v[:-1, i])) * 2.0
            out[i] = JUMP_WEIGHT["categorical"] * min(moved, 1.0)
        else:
            net = abs(v[-1, i] - v[0, i])
            out[i] = JUMP_WEIGHT[_kind(p)] * net * (net / tv[i])
    return out


@torch.no_grad()
def sweep_params(model: SavedModel, base: np.ndarray, dim: int, zs: np.ndarray) -> np.ndarray:
    """Decoded learned parameters [S, N] with latent ``dim`` set to each of ``zs``."""
    z = np.repeat(np.asarray(base, np.float32)[None], len(zs), 0)
    z[:, dim] = zs
    return model.decode_params(model.net.params_from_latent(torch.from_numpy(z)))


def define_macros(
    model: SavedModel,
    x_train: torch.Tensor,
    tag_names: list[str] | None = None,
    eps: float = 0.01,
) -> Macros:
    """Pick and name the dials. Semantic dials (tag pairs) come first; the others are the most
    varied latent dimensions, each named after the learned parameter it moves furthest and
    most smoothly (no two dials share a name) and oriented so that turning it up raises that
    parameter (a negative scale flips the dial; the dial formula is unchanged)."""
    if not 0.0 < eps < 0.5:
        raise ValueError(f"dial eps {eps} must be in (0, 0.5): the dial ends' normal tail mass")
    z = latent_means(model, x_train)
    # The sounds' latents form a shell: their mean lies in a hole the regression flow never
    # saw (on the first shipped model 87% of its numerical outputs fell outside [0, 1]), so
    # dials start from the training sound nearest the mean, a real sound.
    origin = z[int(np.argmin(((z - z.mean(0)) ** 2).sum(1)))]
    center, scale = origin, np.maximum(z.std(0), 1e-3)
    n_sem = len(model.cfg.tag_pairs)
    rest = sorted(range(n_sem, z.shape[1]), key=lambda d: -scale[d])
    dims = (list(range(n_sem)) + rest)[: model.cfg.n_macros]
    spec = model.learn_spec
    # The sweep covers the dial's own range (eps to 1 - eps of the normal) from the point all
    # dials start at.
    q = ndtri(eps + (1 - 2 * eps) * np.linspace(0.0, 1.0, SWEEP))
    names: list[str] = []
    signs: list[float] = []
    for d in dims:
        if d < n_sem:
            names.append(model.cfg.tag_pairs[d].replace("_", "-"))
            signs.append(1.0)
            continue
        values = sweep_params(model, center, d, center[d] + scale[d] * q)
        score = param_motion(values, spec)
        ranked = [int(i) for i in np.argsort(-score, kind="stable") if score[i] > 0]
        free = [i for i in ranked if spec.names[i] not in names]
        if free:
            i = free[0]
            name = spec.names[i]
            up = values[-1, i] >= values[0, i] or spec.params[i].is_categorical
        else:  # the dial moves nothing yet unnamed: say which dimension it is
            name, up = f"latent-{d}", True
        names.append(name)
        signs.append(1.0 if up else -1.0)
    return Macros(
        dims,
        names,
        [float(center[d]) for d in dims],
        [float(s * scale[d]) for s, d in zip(signs, dims, strict=True)],
        [float(c) for c in origin],
        eps,
    )
