"""The LibTorch C++ host (export/cpp) builds against the torch wheel and answers exactly what
the bundle answers in Python."""

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

from bridge.models.bundle_host import BundleModel
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
    for f in ("CMakeLists.txt", "main.cpp"):
        key.update((SRC / f).read_bytes())
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

    out, timing = _run(host_binary, folder, z, "--mode", "latent", "--bench", "50")
    np.testing.assert_array_equal(out, _rows(py.params_from_latent, z))
    assert timing["calls"] == 6 and timing["bench_calls"] == 50 and timing["bench_p50_us"] > 0

    out, _ = _run(host_binary, folder / "model.ts", z, "--mode", "scores")
    np.testing.assert_array_equal(out, _rows(py.param_scores, z))

    out, _ = _run(host_binary, folder, dials, "--mode", "macros")
    base = np.repeat(py.center(), len(dials), 0)
    want = _rows(lambda d, b: py.params_from_latent(py.latent_from_macros(d, b)), dials, base)
    np.testing.assert_array_equal(out, want)

    out, _ = _run(host_binary, folder, presets, "--mode", "encode")
    np.testing.assert_array_equal(out, _rows(py.latent_from_params, presets))


def test_cpp_host_info_and_bad_input(host_binary, tiny_bundle):  # noqa: F811
    folder = tiny_bundle.folder
    info = subprocess.run([str(host_binary), str(folder), "--info"], capture_output=True,
                          text=True, timeout=60)
    assert info.returncode == 0 and json.loads(info.stdout)["name"] == "tinysine"
    bad = subprocess.run([str(host_binary), str(folder)], input="1 2 3\n", capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "expected" in bad.stderr
    missing = subprocess.run([str(host_binary), str(folder / "nope")], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "cannot load" in missing.stderr
