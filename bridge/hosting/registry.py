"""Finding models by name or path: the shipped default, model folders, exported bundles."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
DEFAULT_MODEL = "subtractive"


def shipped_model_path() -> Path:
    return SHIPPED_DIR / f"{DEFAULT_MODEL}.pt"


def resolve_model_path(name_or_path: str | None, models_dirs: Iterable[str | Path] = ()) -> Path:
    """A model file from a path, a name in one of ``models_dirs`` or the shipped models, or
    None for the shipped default."""
    if not name_or_path:
        path = shipped_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"the shipped model {path} is missing; reinstall flowsynth or pass --model"
            )
        return path
    p = Path(name_or_path).expanduser()
    if p.is_file() or p.suffix == ".pt" or "/" in name_or_path:
        if p.is_dir() and (p / "model.pt").is_file():
            return p / "model.pt"
        if not p.exists():
            raise FileNotFoundError(f"no model at {p}")
        return p
    return resolve_model_name(name_or_path, models_dirs)


def resolve_model_name(name: str, models_dirs: Iterable[str | Path] = ()) -> Path:
    """A model by name in ``models_dirs`` or the shipped models, never in the working folder
    (the server's ``/load`` uses this: a name must not open ``./name.pt``)."""
    if not name or any(c in name for c in "/\\") or name in (".", ".."):
        raise FileNotFoundError(f"{name!r} is not a model name")
    stem = name[:-3] if name.endswith(".pt") else name
    for folder in [*map(Path, models_dirs), SHIPPED_DIR]:
        for cand in (folder / f"{stem}.pt", folder / stem / "model.pt"):
            if cand.is_file():
                return cand
        if (folder / stem / "model.ts").is_file():
            return folder / stem  # an exported bundle
    searched = ", ".join(str(d) for d in [*models_dirs, SHIPPED_DIR])
    raise FileNotFoundError(f"no model named {name!r} in {searched}")


def list_models(models_dirs: Iterable[str | Path] = ()) -> list[str]:
    """Names of every model the given folders and the shipped folder hold."""
    names: list[str] = []
    for folder in [*map(Path, models_dirs), SHIPPED_DIR]:
        if not folder.is_dir():
            continue
        for f in sorted(folder.iterdir()):
            is_model_dir = (f / "model.pt").is_file() or (f / "model.ts").is_file()
            name = f.stem if f.suffix == ".pt" else f.name if is_model_dir else None
            if name and name not in names:
                names.append(name)
    return names


def load_hosted(name_or_path: str | None, models_dirs: Iterable[str | Path] = ()):
    """A HostedModel for the server: a training checkpoint or an exported TorchScript bundle."""
    from bridge.hosting.bundle import is_bundle, load_bundle
    from bridge.models.checkpoint_host import CheckpointModel

    path = resolve_model_path(name_or_path, models_dirs)
    if is_bundle(path):
        return load_bundle(path, path.parent.name if path.is_file() else path.name)
    name = path.parent.name if path.name == "model.pt" else path.stem
    return CheckpointModel.load(path, name)
