"""How well presets sit in a flow model's sound space: are encoded presets near their own
sounds, and do straight-line morphs between them decode to presets the synth really has?

The regression flow's numerical outputs are clamped to [0, 1] before use, so a morph that
leaves the flow's training region still "works", but pinned at the range ends: the fraction of
numerical outputs outside [0, 1] before the clamp measures how often that happens.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import ndtri

from bridge.models.flowsynth import FlowSynth


def _out_of_range(net: FlowSynth, z: torch.Tensor) -> float:
    v, _ = net.regression(z)
    num = v[:, net.param_loss.num_idx]
    return float(((num < 0) | (num > 1)).float().mean()) if num.numel() else 0.0


@torch.no_grad()
def morph_health(
    net: FlowSynth,
    x: torch.Tensor,
    v_encoded: torch.Tensor,
    ts: tuple[float, ...] = (0.1, 0.5),
    seed: int = 0,
    batch: int = 256,
) -> dict[str, float]:
    """Scores for sounds ``x`` (normalized log-mels) and their presets ``v_encoded``.

    Returns, for each t in ``ts``, the fraction of numerical outputs outside [0, 1] at the point
    a fraction t of the way between two encoded presets (``preset_oor_t``) and between two sound
    latents (``sound_oor_t``, the reference), plus median distances: encoded preset to its own
    sound's latent, a sound latent's norm, and two random sounds' latents apart.
    """
    if len(x) != len(v_encoded) or len(x) < 2:
        raise ValueError(
            f"morph_health needs as many sounds as presets, at least 2 (got {len(x)} sounds "
            f"and {len(v_encoded)} presets)"
        )
    net = net.eval()
    z_snd = torch.cat([net.latent(x[i : i + batch])[0] for i in range(0, len(x), batch)])
    z_pre = net.latent_from_params(v_encoded)
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
    out: dict[str, float] = {"n": float(len(x))}
    for t in ts:
        out[f"preset_oor_{t:g}"] = _out_of_range(net, (1 - t) * z_pre + t * z_pre[perm])
        out[f"sound_oor_{t:g}"] = _out_of_range(net, (1 - t) * z_snd + t * z_snd[perm])
    out["preset_to_sound"] = float((z_pre - z_snd).norm(dim=1).median())
    out["sound_norm"] = float(z_snd.norm(dim=1).median())
    out["sound_to_sound"] = float((z_snd - z_snd[perm]).norm(dim=1).median())
    return {k: round(v, 4) for k, v in out.items()}


@torch.no_grad()
def dial_end_health(model, eps: float | None = None) -> dict[str, float]:
    """For a saved flow model with macros: the fraction of numerical outputs outside [0, 1]
    (before the clamp) when one dial at a time sits at an end (0 or 1) and the others at their
    middle, beside the same fraction with every dial in the middle; ``eps`` overrides the
    model's own dial eps (the normal tail mass left beyond each end)."""
    from dataclasses import replace

    from bridge.models.macros import dial_to_latent

    if model.macros is None:
        raise ValueError("the model has no macros; only flow models trained with macros have")
    m = model.macros if eps is None else replace(model.macros, eps=float(eps))
    k = len(m.dims)
    dials = np.full((2 * k + 1, k), 0.5)
    for i in range(k):
        dials[2 * i, i], dials[2 * i + 1, i] = 0.0, 1.0
    z = np.repeat(np.asarray(m.origin, np.float32)[None], len(dials), 0)
    z[:, m.dims] = dial_to_latent(m, dials)
    v, _ = model.net.regression(torch.from_numpy(z))
    num = v[:, model.net.param_loss.num_idx]
    bad = ((num < 0) | (num > 1)).float()
    return {
        "eps": m.eps,
        "sigmas": round(float(ndtri(1 - m.eps)), 3),
        "ends_oor": round(float(bad[:-1].mean()), 4),
        "middle_oor": round(float(bad[-1].mean()), 4),
    }
