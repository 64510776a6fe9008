"""Figures people look at: macro traversals (what each dial does to the sound and to the
parameters, after Esling et al. 2020 Figure 6) and preset morphs (their Figure 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge import atomic
from bridge.audio.features import log_mel
from bridge.models.checkpoint_host import CheckpointModel
from bridge.models.saved import SavedModel
from bridge.synth.registry import rebuild_synth


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)


def _strip(model: SavedModel, learn_params: np.ndarray) -> np.ndarray:
    """Render a path of presets and lay their spectrograms side by side."""
    synth = rebuild_synth(model.synth_name, model.spec)
    note, sr = model.notes[0], model.features.sample_rate
    mels = log_mel(synth.render(model.full_presets(learn_params), note, sr), model.features)
    return np.concatenate(list(mels), axis=1)


def _row(axes, model: SavedModel, values: np.ndarray, xs: np.ndarray, title: str, top: int = 4):
    import matplotlib.pyplot as plt

    axes[0].imshow(
        _strip(model, values), origin="lower", aspect="auto", vmin=-100, vmax=0, cmap="magma"
    )
    axes[0].set_title(title, fontsize=9, loc="left")
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    moved = np.argsort(-np.ptp(values, axis=0))[:top]
    for k, i in enumerate(moved):
        axes[1].plot(xs, values[:, i], label=model.learn_spec.names[i], color=plt.cm.tab10(k))
    axes[1].set_ylim(-0.05, 1.05)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def plot_macros(model: SavedModel, out: Path, steps: int = 7) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    host = CheckpointModel(model)
    origin = host.center()
    n = len(host.macro_names)
    fig, axes = plt.subplots(
        n, 2, figsize=(11, 1.9 * n), squeeze=False, gridspec_kw={"width_ratios": [3, 2]}
    )
    xs = np.linspace(0, 1, steps)
    for k, name in enumerate(host.macro_names):
        dials = np.repeat(host.macros_from_latent(origin), steps, 0)
        dials[:, k] = xs
        values = host.params_from_latent(
            host.latent_from_macros(dials, np.repeat(origin, steps, 0))
        )
        _row(axes[k], model, values, xs, f"macro {k + 1}: {name} (dial 0 -> 1)")
    fig.suptitle(f"{model.synth_name}: what each macro does", fontsize=11)
    fig.tight_layout()
    _save(fig, out)


def plot_morph(
    model: SavedModel,
    out: Path,
    a: np.ndarray | None,
    b: np.ndarray | None,
    steps: int = 7,
    seed: int = 0,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    host = CheckpointModel(model)
    synth = rebuild_synth(model.synth_name, model.spec)
    rng = np.random.default_rng(seed)
    ends = [p if p is not None else synth.sample_presets(rng, 1, "natural")[0] for p in (a, b)]
    learn = model.spec.restrict(
        model.learn_spec, np.stack([np.asarray(e).reshape(-1) for e in ends])
    )
    za, zb = host.latent_from_params(learn)
    ts = np.linspace(0, 1, steps)[:, None]
    values = host.params_from_latent(((1 - ts) * za + ts * zb).astype(np.float32))
    fig, axes = plt.subplots(
        1, 2, figsize=(11, 2.6), squeeze=False, gridspec_kw={"width_ratios": [3, 2]}
    )
    _row(axes[0], model, values, ts[:, 0], "latent morph A -> B", top=6)
    fig.tight_layout()
    _save(fig, out)
