"""The model parts: flows are invertible, losses behave, saved files load safely."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bridge.models.configs import ModelConfig, get_config
from bridge.models.flowsynth import FlowSynth, mmd_imq
from bridge.models.macros import DialMaths, define_macros
from bridge.models.param_loss import ParamLoss
from bridge.models.saved import Macros, ModelFileError, SavedModel, build_net
from bridge.synth import get_synth
from bridge.synth.base import Note

N_MELS, N_FRAMES = 32, 22


def _net(kind: str = "flow", encoding: str = "numcat++", **kw):
    spec = get_synth("subtractive").spec.subset("32")
    cfg = get_config("tiny", kind=kind, encoding=encoding, **kw)
    torch.manual_seed(0)
    return build_net(cfg, spec, 2, N_MELS, N_FRAMES).eval(), spec, cfg


@pytest.mark.parametrize("encoding", ["num", "numcat", "numcat++"])
def test_regression_flow_inverse_on_random_and_real_presets(encoding):
    net, spec, cfg = _net(encoding=encoding, regression_layers=6)
    with torch.no_grad():
        z = torch.randn(64, net.latent_dim)
        v, _ = net.regression(z)
        # Random weights stretch harder than trained ones: float32 drifts a little...
        assert (net.latent_from_params(v) - z).abs().max() < 1e-3
        # ...while the algebra itself is exact.
        z64 = z.double()
        v64, _ = net.double().regression(z64)
        assert (net.latent_from_params(v64) - z64).abs().max() < 1e-10
        net = net.float()
        # Real presets (exact one-hot parts) go to z and come back to the same preset.
        rng = np.random.default_rng(1)
        presets = get_synth("subtractive").sample_presets(rng, 64, "natural")
        learn = get_synth("subtractive").spec.restrict(spec, presets)
        enc = torch.from_numpy(spec.encode(learn, cfg.encoding))
        v2, _ = net.regression(net.latent_from_params(enc))
        assert (v2 - enc).abs().max() < 1e-4
        np.testing.assert_allclose(
            spec.decode(v2.numpy(), cfg.encoding), spec.quantize(learn), atol=1e-4
        )


def test_latent_dim_equals_encoding_size():
    for enc in ("num", "numcat", "numcat++"):
        net, spec, _ = _net(encoding=enc)
        assert net.latent_dim == spec.encoded_size(enc)
    assert _net(encoding="numcat++")[0].latent_dim > _net(encoding="num")[0].latent_dim


@pytest.mark.parametrize(
    "kind,posterior,extra",
    [
        ("flow", "iaf", {}),
        ("flow", "realnvp", {}),
        ("flow", "none", {}),
        ("flow", "iaf", {"latent_loss": "mmd"}),
        ("flow", "iaf", {"morph_weight": 1.0, "onehot_weight": 0.1, "inverse_weight": 0.5}),
        ("vae_mlp", "none", {}),
        ("mlp", "none", {}),
        ("cnn", "none", {}),
    ],
)
def test_every_model_trains_one_step(kind, posterior, extra):
    net, spec, cfg = _net(kind=kind, posterior_flow=posterior, tag_pairs=("dark_bright",), **extra)
    net.train()
    x = torch.randn(8, 2, N_MELS, N_FRAMES)
    v = torch.from_numpy(
        spec.encode(spec.sample_uniform(np.random.default_rng(0), 8), cfg.encoding)
    )
    tags = torch.tensor([[1.0], [-1.0], [0.0], [1.0], [0.0], [-1.0], [1.0], [0.0]])
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    out = net.loss(x, v, tags, 0.5)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    opt.step()
    assert net.eval().infer(x).shape == (8, spec.encoded_size(cfg.encoding))


def test_param_loss_is_zero_for_perfect_scores_and_counts_accuracy():
    spec = get_synth("subtractive").spec.subset("16")
    loss = ParamLoss(spec, "numcat++", temperature=0.2)
    v = torch.from_numpy(spec.encode(spec.sample_uniform(np.random.default_rng(0), 16), "numcat++"))
    # One-hot targets scaled up give confident, right answers.
    sharp = v.clone()
    for s in spec.layout("numcat++"):
        if s.width > 1:
            sharp[:, s.start : s.start + s.width] *= 10
    out = loss(sharp, v)
    assert out["mse"] == 0 and out["acc"] == 1 and out["ce"] < 1e-6
    assert loss(torch.zeros_like(v), v)["acc"] < 1


def test_disentangling_prior_pulls_tagged_dimensions_apart():
    net, _, _ = _net(tag_pairs=("dark_bright", "calm_aggressive"))
    z = torch.zeros(3, net.latent_dim)
    z[:, 0] = torch.tensor([2.0, -2.0, 0.0])
    labels = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])
    wrong = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    good, bad = net.log_prior(z, labels), net.log_prior(z, wrong)
    assert (good[:2] > bad[:2]).all() and good[2] == bad[2]


def test_dials_map_to_latent_and_back():
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((3, 5))
    origin = rng.standard_normal(5)
    m = Macros(["a", "b", "c"], basis.tolist(), np.linalg.pinv(basis.T).tolist(),
               [-1.0, 0.0, -0.2], [1.0, 2.0, 0.3], origin.tolist())
    dm = DialMaths(m)
    u = rng.random((20, 3))
    base = rng.standard_normal((20, 5)).astype(np.float32)
    z = dm.latent_from_macros(u, base)
    np.testing.assert_allclose(dm.macros_from_latent(z), u, atol=1e-5)
    # Turning one dial leaves the others' readings where they were.
    u2 = u.copy()
    u2[:, 1] = 0.9
    np.testing.assert_allclose(dm.macros_from_latent(dm.latent_from_macros(u2, z))[:, [0, 2]],
                               u[:, [0, 2]], atol=1e-5)
    # The start point reads its own dials back unchanged; 0 and 1 are the stored ends.
    start = dm.start()
    np.testing.assert_allclose(dm.latent_from_macros(dm.macros_from_latent(start), start), start,
                               atol=1e-5)
    ends = dm.latent_from_macros(np.array([[0.0] * 3, [1.0] * 3]), np.repeat(start, 2, 0))
    ends = dm.coords(ends)
    np.testing.assert_allclose(ends, [m.low, m.high], atol=1e-5)


def test_models_saved_with_axis_dials_still_load():
    """Version-1 files stored dims, centre and a normal-quantile scale: they load as the same
    axes and end points, and start where they started."""
    old = {"dims": [0, 3], "names": ["a", "b"], "center": [0.5, -1.0], "scale": [2.0, -0.3],
           "origin": [0.0, 1.0, 2.0, 3.0, 4.0], "eps": 0.01}
    dm = DialMaths(Macros.from_dict(old))
    start = dm.start()[0]
    np.testing.assert_allclose(start, [0.5, 1.0, 2.0, -1.0, 4.0], atol=1e-6)
    z = dm.latent_from_macros(np.array([[0.0, 0.0], [1.0, 1.0]]), np.repeat(start[None], 2, 0))
    np.testing.assert_allclose(z[:, 0], [0.5 - 2.0 * 2.3263, 0.5 + 2.0 * 2.3263], atol=1e-3)
    np.testing.assert_allclose(z[:, 3], [-1.0 + 0.3 * 2.3263, -1.0 - 0.3 * 2.3263], atol=1e-3)
    np.testing.assert_allclose(z[:, [1, 2, 4]], [[1.0, 2.0, 4.0]] * 2)


def _saved(tmp_path, **cfg_overrides) -> tuple[SavedModel, str]:
    net, spec, cfg = _net(**cfg_overrides)
    synth = get_synth("subtractive")
    from bridge.audio.features import FeatureConfig

    model = SavedModel(
        net=net,
        cfg=cfg,
        spec=synth.spec,
        learn_spec=spec,
        synth_name="subtractive",
        features=FeatureConfig(n_mels=N_MELS, hop=4096, n_fft=8192),
        notes=[Note(60, 100, 0.5, 2.0)] * 2,
        n_frames=N_FRAMES,
        norm={"mean": -50.0, "std": 20.0},
        macros=Macros.from_axes([0], ["m"], [0.0], [1.0], [0.0] * net.latent_dim),
    )
    path = tmp_path / "m.pt"
    model.save(path)
    return model, str(path)


def test_saved_model_round_trip(tmp_path):
    model, path = _saved(tmp_path)
    back = SavedModel.load(path)
    x = torch.randn(3, 2, N_MELS, N_FRAMES)
    with torch.no_grad():
        assert torch.equal(model.net.infer(x), back.net.infer(x))
    assert back.learn_spec.names == model.learn_spec.names and back.macros == model.macros
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_foreign_and_damaged_files_get_clear_errors(tmp_path):
    _, path = _saved(tmp_path)
    data = open(path, "rb").read()
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    for f in (damaged, text, other):
        with pytest.raises(ModelFileError, match="flowsynth model"):
            SavedModel.load(f)
    with pytest.raises(FileNotFoundError, match="no model file"):
        SavedModel.load(tmp_path / "missing.pt")


class _Boom:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_loading_never_runs_pickled_code(tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    torch.save({"flowsynth_meta": "{}", "state_dict": {}, "x": _Boom()}, evil)
    with pytest.raises(ModelFileError):
        SavedModel.load(evil)
    assert "pickled code ran" not in capsys.readouterr().out


def test_config_validation():
    with pytest.raises(ValueError, match="model kind"):
        ModelConfig(kind="transformer")
    with pytest.raises(ValueError, match="encoding"):
        ModelConfig(encoding="onehot")
    with pytest.raises(ValueError, match="unknown config"):
        get_config("huge")
    cfg = get_config("default")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_flowsynth_latent_is_deterministic_in_eval():
    """In eval a sound's latent is its posterior mean through the flows: the same on every
    call and whatever else is in the batch; drawing from the posterior moves it."""
    net, _, _ = _net()
    assert isinstance(net, FlowSynth)
    x = torch.randn(3, 2, N_MELS, N_FRAMES)
    with torch.no_grad():
        net.train()
        net.latent(x)  # batch statistics move the running ones, as in training
        net.eval()
        z = net.latent(x)[0]
        assert torch.equal(z, net.latent(x)[0])
        alone = torch.cat([net.latent(x[i : i + 1])[0] for i in range(3)])
        torch.testing.assert_close(alone, z, rtol=1e-5, atol=1e-5)
        drawn = net.latent(x, sample=True)[0]
        assert (drawn - z).abs().max() > 1e-3


def test_mmd_is_near_zero_for_prior_draws_and_grows_with_a_shift():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 16, generator=gen), torch.randn(256, 16, generator=gen)
    same = float(mmd_imq(a, b))
    assert abs(same) < 0.01
    shifted = [float(mmd_imq(a + s, b)) for s in (0.5, 1.0, 2.0)]
    assert shifted[0] > 5 * max(abs(same), 1e-3)
    assert shifted[0] < shifted[1] < shifted[2]
    assert float(mmd_imq(a * 3, b)) > 5 * max(abs(same), 1e-3)  # too wide, same centre
    with pytest.raises(ValueError, match="two samples"):
        mmd_imq(a[:1], b)


def test_mmd_prior_draws_follow_the_tag_targets():
    net, _, cfg = _net(tag_pairs=("dark_bright",), latent_loss="mmd")
    labels = torch.tensor([[1.0]] * 500 + [[-1.0]] * 500 + [[0.0]] * 500)
    torch.manual_seed(0)
    z = net.sample_prior(len(labels), labels, torch.zeros(()))
    assert abs(float(z[:500, 0].mean()) - cfg.tag_mu) < 0.1
    assert abs(float(z[500:1000, 0].mean()) + cfg.tag_mu) < 0.1
    assert abs(float(z[:500, 0].std()) - cfg.tag_sigma) < 0.1
    assert abs(float(z[1000:, 0].std()) - 1.0) < 0.15


def test_new_loss_options_are_checked():
    with pytest.raises(ValueError, match="latent_loss"):
        ModelConfig(latent_loss="wasserstein")
    with pytest.raises(ValueError, match="morph_weight"):
        ModelConfig(morph_weight=-1.0)


def test_macros_are_unique_readable_and_semantic_first(tmp_path):
    model, _ = _saved(tmp_path, tag_pairs=("calm_aggressive", "dark_bright"))
    torch.manual_seed(1)
    x = torch.randn(64, 2, N_MELS, N_FRAMES)
    rng = np.random.default_rng(0)
    synth = get_synth("subtractive")
    learn = synth.spec.restrict(model.learn_spec, synth.sample_presets(rng, 64, "natural"))
    v = torch.from_numpy(model.learn_spec.encode(learn, model.cfg.encoding))
    m = define_macros(model, x, v)
    assert m.names[:2] == ["calm-aggressive", "dark-bright"]
    assert len(m.names) == model.cfg.n_macros == len(set(m.names))
    allowed = set(model.learn_spec.names)
    for name in m.names[2:]:
        assert name in allowed or name.startswith("latent-"), name
    dm = DialMaths(m)
    start = dm.start()
    # The start point is a training preset's latent: it decodes to that preset, in range.
    with torch.no_grad():
        pre = model.net.latent_from_params(v).numpy()
    assert np.min(np.abs(pre - start).max(1)) < 1e-5
    # A named dial swept from the start point runs its parameter up, monotonically.
    u0 = dm.macros_from_latent(start)[0]
    for k, name in enumerate(m.names):
        if name not in allowed:
            continue
        i = model.learn_spec.names.index(name)
        dials = np.repeat(u0[None], 21, 0)
        dials[:, k] = np.linspace(0, 1, 21)
        z = dm.latent_from_macros(dials, np.repeat(start, 21, 0))
        with torch.no_grad():
            y = model.decode_params(model.net.params_from_latent(torch.from_numpy(z)))[:, i]
        assert y[-1] - y[0] >= 0.5 and np.all(np.diff(y) > -0.05), (name, y)


def test_the_morph_term_pulls_blends_of_encoded_presets_into_range():
    """The term's own gradient: a flow whose blends of encoded presets leave [0, 1] is moved,
    by that term alone, to one whose blends stay in range, and its inverse stays exact."""
    from bridge.models.diagnostics import morph_health

    synth = get_synth("subtractive")
    net, spec, cfg = _net(regression_layers=4, morph_weight=1.0)
    rng = np.random.default_rng(0)
    learn = synth.spec.restrict(spec, synth.sample_presets(rng, 128, "natural"))
    v = torch.from_numpy(spec.encode(learn, cfg.encoding))
    x = torch.randn(128, 2, N_MELS, N_FRAMES)
    before = morph_health(net, x, v)["preset_oor_0.5"]
    opt = torch.optim.Adam(net.regression.parameters(), 3e-3)
    net.train()
    for _ in range(60):
        out = net.loss(x, v, None, 0.0)
        opt.zero_grad()
        out["morph"].backward()
        opt.step()
    after = morph_health(net, x, v)["preset_oor_0.5"]
    assert before > 0.08 and after < 0.5 * before, (before, after)
    with torch.no_grad():
        back = net.regression(net.latent_from_params(v))[0]
    assert float((back - v).abs().max()) < 1e-4
    # Off (weight 0), the term is not computed at all.
    net_off, _, _ = _net(morph_weight=0.0)
    assert float(net_off.loss(x[:8], v[:8], None, 0.0)["morph"]) == 0.0


def test_semantic_dials_are_chosen_by_listening(tmp_path):
    """With a synth at hand, a semantic dial is the path whose renders follow its descriptor:
    here a stand-in synth whose brightness is its cutoff and whose loudness is its drive, so
    dark-bright and calm-aggressive must end up following those, steadily and far."""
    from scipy.stats import spearmanr

    from bridge.data.tags import DESCRIPTORS, describe_audio

    model, _ = _saved(tmp_path, tag_pairs=("calm_aggressive", "dark_bright"))
    spec = model.learn_spec
    cutoff, drive = spec.names.index("cutoff"), spec.names.index("drive")
    sr = model.features.sample_rate
    t = np.arange(int(sr * model.notes[0].duration)) / sr

    def render(learned: np.ndarray) -> np.ndarray:
        freq = 150.0 + 6000.0 * learned[:, cutoff : cutoff + 1]
        level = 0.01 + 0.9 * learned[:, drive : drive + 1]
        return (level * np.sin(2 * np.pi * freq * t[None])).astype(np.float32)

    rng = np.random.default_rng(0)
    synth = get_synth("subtractive")
    learn = synth.spec.restrict(spec, synth.sample_presets(rng, 64, "natural"))
    v = torch.from_numpy(spec.encode(learn, model.cfg.encoding))
    held = model.notes[0].held
    seen = describe_audio(render(learn), sr, held)
    descriptors = {n: seen[:, i] for i, n in enumerate(DESCRIPTORS)}
    torch.manual_seed(1)
    m = define_macros(model, torch.randn(64, 2, N_MELS, N_FRAMES), v, render=render,
                      descriptors=descriptors)
    dm = DialMaths(m)
    start = dm.start()
    u0 = dm.macros_from_latent(start)[0]
    for k, desc in ((0, "aggression"), (1, "centroid_hz")):
        assert m.low[k] <= 0.0 <= m.high[k]
        dials = np.repeat(u0[None], 21, 0)
        dials[:, k] = np.linspace(0, 1, 21)
        z = dm.latent_from_macros(dials, np.repeat(start, 21, 0))
        with torch.no_grad():
            swept = model.decode_params(model.net.params_from_latent(torch.from_numpy(z)))
        y = describe_audio(render(swept), sr, held)[:, DESCRIPTORS.index(desc)]
        assert spearmanr(np.arange(21), y)[0] >= 0.9, (desc, y)
        assert (y[-1] - y[0]) >= descriptors[desc].std(), (desc, y)
