"""The LibTorch C++ host (export/cpp) builds against the torch wheel and answers what the bundle
answers in Python: bit for bit through LibTorch (--engine torchscript), and to float32 rounding
with identical categories and steps through the native z -> v path (the default)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from bridge.export import export_bundle
from bridge.hosting.bundle import BundleModel
from bridge.hosting.registry import shipped_model_path
from bridge.models.checkpoint_host import CheckpointModel
from bridge.models.saved import SavedModel
from tests.test_export import tiny_bundle, tiny_model  # noqa: F401  (shared fixtures)

SRC = Path(__file__).resolve().parent.parent / "export" / "cpp"


def _torch_cmake_dir() -> Path:
    return Path(torch.utils.cmake_prefix_path)


def _missing() -> str | None:
    for tool in ("cmake", "g++"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install_system_deps.sh installs it)"
    if not (_torch_cmake_dir() / "Torch" / "TorchConfig.cmake").is_file():
        return f"the torch wheel has no CMake files under {_torch_cmake_dir()}"
    if not (Path(torch.__file__).parent / "include" / "torch").is_dir():
        return "the torch wheel has no C++ headers (include/torch)"
    return None


@pytest.fixture(scope="session")
def host_binary() -> Path:
    why = _missing()
    if why:
        pytest.skip(why)
    # Cached per source and torch version: rebuilding costs ~20-60 s on two cores.
    key = hashlib.sha1()
    for f in sorted(SRC.iterdir()):
        key.update(f.name.encode() + f.read_bytes())
    key.update(f"{torch.__version__} {torch.__file__}".encode())
    build = Path(tempfile.gettempdir()) / f"flowsynth-cpp-host-{key.hexdigest()[:12]}"
    binary = build / "flowsynth_host"
    if not binary.is_file():
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        cmd = ["cmake", "-S", str(SRC), "-B", str(build), *gen, "-DCMAKE_BUILD_TYPE=Release",
               f"-DCMAKE_PREFIX_PATH={_torch_cmake_dir()}"]
        for step in (cmd, ["cmake", "--build", str(build)]):
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return binary


def _run(binary: Path, bundle: Path, rows: np.ndarray, *args: str) -> tuple[np.ndarray, dict]:
    text = "\n".join(" ".join(f"{x:.9g}" for x in row) for row in rows) + "\n"
    done = subprocess.run([str(binary), str(bundle), *args], input=text, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = np.array([[float(x) for x in line.split()] for line in done.stdout.splitlines()],
                   dtype=np.float32)
    return out, json.loads(done.stderr.strip().splitlines()[-1])


def _rows(f, *arrays: np.ndarray) -> np.ndarray:
    """One call per row, as the host makes (batched BLAS may round the last bit otherwise)."""
    return np.concatenate([f(*(a[i : i + 1] for a in arrays)) for i in range(len(arrays[0]))])


def test_cpp_host_equals_python(host_binary, tiny_bundle):  # noqa: F811
    folder = tiny_bundle.folder
    py = BundleModel.load(folder)
    rng = np.random.default_rng(11)
    z = rng.standard_normal((6, py.latent_dim)).astype(np.float32)
    dials = rng.random((6, len(py.macro_names))).astype(np.float32)
    presets = rng.random((6, len(py.param_names))).astype(np.float32)

    ts = ("--engine", "torchscript")
    out, timing = _run(host_binary, folder, z, "--mode", "latent", "--bench", "50", *ts)
    np.testing.assert_array_equal(out, _rows(py.params_from_latent, z))
    assert timing["calls"] == 6 and timing["bench_calls"] == 50 and timing["bench_p50_us"] > 0
    assert timing["engine"] == "torchscript"

    out, _ = _run(host_binary, folder / "model.ts", z, "--mode", "scores", *ts)
    np.testing.assert_array_equal(out, _rows(py.param_scores, z))

    out, _ = _run(host_binary, folder, dials, "--mode", "macros", *ts)
    base = np.repeat(py.center(), len(dials), 0)
    want = _rows(lambda d, b: py.params_from_latent(py.latent_from_macros(d, b)), dials, base)
    np.testing.assert_array_equal(out, want)

    out, timing = _run(host_binary, folder, presets, "--mode", "encode")
    np.testing.assert_array_equal(out, _rows(py.latent_from_params, presets))
    assert timing["engine"] == "torchscript"  # the inverse flow has no native path


# Native vs Python. The native flow sums in another order than torch's BLAS, so the scores
# differ by float32 rounding. How large rounding may get depends on the values inside the flow,
# so the yardstick is torch's own float32 error against a float64 evaluation of the same flow:
# native must be about as close to it as torch is. Measured on the shipped model (a row's
# scale is max(1, |z|, |v|)): native and torch within 1.2e-6 * scale of each other for
# ordinary z; for extreme z, native within 3.6e-5 * scale of exact, torch within 8.1e-5.
TYPICAL_RTOL = 1e-5
FLOOR_RTOL = 1e-5


def _latents(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary latents (the prior and 3x beyond it) and extreme ones: far out along random
    and axis directions, all zeros, constants of both signs."""
    rng = np.random.default_rng(seed)
    typical = np.concatenate([rng.standard_normal((160, d)), 3 * rng.standard_normal((40, d))])
    extreme = [s * rng.standard_normal((8, d)) for s in (10.0, 100.0, 1e3, 1e4)]
    axes = np.zeros((2 * d, d))
    axes[np.arange(d), np.arange(d)] = 50.0
    axes[d + np.arange(d), np.arange(d)] = -50.0
    alternating = [40.0, -40.0] * (d // 2) + [0.0] * (d % 2)
    consts = np.array([[0.0] * d, [1e3] * d, [-1e3] * d, alternating])
    return typical.astype(np.float32), np.concatenate([*extreme, axes, consts]).astype(np.float32)


def _decisions(spec, encoding: str, scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per discrete parameter: its index, the choice made from ``scores`` (category or step),
    and its margin, how far the scores are from choosing otherwise."""
    idx, choice, margin = [], [], []
    for s in spec.layout(encoding):
        p = spec.params[s.index]
        if s.width > 1:
            g = scores[:, s.start : s.start + s.width].astype(np.float64)
            top = np.sort(g, 1)
            idx.append(s.index)
            choice.append(np.argmax(g, 1))
            margin.append(top[:, -1] - top[:, -2])
        elif p.is_discrete:
            u = np.clip(scores[:, s.start].astype(np.float64), 0, 1) * (p.steps - 1)
            idx.append(s.index)
            choice.append(np.round(u))
            margin.append(np.abs(u - np.floor(u) - 0.5) / (p.steps - 1))
    if not idx:
        return np.zeros(0, int), np.zeros((len(scores), 0)), np.zeros((len(scores), 0))
    return np.asarray(idx), np.stack(choice, 1), np.stack(margin, 1)


def check_native_equals_python(binary: Path, folder: Path, model: SavedModel, seed: int) -> dict:
    py = BundleModel.load(folder)
    eager = CheckpointModel(model)
    spec, encoding = model.learn_spec, model.cfg.encoding
    typical, extreme = _latents(py.latent_dim, seed)
    # Where the dials lead (the macros mode's latents), ends of their ranges included.
    dials = np.random.default_rng(seed).random((40, len(py.macro_names))).astype(np.float32)
    dials[:4] = [[0.0], [1.0], [0.5], [1e-9]]
    zm = py.latent_from_macros(dials, np.repeat(py.center(), len(dials), 0))
    z = np.concatenate([typical, extreme, zm])

    scores, timing = _run(binary, folder, z, "--mode", "scores")
    assert timing["engine"] == "native"
    params, timing = _run(binary, folder, z, "--mode", "latent", "--engine", "native")
    assert timing["engine"] == "native"

    ts_scores = py.param_scores(z)
    with torch.no_grad():
        eager_scores = model.net.params_from_latent(torch.from_numpy(z)).numpy()
        # The same flow in float64: what float32 rounding is measured against.
        exact = torch.jit.load(str(folder / "model.ts")).double()
        exact_scores = exact.codec.clamp_scores(exact.regression(torch.from_numpy(z).double()))
        exact_scores = exact_scores.numpy()
    np.testing.assert_array_equal(ts_scores, eager_scores)  # (the export's own promise)

    # Scores: ordinary latents agree with Python to float32 rounding; at any scale native is
    # at least about as close to the exact flow as Python's float32 flow is.
    n = len(typical)
    scale = np.maximum(1.0, np.maximum(np.abs(z).max(1), np.abs(exact_scores).max(1)))[:, None]
    diff = np.abs(scores.astype(np.float64) - ts_scores)
    assert np.all(diff[:n] <= TYPICAL_RTOL * scale[:n]), (diff / scale)[:n].max()
    err_native = np.abs(scores - exact_scores).max(1, keepdims=True)
    err_torch = np.abs(ts_scores - exact_scores).max(1, keepdims=True)
    worse = err_native > np.maximum(2 * err_torch, FLOOR_RTOL * scale)
    assert not worse.any(), np.c_[err_native, err_torch, scale][worse[:, 0]]

    # Decode: the host's values are exactly Python's decode of the host's scores.
    np.testing.assert_array_equal(params, spec.decode(scores, encoding))
    with torch.no_grad():
        np.testing.assert_array_equal(params, py.module.codec.decode(torch.from_numpy(scores))
                                      .numpy())

    # Against Python's answers: continuous values to float32 rounding, and the same category
    # and step for every discrete parameter, except where the exact scores are closer to a tie
    # than native's or torch's rounding reaches (there either choice is as right as the other).
    want_ts, want_eager = py.params_from_latent(z), eager.params_from_latent(z)
    np.testing.assert_array_equal(want_ts, want_eager)
    idx, choice, _ = _decisions(spec, encoding, scores)
    _, want_choice, margin = _decisions(spec, encoding, exact_scores)
    _, ts_choice, _ = _decisions(spec, encoding, ts_scores)
    tie = margin <= 2 * np.maximum(err_native, err_torch)
    assert np.array_equal(choice[~tie], want_choice[~tie])
    assert np.array_equal(ts_choice[~tie], want_choice[~tie])
    same = ~tie.any(1)
    cont = np.setdiff1d(np.arange(len(spec)), idx)
    assert np.all(np.abs(params - want_ts)[:, cont] <= err_native + err_torch)
    np.testing.assert_array_equal(params[same][:, idx], want_ts[same][:, idx])
    assert tie.sum() <= 0.01 * tie.size, "too many near-ties for the check to mean anything"

    # Macros: the dials through LibTorch (bit-equal to Python, tested above), then the native
    # flow: the same answers as the latent mode gives for those latents, checked above.
    out, timing = _run(binary, folder, dials, "--mode", "macros")
    assert timing["engine"] == "native"
    np.testing.assert_array_equal(out, params[len(z) - len(zm) :])
    return {"rows": len(z), "near_ties": int(tie.sum()), "decisions": int(tie.size)}


def test_native_path_equals_python_on_a_tiny_model(host_binary, tiny_bundle, tiny_model):  # noqa: F811
    check_native_equals_python(host_binary, tiny_bundle.folder, tiny_model, seed=3)


@pytest.fixture(scope="module")
def shipped_bundle(tmp_path_factory) -> tuple[Path, SavedModel]:
    path = shipped_model_path()
    if not path.is_file():
        pytest.skip(f"no shipped model at {path}")
    model = SavedModel.load(path)
    # Unchecked: the export's own checks are tested in test_export; here only the host is.
    out = export_bundle(model, tmp_path_factory.mktemp("shipped") / "subtractive", check=False)
    return out.folder, model


def test_native_path_equals_python_on_the_shipped_model(host_binary, shipped_bundle):
    folder, model = shipped_bundle
    facts = check_native_equals_python(host_binary, folder, model, seed=5)
    assert facts["decisions"] >= 1000  # numcat++ groups and stepped parameters were exercised


def test_cpp_host_info_and_bad_input(host_binary, tiny_bundle):  # noqa: F811
    folder = tiny_bundle.folder
    info = subprocess.run([str(host_binary), str(folder), "--info"], capture_output=True,
                          text=True, timeout=60)
    assert info.returncode == 0 and json.loads(info.stdout)["name"] == "tinysine"
    bad = subprocess.run([str(host_binary), str(folder)], input="1 2 3\n", capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "expected" in bad.stderr
    engine = subprocess.run([str(host_binary), str(folder), "--engine", "fast"],
                            capture_output=True, text=True, timeout=60)
    assert engine.returncode == 2 and "--engine must be" in engine.stderr
    missing = subprocess.run([str(host_binary), str(folder / "nope")], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "cannot load" in missing.stderr
