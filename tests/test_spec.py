"""The parameter spec of both built-in synths: normalized <-> real, encode <-> decode, named
subsets, and the errors bad values get."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.data.render import RenderSettings, shard_presets
from bridge.synth.fm import SPEC as FM_SPEC
from bridge.synth.fm import FMSynth
from bridge.synth.spec import ENCODINGS, MAX_ONEHOT_STEPS, Param, ParamSpec, SpecError
from bridge.synth.subtractive import SPEC as SUB_SPEC
from bridge.synth.subtractive import SubtractiveSynth

N_RANDOM = 10_000
SPECS = {"subtractive": SUB_SPEC, "fm": FM_SPEC}
# Every spec a model can learn: each synth whole and each of its named subsets.
LEARNABLE = [
    (name, sub) for name, spec in SPECS.items() for sub in (None, *spec.subsets)
]


def learn_spec(name: str, subset: str | None) -> ParamSpec:
    return SPECS[name].subset(subset)


def edge_presets(spec: ParamSpec) -> np.ndarray:
    """All zeros, all ones, and every step of every discrete parameter (others at defaults)."""
    rows = [np.zeros(len(spec)), np.ones(len(spec))]
    for i, p in enumerate(spec.params):
        for k in range(p.steps):
            row = spec.defaults().astype(np.float64)
            row[i] = k / (p.steps - 1)
            rows.append(row)
    return np.asarray(rows, dtype=np.float32)


def presets(spec: ParamSpec, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([spec.sample_uniform(rng, N_RANDOM), edge_presets(spec)])


def test_the_specs_have_the_expected_shape() -> None:
    assert (len(SUB_SPEC), len(FM_SPEC)) == (34, 31)
    assert {k: len(v) for k, v in SUB_SPEC.subsets.items()} == {"16": 16, "32": 32}
    assert {k: len(v) for k, v in FM_SPEC.subsets.items()} == {"16": 16}
    assert [SUB_SPEC.encoded_size(e) for e in ENCODINGS] == [34, 50, 64]
    assert [FM_SPEC.encoded_size(e) for e in ENCODINGS] == [31, 38, 102]


# --- normalized <-> real ------------------------------------------------------------------
@pytest.mark.parametrize("synth", SPECS)
def test_normalized_to_real_and_back(synth: str) -> None:
    """Continuous parameters round-trip to float64 precision whatever the curve; discrete
    ones land exactly on their grid, categories on their exact index."""
    spec = SPECS[synth]
    rng = np.random.default_rng(1)
    u = np.concatenate([rng.random(N_RANDOM), [0.0, 1.0]])
    for p in spec.params:
        real = p.to_real(u)
        assert real.min() >= p.low and real.max() <= p.high * (1 + 1e-12), p.name
        back = p.to_norm(real)
        if p.is_discrete:
            grid = np.round(u * (p.steps - 1)) / (p.steps - 1)
            np.testing.assert_array_equal(back, grid, err_msg=p.name)
            values = np.linspace(p.low, p.high, p.steps)
            np.testing.assert_allclose(np.unique(real), values, rtol=0, atol=1e-12 * p.high,
                                       err_msg=p.name)
            if p.is_categorical:
                np.testing.assert_array_equal(real, np.round(real))
        else:
            # exp curves go through log/exp: a few ulps of error, no more
            np.testing.assert_allclose(back, u, rtol=0, atol=1e-13, err_msg=p.name)
        # the ends map exactly onto the range's ends
        assert p.to_real(np.array(0.0)) == p.low and p.to_real(np.array(1.0)) == pytest.approx(
            p.high, rel=1e-14), p.name


@pytest.mark.parametrize("synth", SPECS)
def test_real_to_normalized_and_back(synth: str) -> None:
    spec = SPECS[synth]
    rng = np.random.default_rng(2)
    for p in spec.params:
        if p.is_discrete:
            real = np.linspace(p.low, p.high, p.steps)
            np.testing.assert_allclose(p.to_real(p.to_norm(real)), real, rtol=0,
                                       atol=1e-12 * max(1.0, abs(p.high)), err_msg=p.name)
            continue
        real = np.concatenate([rng.uniform(p.low, p.high, N_RANDOM), [p.low, p.high]])
        np.testing.assert_allclose(p.to_real(p.to_norm(real)), real, rtol=1e-12, atol=1e-12,
                                   err_msg=p.name)


@pytest.mark.parametrize("synth", SPECS)
def test_whole_preset_conversions_match_per_parameter_ones(synth: str) -> None:
    """ParamSpec.to_real/to_norm are the per-parameter maps; to_norm returns float32."""
    spec = SPECS[synth]
    x = presets(spec)
    real = spec.to_real(x)
    for i, p in enumerate(spec.params):
        np.testing.assert_array_equal(real[:, i], p.to_real(x[:, i]))
    back = spec.to_norm(real)
    assert back.dtype == np.float32
    # float32 output: within half an ulp at 1.0 of the (already float32) input
    np.testing.assert_allclose(back, x, rtol=0, atol=6e-8)
    discrete = [i for i, p in enumerate(spec.params) if p.is_discrete]
    np.testing.assert_array_equal(back[:, discrete], x[:, discrete])
    # defaults: the real defaults the spec declares
    np.testing.assert_allclose(spec.to_real(spec.defaults()), [p.default for p in spec.params],
                               rtol=1e-6, atol=1e-6)


# --- encode <-> decode ----------------------------------------------------------------------
@pytest.mark.parametrize("synth, subset", LEARNABLE)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encode_decode_exact(synth: str, subset: str | None, encoding: str) -> None:
    spec = learn_spec(synth, subset)
    x = presets(spec, seed=3)
    enc = spec.encode(x, encoding)
    assert enc.shape == (len(x), spec.encoded_size(encoding)) and enc.dtype == np.float32
    np.testing.assert_array_equal(spec.decode(enc, encoding), x)
    for s in spec.layout(encoding):
        p = spec.params[s.index]
        block = enc[:, s.start : s.start + s.width]
        if s.width == 1:
            np.testing.assert_array_equal(block[:, 0], x[:, s.index])
            continue
        # a one-hot block: exactly one 1 per row, at the parameter's step
        assert p.is_categorical or (encoding == "numcat++" and p.steps <= MAX_ONEHOT_STEPS)
        assert s.width == p.steps and set(np.unique(block)) <= {0.0, 1.0}
        np.testing.assert_array_equal(block.sum(axis=1), 1.0)
        np.testing.assert_array_equal(
            np.argmax(block, axis=1), np.round(x[:, s.index] * (p.steps - 1))
        )
    # every step of every discrete parameter shows up in the edge presets
    for s in spec.layout(encoding):
        if s.width > 1:
            assert np.all(enc[:, s.start : s.start + s.width].max(axis=0) == 1.0)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_takes_scores_for_one_hot_parts(encoding: str) -> None:
    """A model outputs scores, not one-hots: decode takes the argmax and clips numbers."""
    spec = SUB_SPEC
    x = presets(spec, seed=4)[:500]
    enc = spec.encode(x, encoding).astype(np.float64)
    noise = np.random.default_rng(5).normal(0, 0.2, enc.shape)
    for s in spec.layout(encoding):
        if s.width > 1:
            enc[:, s.start : s.start + s.width] = 3 * enc[:, s.start : s.start + s.width] + noise[
                :, s.start : s.start + s.width
            ]
    discrete = [i for i, p in enumerate(spec.params) if p.steps and (
        p.is_categorical or encoding == "numcat++")]
    np.testing.assert_array_equal(spec.decode(enc, encoding)[:, discrete], x[:, discrete])
    # numbers beyond [0, 1] are clipped to the range's ends
    num = [s for s in spec.layout(encoding) if s.width == 1]
    enc[:, num[0].start] = 7.0
    assert np.all(spec.decode(enc, encoding)[:, num[0].index] == 1.0)


# --- subsets --------------------------------------------------------------------------------
@pytest.mark.parametrize("synth, subset", [(n, s) for n, s in LEARNABLE if s is not None])
def test_named_subsets_hold_the_rest_at_defaults(synth: str, subset: str) -> None:
    spec = SPECS[synth]
    sub = spec.subset(subset)
    assert sub.names == [n for n in spec.subsets[subset]] and len(sub) == int(subset)
    x = sub.sample_uniform(np.random.default_rng(6), N_RANDOM)
    full = spec.expand(sub, x)
    rest = [i for i, n in enumerate(spec.names) if n not in sub.names]
    np.testing.assert_array_equal(full[:, rest], np.broadcast_to(spec.defaults()[rest],
                                                                 (N_RANDOM, len(rest))))
    np.testing.assert_array_equal(spec.restrict(sub, full), x)
    # The dataset path: shard presets of a subset render keep the rest at defaults too.
    synth_obj = SubtractiveSynth() if synth == "subtractive" else FMSynth()
    settings = RenderSettings(synth, 200, subset=subset, shard_size=200)
    shard, _ = shard_presets(synth_obj, settings, 0)
    np.testing.assert_array_equal(shard[:, rest], np.broadcast_to(spec.defaults()[rest],
                                                                  (200, len(rest))))
    assert np.ptp(shard[:, [spec.index(n) for n in sub.names]], axis=0).min() > 0


# --- bad values -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.check_norm(np.full((2, 34), 1.5)), r"must lie in \[0, 1\]; parameter "),
        (lambda s: s.check_norm(np.full((2, 33), 0.5)), r"expected presets of 34 .* \(2, 33\)"),
        (lambda s: s.check_norm(np.full((2, 34), np.nan)), "finite"),
        (lambda s: s.to_real(np.full((2, 34), np.nan)), "finite"),
        (lambda s: s.to_real(np.full((3, 5), 0.5)), r"34 values each .* got shape \(3, 5\)"),
        (lambda s: s.to_real(np.full(34, -0.5)), r"'osc1_wave' must lie in \[0, 1\]; got -0.5"),
        (lambda s: s.encode(np.full((2, 34), np.inf), "num"), "finite"),
        (lambda s: s.encode(np.full((2, 34), 2.0), "numcat"), r"must lie in \[0, 1\]"),
        (lambda s: s.encode(np.full((2, 30), 0.5), "num"), r"got shape \(2, 30\)"),
        (lambda s: s.encode(np.full((2, 34), 0.5), "onehot"), "unknown encoding 'onehot'"),
        (lambda s: s.decode(np.zeros((2, 34)), "numcat"), "expected 50 encoded values, got 34"),
        (lambda s: s.to_norm(np.full((1, 34), 1e9)), r"real values of .* must lie in"),
        (lambda s: s.to_norm(np.full((1, 34), np.nan)), "finite"),
        (lambda s: s.from_values({"cutoff": 5.0}), r"cutoff: 5.0 is outside \[20, 20000\] Hz"),
        (lambda s: s.from_values({"cutoff": float("nan")}), "outside"),
        (lambda s: s.from_values({"osc1_wave": "organ"}), "unknown category 'organ'"),
        (lambda s: s.from_values({"cutof": 100.0}), "unknown parameter 'cutof'"),
        (lambda s: s.subset("64"), "has no subset '64'; known: 16, 32"),
        (lambda s: s.subset(["cutoff", "nope"]), "unknown parameter 'nope'"),
    ],
)
def test_bad_values_get_clear_errors(call, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        call(SUB_SPEC)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "tab\tname"}, "without tabs"),
        ({"name": " padded"}, "spaces at either end"),
        ({"name": "x", "low": 1.0, "high": 1.0}, "must exceed low"),
        ({"name": "x", "curve": "exp", "low": 0.0}, "exp curve needs low > 0"),
        ({"name": "x", "steps": 1}, "steps must be 0"),
        ({"name": "x", "default": 2.0}, "outside"),
        ({"name": "x", "kind": "categorical", "categories": ("one",)}, "at least 2 categories"),
    ],
)
def test_bad_params_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        Param(**kwargs)


def test_spec_serialization_round_trip() -> None:
    for spec in SPECS.values():
        assert ParamSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match="malformed parameter spec"):
        ParamSpec.from_dict({"params": []})
