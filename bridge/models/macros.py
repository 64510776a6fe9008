"""Macros: 8 dials over a flow model's latent space, and where a fresh slot starts.

The start point is the latent of a typical training preset (nearest the training presets'
median latent), so it decodes to a preset the synth really has; the centre of the latent space
decodes far outside the parameters' ranges.

Semantic dials (one per tag pair of the disentangling flows) come first. With a synth at hand,
each is the candidate path whose renders follow its descriptor best: its own disentangled latent
axis over the stretch where the training sounds' latents lie, or the direction that moves the
one to three parameters the descriptor is most sensitive to at the start point (measured by
rendering), each way it can be scaled; without one, the latent axis over 96% of the sounds.
The others are named dials: each moves along the direction in which, at the start point, the
inverse regression flow changes one parameter and no other (a column of the Jacobian of
v -> z), so that its coordinate reads as that parameter's value near the start point and its
sweep from 0 to 1 runs the parameter through its range. The parameters are chosen among the
continuous ones (or those of 16 steps and more) whose sweep really follows (Spearman >= 0.9
over half the range at least), those that change the sound most first when a synth is at hand.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from bridge.audio.features import log_mel
from bridge.audio.metrics import log_spectral_mae
from bridge.data.tags import DESCRIPTORS, PAIRS, describe_audio
from bridge.models.saved import Macros, SavedModel

SWEEP = 21  # points along a dial's sweep when choosing it
FINE_STEPS = 16
MIN_SPEARMAN = 0.9
MIN_TRAVEL = 0.5  # share of the parameter's range a named dial must move it through
SEMANTIC_QUANTILES = (2.0, 98.0)
AXIS_QUANTILES = (1.0, 2.0, 5.0, 10.0, 20.0)
PROBE = 0.15  # parameter nudge when measuring a descriptor's sensitivity
SPANS = (0.25, 0.5, 1.0, 1.5, 2.0)
MIN_WINDOW = 11  # points of a candidate's sweep a semantic dial keeps at least
SHORTLIST = 12
MAX_STEP_RATIO = 2.5  # largest neighbour step over the mean step (log-spectral MAE)


@torch.no_grad()
def latent_means(model: SavedModel, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    net = model.net.eval()
    return np.concatenate(
        [net.latent(x[i : i + batch])[0].numpy() for i in range(0, len(x), batch)]
    )


@torch.no_grad()
def preset_latents(model: SavedModel, v_encoded: torch.Tensor, batch: int = 512) -> np.ndarray:
    net = model.net.eval()
    return np.concatenate(
        [net.latent_from_params(v_encoded[i : i + batch]).numpy()
         for i in range(0, len(v_encoded), batch)]
    )


class DialMaths:
    """The dial maths of :class:`Macros` with its constants as float64 arrays, made once: the
    reference every host (numpy, checkpoint, TorchScript) is tested against."""

    def __init__(self, m: Macros) -> None:
        self.basis = np.asarray(m.basis, np.float64)
        self.dual = np.asarray(m.dual, np.float64)
        self.low = np.asarray(m.low, np.float64)
        self.span = np.asarray(m.high, np.float64) - self.low
        self.origin = np.asarray(m.origin, np.float64)

    def coords(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, np.float64) - self.origin) @ self.dual.T

    def latent_from_macros(self, u: np.ndarray, base: np.ndarray) -> np.ndarray:
        """[B, K] dial values and [B, D] base points -> [B, D]: the base moved along the dials'
        directions until its coordinates are the ones the dials stand for."""
        target = self.low + self.span * np.clip(np.asarray(u, np.float64), 0.0, 1.0)
        z = np.asarray(base, np.float64) + (target - self.coords(base)) @ self.basis
        return z.astype(np.float32)

    def macros_from_latent(self, z: np.ndarray) -> np.ndarray:
        return np.clip((self.coords(z) - self.low) / self.span, 0.0, 1.0).astype(np.float32)

    def start(self) -> np.ndarray:
        return self.origin.astype(np.float32)[None]


def _decoded(model: SavedModel, z: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        scores = model.net.params_from_latent(torch.from_numpy(np.asarray(z, np.float32)))
    return model.decode_params(scores)


def _columns(model: SavedModel, v0: np.ndarray) -> dict[int, int]:
    """Learned continuous parameter index -> its column in the encoded preset."""
    spec, enc = model.learn_spec, model.cfg.encoding
    base = spec.encode(v0[None], enc)[0]  # type: ignore[arg-type]
    out = {}
    for i, p in enumerate(spec.params):
        # A parameter of many steps (a DX7 level, 0-99) turns like a continuous one.
        if p.is_categorical or 0 < p.steps < FINE_STEPS:
            continue
        moved = v0.copy()
        moved[i] = 0.0 if v0[i] > 0.5 else 1.0
        diff = np.abs(spec.encode(moved[None], enc)[0] - base)  # type: ignore[arg-type]
        if np.count_nonzero(diff > 1e-9) == 1:
            out[i] = int(np.argmax(diff))
    return out


def _step_ratio(model: SavedModel, audio: np.ndarray) -> float:
    """Largest neighbour step of a rendered sweep over its mean step. The model's log-mels
    stand in for the slower log-spectral MAE that benchmarks/macro_quality.py scores it by."""
    mel = log_mel(audio, model.features)
    steps = np.abs(mel[1:] - mel[:-1]).mean(axis=(1, 2))
    return float(steps.max() / max(steps.mean(), 1e-12))


def _even_steps(model: SavedModel, render, origin, w, lo: float, hi: float) -> bool:
    c = lo + (hi - lo) * np.linspace(0.0, 1.0, SWEEP)
    audio = render(_decoded(model, origin[None] + c[:, None] * w[None]))
    return _step_ratio(model, audio) <= MAX_STEP_RATIO


def _semantic_path(model, origin, axis, sound_axis, jac, cols, v0, desc, spread, render):
    """The best (direction, low, high) for the semantic dial on latent ``axis`` whose tag
    follows descriptor ``desc`` (bridge.data.tags): every candidate is swept and rendered, and
    the one whose descriptor rises most steadily (Spearman, then how far in training standard
    deviations, capped at 1) wins."""
    di = DESCRIPTORS.index(desc)
    held = model.notes[0].held
    sr = model.features.sample_rate

    def descriptor(learned: np.ndarray) -> np.ndarray:
        return describe_audio(render(learned), sr, held)[:, di]

    d = origin.shape[0]
    cands = []
    for q in AXIS_QUANTILES:
        lo, hi = np.percentile(sound_axis, [q, 100.0 - q])
        cands.append((np.eye(d)[axis], float(lo), float(hi)))
    idx = list(cols)
    if idx:
        nudged = []
        for i in idx:
            for s in (-PROBE, PROBE):
                v = v0.copy()
                v[i] = np.clip(v[i] + s, 0.0, 1.0)
                nudged.append(v)
        y = descriptor(np.stack(nudged))
        g = y[1::2] - y[0::2]
        order = np.argsort(-np.abs(g), kind="stable")
        for top in (1, 2, 3, 4):
            gg = np.zeros_like(g)
            gg[order[:top]] = g[order[:top]]
            if not np.abs(gg).max() > 0:
                continue
            w = jac[:, [cols[i] for i in idx]] @ (gg / np.abs(gg).max())
            cands.extend((w, -span, span) for span in SPANS)
    u = np.linspace(0.0, 1.0, SWEEP)

    def score(y: np.ndarray, uu: np.ndarray) -> float:
        rho = float(spearmanr(uu, y)[0]) if np.ptp(y) > 0 else 0.0
        moved = float((y[-1] - y[0]) / spread)
        # Some margin over the goals, since the dial is then swept more finely.
        return min(rho, 0.95) + min(max(moved, 0.0), 1.25) + 0.01 * rho

    shortlist = []
    for w, lo, hi in cands:
        c = lo + (hi - lo) * u
        y = descriptor(_decoded(model, origin[None] + c[:, None] * w[None]))
        # A path may overshoot (brightest before its end): the best stretch of it that still
        # holds the start point (c = 0) can serve as the dial.
        windows = [(score(y[i0 : i1 + 1], u[i0 : i1 + 1]), float(c[i0]), float(c[i1]))
                   for i0 in range(SWEEP) for i1 in range(i0 + MIN_WINDOW - 1, SWEEP)
                   if c[i0] <= 0.0 <= c[i1]]
        if windows:
            best_window = max(windows)
            shortlist.append((best_window[0], w, best_window[1], best_window[2]))
    shortlist.sort(key=lambda x: -x[0])
    # The best few, swept as the dial will be: the first whose steps are even enough wins
    # (a jump in the sound is worse than a shorter reach).
    best, best_score = shortlist[0][1:], -np.inf
    for _, w, lo, hi in shortlist[:SHORTLIST]:
        c = lo + (hi - lo) * u
        audio = render(_decoded(model, origin[None] + c[:, None] * w[None]))
        y = describe_audio(audio, sr, held)[:, di]
        even = _step_ratio(model, audio) <= MAX_STEP_RATIO
        fine = score(y, u) + (1.0 if even else 0.0)
        if fine > best_score:
            best, best_score = (w, lo, hi), fine
    return best


def define_macros(
    model: SavedModel,
    x_train: torch.Tensor,
    v_train: torch.Tensor,
    render=None,
    descriptors: dict[str, np.ndarray] | None = None,
) -> Macros:
    """Choose the start point and the dials from the training split: ``x_train`` its
    normalized spectrograms, ``v_train`` its encoded presets. ``render`` (learned presets
    [B, N] -> audio [B, T]), when given, ranks the named dials by how far their sweep moves the
    sound (log-spectral distance between its ends); otherwise by how far it moves the
    parameter. ``descriptors`` (the training split's, by name) lets the semantic dials be
    chosen by rendering (see :func:`_semantic_path`)."""
    z_pre = preset_latents(model, v_train)
    z_snd = latent_means(model, x_train)
    med, spread = np.median(z_pre, 0), np.maximum(z_pre.std(0), 1e-6)
    origin = z_pre[int(np.argmin((((z_pre - med) / spread) ** 2).sum(1)))].astype(np.float64)
    d = origin.shape[0]
    n_sem = len(model.cfg.tag_pairs)
    k = model.cfg.n_macros
    names = [model.cfg.tag_pairs[i].replace("_", "-") for i in range(min(n_sem, k))]
    basis = [np.eye(d)[i] for i in range(len(names))]

    v0 = _decoded(model, origin[None])[0]
    enc0 = torch.from_numpy(
        model.learn_spec.encode(v0[None], model.cfg.encoding).astype(np.float32)  # type: ignore[arg-type]
    )
    jac = torch.autograd.functional.jacobian(
        lambda e: model.net.latent_from_params(e), enc0
    )[0, :, 0, :].numpy().astype(np.float64)  # [D, E]
    cols = _columns(model, v0)
    lows: list[float | None] = [None] * len(names)
    highs: list[float | None] = [None] * len(names)
    if render is not None and descriptors is not None:
        for j, pair in enumerate(model.cfg.tag_pairs[: len(names)]):
            desc = PAIRS[pair][0]
            if desc not in descriptors:
                continue
            w, lo, hi = _semantic_path(model, origin, j, z_snd[:, j] - origin[j], jac, cols, v0,
                                       desc, float(np.std(descriptors[desc])), render)
            basis[j], lows[j], highs[j] = w, lo, hi
    u = np.linspace(0.0, 1.0, SWEEP)
    cands: list[tuple[float, float, int, np.ndarray, float, float]] = []
    for i, col in cols.items():
        w = jac[:, col]
        lo, hi = -float(v0[i]), 1.0 - float(v0[i])
        values = _decoded(model, origin[None] + (lo + (hi - lo) * u)[:, None] * w[None])[:, i]
        rho = float(spearmanr(u, values)[0]) if np.ptp(values) > 0 else 0.0
        travel = float(values[-1] - values[0])
        if rho < MIN_SPEARMAN or travel < MIN_TRAVEL:
            continue
        effect = travel
        if render is not None:
            ends = _decoded(model, origin[None] + np.array([[lo], [hi]]) * w[None])
            audio = render(ends)
            effect = float(log_spectral_mae(audio[:1], audio[1:], model.features.sample_rate)[0])
        cands.append((effect, rho, i, w, lo, hi))
    cands.sort(key=lambda c: (-c[0], c[2]))
    for _, _, i, w, lo, hi in cands:
        if len(names) >= k:
            break
        # A semantic dial may already move along this very parameter's direction.
        if any(abs(w @ b) > 0.95 * np.linalg.norm(w) * np.linalg.norm(b) for b in basis):
            continue
        # A dial whose sound jumps somewhere on its way (an operator becoming audible) is a
        # switch, not a dial: heard over its whole sweep, its steps must be even.
        if render is not None and not _even_steps(model, render, origin, w, lo, hi):
            continue
        names.append(model.learn_spec.names[i])
        basis.append(w)
        lows.append(lo)
        highs.append(hi)
    # Too few parameters follow a dial (a tiny model or synth): the most varied remaining
    # latent axes fill the rest, over the training sounds' own stretch.
    taken = set(range(min(n_sem, k)))
    for ax in np.argsort(-z_snd.std(0), kind="stable"):
        if len(names) >= k:
            break
        if int(ax) in taken:
            continue
        names.append(f"latent-{int(ax)}")
        basis.append(np.eye(d)[int(ax)])
        lows.append(None)
        highs.append(None)
    b = np.stack(basis)
    dual = np.linalg.pinv(b.T)
    sound_coords = (z_snd - origin) @ dual.T
    qlo, qhi = np.percentile(sound_coords, SEMANTIC_QUANTILES, axis=0)
    low = [float(qlo[j]) if lows[j] is None else float(lows[j]) for j in range(len(names))]
    high = [float(qhi[j]) if highs[j] is None else float(highs[j]) for j in range(len(names))]
    for j in range(len(names)):
        # The start point must sit on every dial's stretch, or reading it back would move it.
        low[j], high[j] = min(low[j], 0.0), max(high[j], 0.0)
        # A dial that would not move at all still needs a span.
        if high[j] - low[j] < 1e-6:
            low[j], high[j] = low[j] - 1.0, high[j] + 1.0
    return Macros(
        names,
        b.tolist(),
        dual.tolist(),
        low,
        high,
        origin.tolist(),
    )
