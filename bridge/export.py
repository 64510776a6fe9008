"""TorchScript export: a trained flow model -> a bundle that runs with LibTorch alone.

A bundle is a folder:
    model.ts     torch.jit.script of ExportedFlowSynth (bridge/exporting/module.py): the host
                 methods, the mel front end, and ``metadata()`` returning the facts below
    model.json   the sidecar: parameter spec, macro names and ranges, feature settings, model
                 facts, the file list and the equivalence checks run at export
    NAME.ts      with ``nn_tilde=True``: the variant following nn~'s contract (`nn~ NAME decode`)

Export proves itself: every method of the scripted file is compared with the eager model on
random and real inputs at batch sizes 1, 7 and 64, and the bundle is not written unless the
largest difference is under 1e-5. The folder is assembled next to its destination and renamed
into place, so an interrupted export leaves nothing half-written.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bridge.models.saved import SavedModel

FORMAT = "flowsynth-bundle"
VERSION = 1
MODEL_FILE = "model.ts"
SIDECAR_FILE = "model.json"
TOLERANCE = 1e-5
BATCH_SIZES = (1, 7, 64)
DEFAULT_NN_RATIO = 256


class ExportCheckError(RuntimeError):
    """The scripted model does not reproduce the eager one; nothing was written."""


@dataclass
class ExportResult:
    folder: Path
    files: dict[str, Path]
    checks: dict[str, float] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.checks.values(), default=0.0)


def bundle_metadata(model: SavedModel, name: str) -> dict:
    """The facts a host needs without Python: embedded in model.ts and written as the sidecar."""
    from bridge import __version__
    m = model.macros
    assert m is not None
    learn = model.learn_spec
    n_samples = int(round(model.notes[0].duration * model.features.sample_rate))
    d, n, k = model.latent_dim, len(learn), m.n
    e = learn.encoded_size(model.cfg.encoding)  # type: ignore[arg-type]
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "synth": model.synth_name,
        "exported_with": {"flowsynth": __version__, "torch": torch.__version__},
        "latent_dim": d,
        "n_params": n,
        "n_macros": k,
        "encoding": model.cfg.encoding,
        "encoded_size": e,
        "param_names": learn.names,
        "params": [{**p.to_dict(), "default_norm": p.default_norm} for p in learn.params],
        "spec": model.spec.to_dict(),
        # Dial k's coordinate of z is dual[k] . (z - origin); dial u stands for
        # low + (high - low) u along basis[k]; origin is the start point.
        "macros": m.to_dict(),
        "features": model.features.to_dict(),
        "sample_rate": model.features.sample_rate,
        "n_samples": n_samples,
        "n_frames": model.n_frames,
        "notes": [nt.to_dict() for nt in model.notes],
        "norm": model.norm,
        "methods": {
            "params_from_latent": {"in": [["B", d]], "out": ["B", n]},
            "param_scores": {"in": [["B", d]], "out": ["B", e]},
            "latent_from_params": {"in": [["B", n]], "out": ["B", d]},
            "latent_from_macros": {"in": [["B", k], ["B", d]], "out": ["B", d]},
            "macros_from_latent": {"in": [["B", d]], "out": ["B", k]},
            "latent_from_audio": {"in": [["B", "T"]], "out": ["B", d]},
            "center": {"in": [], "out": [1, d]},
            "metadata": {"in": [], "out": "str (this JSON)"},
        },
        "config": model.cfg.to_dict(),
        "info": model.info,
    }


def script_model(model: SavedModel, metadata: dict) -> torch.jit.ScriptModule:
    from bridge.exporting.module import ExportedFlowSynth

    return torch.jit.script(ExportedFlowSynth(model, json.dumps(metadata)).eval())


def _roundtrip(module: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """Save and reload in memory: what is checked is what a host will load."""
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    buf.seek(0)
    return torch.jit.load(buf)


def _real_audio(model: SavedModel, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Renders of random presets on the model's synth, or None when the synth is unavailable
    (a VST3 that is not installed here)."""
    try:
        from bridge.synth.registry import rebuild_synth

        synth = rebuild_synth(model.synth_name, model.spec)
        presets = model.spec.expand(model.learn_spec, model.learn_spec.sample_uniform(rng, n))
        audio = synth.render(presets, model.notes[0], model.features.sample_rate)
        return np.asarray(audio, np.float32)
    except Exception:  # any failure only costs the real-audio check, reported as missing
        return None


@torch.no_grad()
def verify(model: SavedModel, scripted: torch.jit.ScriptModule, seed: int = 0) -> dict[str, float]:
    """Largest |scripted - eager| per method, over random and real inputs at every batch size.

    Eager here is CheckpointModel, the path the server uses on a checkpoint (decoded values),
    plus the net's raw scores."""
    from bridge.models.checkpoint_host import CheckpointModel

    host = CheckpointModel(model)
    rng = np.random.default_rng(seed)
    d, n, k = host.latent_dim, len(host.param_names), len(host.macro_names)
    errors: dict[str, float] = {}

    def record(key: str, a: np.ndarray, b: torch.Tensor) -> None:
        if b.dtype != torch.float32 or tuple(b.shape) != a.shape:
            raise ExportCheckError(
                f"{key}: scripted gives {b.dtype} {tuple(b.shape)}, eager {a.dtype} {a.shape}"
            )
        err = float(np.max(np.abs(a.astype(np.float64) - b.numpy()), initial=0.0))
        errors[key] = max(errors.get(key, 0.0), err)

    t = torch.from_numpy
    for bs in BATCH_SIZES:
        real_audio = _real_audio(model, bs, rng)
        audio = {
            "random": (0.3 * rng.standard_normal((bs, host.model.note_samples))).astype(np.float32)
        }
        if real_audio is not None:
            audio["real"] = real_audio
        for kind, a in audio.items():
            z_audio = host.latent_from_audio(a)
            record(f"latent_from_audio/{kind}", z_audio, scripted.latent_from_audio(t(a)))
        zs = {"random": rng.standard_normal((bs, d)).astype(np.float32)}
        if real_audio is not None:
            zs["real"] = host.latent_from_audio(real_audio)
        for kind, z in zs.items():
            v = host.params_from_latent(z)
            record(f"params_from_latent/{kind}", v, scripted.params_from_latent(t(z)))
            raw = model.net.params_from_latent(t(z)).numpy()
            record(f"param_scores/{kind}", raw, scripted.param_scores(t(z)))
            record(
                f"macros_from_latent/{kind}",
                host.macros_from_latent(z),
                scripted.macros_from_latent(t(z)),
            )
            dials = rng.random((bs, k)).astype(np.float32)
            record(
                f"latent_from_macros/{kind}",
                host.latent_from_macros(dials, z),
                scripted.latent_from_macros(t(dials), t(z)),
            )
        presets = {"random": rng.random((bs, n)).astype(np.float32)}
        if real_audio is not None:
            presets["real"] = host.params_from_latent(zs["real"])
        for kind, v in presets.items():
            record(
                f"latent_from_params/{kind}",
                host.latent_from_params(v),
                scripted.latent_from_params(t(v)),
            )
    record("center", host.center(), scripted.center())
    return errors


def export_bundle(
    model: SavedModel | str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    nn_tilde: bool = False,
    nn_ratio: int = DEFAULT_NN_RATIO,
    check: bool = True,
) -> ExportResult:
    """Write a bundle folder at ``out`` (replacing an earlier bundle there, never other files)."""
    out = Path(out)
    if not isinstance(model, SavedModel):
        model = SavedModel.load(model)
    name = name or out.name
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise ValueError(f"bundle name {name!r} must be a plain file name (no spaces or slashes)")
    if name == Path(MODEL_FILE).stem:
        raise ValueError(f"bundle name {name!r} clashes with {MODEL_FILE}; pick another --name")
    _check_destination(out)
    if nn_tilde:
        from bridge.exporting.nn_tilde import check_ratio

        check_ratio(nn_ratio)  # before any work: a wrong ratio would waste the export

    meta = bundle_metadata(model, name)
    scripted = _roundtrip(script_model(model, meta))
    checks = verify(model, scripted) if check else {}
    worst = max(checks.values(), default=0.0)
    if worst >= TOLERANCE:
        bad = {k: v for k, v in checks.items() if v >= TOLERANCE}
        raise ExportCheckError(f"scripted model differs from the eager one: {bad}; not written")

    files = {"torchscript": MODEL_FILE}
    nn_module = None
    if nn_tilde:
        from bridge.exporting.nn_tilde import script_nn_tilde

        nn_module = script_nn_tilde(model, meta, nn_ratio)
        files["nn_tilde"] = f"{name}.ts"
    sidecar = {
        **meta,
        "files": files,
        "checks": {
            "tolerance": TOLERANCE,
            "batch_sizes": list(BATCH_SIZES),
            "max_abs_error": checks,
        },
    }

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        torch.jit.save(scripted, str(tmp / MODEL_FILE))
        if nn_module is not None:
            torch.jit.save(nn_module, str(tmp / files["nn_tilde"]))
        (tmp / SIDECAR_FILE).write_text(json.dumps(sidecar, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the bundle from other users
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    paths = {k: out / v for k, v in files.items()} | {"sidecar": out / SIDECAR_FILE}
    return ExportResult(out, paths, checks)


def _check_destination(out: Path) -> None:
    if out.is_file():
        raise FileExistsError(f"{out} is a file; --out names a folder for the bundle")
    if out.is_dir() and any(out.iterdir()):
        try:
            fmt = json.loads((out / SIDECAR_FILE).read_text()).get("format")
        except (OSError, ValueError):
            fmt = None
        if fmt != FORMAT:
            raise FileExistsError(
                f"{out} exists and is not a flowsynth bundle; choose an empty or new folder"
            )


def read_sidecar(folder: str | Path) -> dict:
    """A bundle's sidecar JSON, with a clear error for folders that are not bundles."""
    path = Path(folder) / SIDECAR_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} is not a flowsynth bundle (no {SIDECAR_FILE}); "
            "make one with `flowsynth export`"
        )
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: format {meta.get('format')!r} is not {FORMAT}")
    if int(meta.get("version", 0)) > VERSION:
        raise ValueError(f"{path} was written by a newer flowsynth; upgrade to load it")
    return meta
