"""Getting a loaded model ready for the control path.

A training checkpoint runs its regression flow through nflows in eager mode: about 1.9 ms per
``params_from_latent`` at batch 1 on one core, nearly all of it Python and dispatch overhead
around small matrix products, which alone misses the control path's 1 ms goal. So when the
server loads a checkpoint it hosts a ``FastCheckpoint`` instead:

- the TorchScript twin of the model, scripted in memory by the exporter (bridge/export.py,
  proven equal to the eager model by tests/test_export.py), answers everything that is not
  on the dial's path: sketches (``latent_from_audio``), presets, the centre;
- the dial's path itself, ``params_from_latent``, runs the regression flow's coupling layers
  and the parameter decode in numpy (``NumpyRegression``, ``NumpyDecoder``), built from the
  exporter's plain copies of the layers: a TorchScript call still pays some 4 us per op for
  about 150 ops, numpy about half of that;
- the dials' own maths (``latent_from_macros``, ``macros_from_latent``) is the eager host's
  numpy, with its constants prepared once.

All of this is an optimization, never a requirement: each faster stage is compared with the
eager model when it loads, and a stage that cannot be built or that answers differently is
left out (the eager model, as before, is the last resort).
"""

from __future__ import annotations

import logging

import numpy as np

from bridge.models.hosted import HostedModel
from bridge.models.macros import DialMaths

log = logging.getLogger("flowsynth.server")

# What "the same answers" means: the exporter's own tolerance. Decoded values differ by a
# whole quantization step or not at all, so a wrong decoder cannot hide under it.
CHECK_TOLERANCE = 1e-5
# TorchScript's profiling executor specializes a method on its first calls; these are made
# at load time so that no dial pays for them.
WARM_CALLS = 3


def prepare(model: HostedModel, *, script: bool = True) -> HostedModel:
    """The model to serve for ``model``: for a training checkpoint (when ``script``), its
    fastest form that answers as the eager model does; anything else as it is."""
    from bridge.models.checkpoint_host import CheckpointModel

    if not script or type(model) is not CheckpointModel:
        return model
    try:
        scripted = script_checkpoint(model)
    except Exception as e:  # scripting is only an optimization; the eager model still works
        log.warning("%s: serving the eager model; scripting failed (%s: %s)",
                    model.name, type(e).__name__, e)
        return model
    if not _agrees(model, scripted, "scripted"):
        return model
    try:
        fast = FastCheckpoint(model, scripted)
    except Exception as e:  # e.g. a layer the numpy path does not know
        log.warning("%s: serving the scripted model; the numpy path failed (%s: %s)",
                    model.name, type(e).__name__, e)
        return scripted
    return fast if _agrees(model, fast, "numpy") else scripted


def _agrees(eager: HostedModel, fast: HostedModel, what: str) -> bool:
    worst = compare(eager, fast)
    if worst <= CHECK_TOLERANCE:
        return True
    log.warning("%s: the %s model differs from the eager one by %.3g; not serving it",
                eager.name, what, worst)
    return False


def script_checkpoint(model: HostedModel) -> HostedModel:
    """A CheckpointModel's TorchScript twin (in memory), with its methods warmed up."""
    from bridge.export import bundle_metadata, script_model
    from bridge.hosting.bundle import BundleModel

    saved = model.model  # type: ignore[attr-defined]
    meta = bundle_metadata(saved, model.name)
    fast = BundleModel(script_model(saved, meta), meta, model.name)
    warm_up(fast)
    return fast


def warm_up(model: HostedModel, calls: int = WARM_CALLS) -> None:
    """Run every control-path method (and the sketch encoder) at batch 1."""
    z = np.zeros((1, int(model.latent_dim)), np.float32)
    dials = np.full((1, len(model.macro_names)), 0.5, np.float32)
    audio = np.zeros((1, int(model.sample_rate) // 10), np.float32)
    for _ in range(calls):
        v = model.params_from_latent(z)
        model.latent_from_params(v)
        model.macros_from_latent(model.latent_from_macros(dials, z))
        model.latent_from_audio(audio)


def compare(eager: HostedModel, fast: HostedModel, seed: int = 0) -> float:
    """Largest |fast - eager| over the control path's methods at batch 1, as the server calls
    them: at the centre and at random points around it (NaN counts as infinitely far)."""
    rng = np.random.default_rng(seed)
    d, k = int(eager.latent_dim), len(eager.macro_names)
    worst = 0.0
    for i in range(6):
        z = (rng.standard_normal((1, d)) * (i > 0)).astype(np.float32)
        dials = rng.random((1, k)).astype(np.float32)
        v = eager.params_from_latent(z)
        pairs = [
            (v, fast.params_from_latent(z)),
            (eager.macros_from_latent(z), fast.macros_from_latent(z)),
            (eager.latent_from_macros(dials, z), fast.latent_from_macros(dials, z)),
            (eager.latent_from_params(v), fast.latent_from_params(v)),
        ]
        for a, b in pairs:
            a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
            if a.shape != b.shape:
                return float("inf")
            err = float(np.max(np.abs(a - b), initial=0.0))
            worst = max(worst, err if err == err else float("inf"))
    return worst


class NumpyRegression:
    """The regression flow's forward pass (z -> encoded scores) in numpy float32, from the
    exporter's copies of its coupling layers (bridge/exporting/flows.py).

    At batch 1 the time goes to the number of calls, not to arithmetic, so the layers are
    rearranged once here for fewer of them, with the same maths up to float32 rounding:
    - features are kept in an order where every layer's unchanged and transformed halves
      are contiguous (alternating masks allow it), so they are slices, updated in place;
    - each hidden vector carries a trailing 1, so a bias is one more row of its weights and
      a linear layer is one product.
    """

    def __init__(self, regression: object) -> None:
        from bridge.exporting.flows import Coupling, convert_flow

        flow = convert_flow(regression)  # raises on any layer it does not know
        layers = list(flow.layers)
        if not layers or not all(isinstance(c, Coupling) for c in layers):
            kinds = sorted({type(c).__name__ for c in layers} - {"Coupling"}) or ["none"]
            raise TypeError(f"no numpy path for flow layers {', '.join(kinds)}")
        first = layers[0]
        self.order = np.concatenate([first.identity.numpy(), first.transform.numpy()])
        self.inverse_order = np.argsort(self.order)
        self.layers = []
        for c in layers:
            net = c.net
            w0, b0 = _dense(net.initial)
            # [w0 | 0] and [b0, 1]: the first product's output gains the constant 1.
            initial = (np.hstack([w0, np.zeros((w0.shape[0], 1), np.float32)]),
                       np.append(b0, np.float32(1)))
            blocks = [(_with_bias(*_dense(b.first), keep_one=True),
                       _with_bias(*_dense(b.second), keep_one=False)) for b in net.blocks]
            final = _with_bias(*_dense(net.final), keep_one=None)
            self.layers.append((self._span(c.identity.numpy()), self._span(c.transform.numpy()),
                                c.n, c.bound, initial, blocks, final))

    def _span(self, features: np.ndarray) -> slice | np.ndarray:
        """Where ``features`` (in their order) sit in the rearranged vector."""
        at = self.inverse_order[features]
        if at.size and np.array_equal(at, np.arange(at[0], at[0] + at.size)):
            return slice(int(at[0]), int(at[0]) + at.size)
        return at

    def __call__(self, z: np.ndarray) -> np.ndarray:
        x = np.asarray(z, np.float32)[:, self.order]  # a copy: updated in place below
        for kept, moved, n, bound, (w0, b0), blocks, final in self.layers:
            h = x[:, kept] @ w0
            h += b0
            for first, second in blocks:
                h += np.maximum(np.maximum(h, 0) @ first, 0) @ second
            p = h @ final
            scale = p[:, n:]  # computed in place: p is this call's own array
            if bound > 0:
                np.tanh(scale, out=scale)
                scale *= bound
                np.exp(scale, out=scale)
            else:
                scale = 1.0 / (1.0 + np.exp(-(scale + 2))) + 1e-3
            if isinstance(moved, slice):
                view = x[:, moved]
                view *= scale
                view += p[:, :n]
            else:
                x[:, moved] = x[:, moved] * scale + p[:, :n]
        return x[:, self.inverse_order]


def _dense(linear: object) -> tuple[np.ndarray, np.ndarray]:
    # Transposed once here so that every call is a row-major x @ W.
    w = linear.weight.detach().numpy()  # type: ignore[attr-defined]
    b = linear.bias.detach().numpy()  # type: ignore[attr-defined]
    return np.ascontiguousarray(w.T, np.float32), b.astype(np.float32)


def _with_bias(w: np.ndarray, b: np.ndarray, keep_one: bool | None) -> np.ndarray:
    """Weights for an input with a trailing 1: the bias as a last row. ``keep_one`` True
    passes the 1 on (relu(1) = 1), False adds 0 there (a residual branch), None drops it."""
    rows, cols = w.shape
    extra = 0 if keep_one is None else 1
    out = np.zeros((rows + 1, cols + extra), np.float32)
    out[:rows, :cols] = w
    out[rows, :cols] = b
    if keep_one:
        out[rows, cols] = 1.0
    return out


class NumpyDecoder:
    """ParamSpec.decode (scores -> normalized values) with its per-parameter loop done once
    here: the same float64 clip, round and argmax, as index arrays."""

    def __init__(self, spec: object, encoding: str) -> None:
        layout = spec.layout(encoding)  # type: ignore[attr-defined]
        params = spec.params  # type: ignore[attr-defined]
        self.n_params = len(params)
        self.size = spec.encoded_size(encoding)  # type: ignore[attr-defined]
        num = [s for s in layout if s.width == 1]
        cat = [s for s in layout if s.width > 1]
        steps = np.array([params[s.index].steps for s in num], np.int64)
        self.num_col = np.array([s.start for s in num], np.int64)
        self.num_out = np.array([s.index for s in num], np.int64)
        self.discrete = steps >= 2
        self.num_div = np.maximum(steps - 1, 1).astype(np.float64)
        # Groups padded to the widest: padding repeats a group's last column, masked to -inf.
        wmax = max([s.width for s in cat], default=1)
        cols = np.array([[s.start + min(j, s.width - 1) for j in range(wmax)] for s in cat],
                        np.int64).reshape(len(cat), wmax)
        self.cat_cols = cols
        self.cat_real = np.array([[j < s.width for j in range(wmax)] for s in cat],
                                 bool).reshape(len(cat), wmax)
        self.cat_out = np.array([s.index for s in cat], np.int64)
        self.cat_div = np.array([params[s.index].steps - 1 for s in cat], np.float64)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        # ufuncs rather than np.clip/np.round/np.argmax's Python wrappers: same numbers
        # (rint rounds half to even, as round does), fewer calls on the dial's path.
        enc = np.asarray(scores, np.float64)
        if enc.shape[-1] != self.size:
            raise ValueError(f"expected {self.size} encoded values, got {enc.shape[-1]}")
        out = np.empty((enc.shape[0], self.n_params), np.float32)
        u = np.minimum(np.maximum(enc[:, self.num_col], 0.0), 1.0)
        snapped = np.rint(u * self.num_div) / self.num_div
        out[:, self.num_out] = np.where(self.discrete, snapped, u)
        if self.cat_out.size:
            groups = np.where(self.cat_real, enc[:, self.cat_cols], -np.inf)
            out[:, self.cat_out] = groups.argmax(-1) / self.cat_div
        return out


class FastCheckpoint:
    """HostedModel for a training checkpoint: the dial's path in numpy, everything else from
    the TorchScript twin."""

    def __init__(self, eager: HostedModel, scripted: HostedModel) -> None:
        saved = eager.model  # type: ignore[attr-defined]
        self.eager = eager
        self.scripted = scripted
        self.name = eager.name
        self.synth_name = eager.synth_name
        self.param_names = eager.param_names
        self.full_spec = getattr(eager, "full_spec", None)
        self.macro_names = eager.macro_names
        self.latent_dim = eager.latent_dim
        self.sample_rate = eager.sample_rate
        self._regression = NumpyRegression(saved.net.regression)
        self._decode = NumpyDecoder(saved.learn_spec, saved.cfg.encoding)
        self._dials = DialMaths(saved.macros)

    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, np.float32)
        return self._decode(self._regression(z[None] if z.ndim == 1 else z))

    def latent_from_macros(self, m: np.ndarray, base: np.ndarray) -> np.ndarray:
        return self._dials.latent_from_macros(m, base)

    def macros_from_latent(self, z: np.ndarray) -> np.ndarray:
        return self._dials.macros_from_latent(z)

    def latent_from_params(self, v: np.ndarray) -> np.ndarray:
        return self.scripted.latent_from_params(v)

    def latent_from_audio(self, audio: np.ndarray) -> np.ndarray:
        return self.scripted.latent_from_audio(audio)

    def center(self) -> np.ndarray:
        return self._dials.start()
