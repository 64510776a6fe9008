"""How well presets sit in a flow model's sound space: are encoded presets near their own
sounds, and do straight-line morphs between them decode to presets the synth really has?

The regression flow's numerical outputs are clamped to [0, 1] before use, so a morph that
leaves the flow's training region still "works", but pinned at the range ends: the fraction of
numerical outputs outside [0, 1] before the clamp measures how often that happens.
"""

from __future__ import annotations

import numpy as np
import torch

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


# Presets encoded and decoded again land within float error of 0 and 1 (the flow inverts to
# about 3e-6): that is not "outside the range".
OOR_TOLERANCE = 1e-4


def out_of_range_share(model, z: np.ndarray) -> float:
    """Share of the numerical outputs of latents ``z`` [B, D] outside [0, 1] before the clamp
    (beyond float error)."""
    with torch.no_grad():
        v, _ = model.net.regression(torch.from_numpy(np.asarray(z, np.float32)))
    num = v[:, model.net.param_loss.num_idx]
    if not num.numel():
        return 0.0
    return float(((num < -OOR_TOLERANCE) | (num > 1 + OOR_TOLERANCE)).float().mean())


def dial_end_health(model) -> dict[str, float]:
    """For a saved flow model with macros: the share of numerical outputs outside [0, 1] (before
    the clamp) at the start point, and with one dial at a time at an end (0 or 1), the others
    where the start point puts them."""
    from bridge.models.macros import DialMaths

    if model.macros is None:
        raise ValueError("the model has no macros; only flow models trained with macros have")
    dm = DialMaths(model.macros)
    start = dm.start()
    u0 = dm.macros_from_latent(start)[0]
    k = len(u0)
    dials = np.repeat(u0[None], 2 * k, 0)
    for i in range(k):
        dials[2 * i, i], dials[2 * i + 1, i] = 0.0, 1.0
    z = dm.latent_from_macros(dials, np.repeat(start, len(dials), 0))
    return {
        "start_oor": round(out_of_range_share(model, start), 4),
        "ends_oor": round(out_of_range_share(model, z), 4),
    }
