"""The on-disk dataset format and its reader.

A dataset is a folder with ``manifest.json`` and one ``shard-NNNNN.npz`` per shard (see
docs/dataset.md). Shards are plain zip files written with fixed timestamps, so the same seed and
settings give byte-identical files and checksums.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from bridge import atomic
from bridge.audio.features import FeatureConfig
from bridge.data import tags as tagmod
from bridge.synth.base import Note, Synth
from bridge.synth.spec import ParamSpec

FORMAT = "flowsynth-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_KEYS = ("params", "mels", "tags", "labels", "preset_ids")


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json_atomic(path: Path, obj: dict) -> None:
    """A manifest or result: one-space indented JSON, flushed to the disk before the rename."""
    atomic.write_json(path, obj, indent=1, fsync=True)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz archive (np.load reads it) with fixed zip timestamps: bytes depend on data only."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def write_shard(path: Path, arrays: dict[str, np.ndarray] | bytes) -> str:
    """Write a shard (its arrays, or their :func:`npz_bytes`) atomically; return its sha256."""
    data = arrays if isinstance(arrays, bytes) else npz_bytes(arrays)
    atomic.write_bytes(path, data, fsync=True)
    return sha256_bytes(data)


def read_shard(path: Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Read a shard, checking its checksum when one is given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"shard {path} is missing; re-run the `flowsynth render` command that made the dataset"
        )
    data = path.read_bytes()
    if sha256 is not None and sha256_bytes(data) != sha256:
        raise ValueError(
            f"shard {path} is corrupted (sha256 does not match the manifest); delete it and re-run "
            "the same `flowsynth render` command to render it again"
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def read_manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    if not Path(root).is_dir():
        raise FileNotFoundError(
            f"dataset folder {root} does not exist; make one with `flowsynth render`"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"{root} is not a flowsynth dataset (no {MANIFEST}); make one with `flowsynth render`"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}); re-render the dataset") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path} is not a flowsynth dataset manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {manifest.get('version')}; this flowsynth reads version "
            f"{FORMAT_VERSION}: re-render the dataset"
        )
    return manifest


def _index_split(n: int, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) == 0 or np.any(fr < 0) or abs(fr.sum() - 1.0) > 1e-6:
        raise ValueError(f"split fractions {tuple(fractions)} must be non-negative and sum to 1")
    perm = np.random.default_rng(seed).permutation(n)
    # Cumulative rounding: sizes add up to n exactly.
    bounds = np.round(np.cumsum(fr) * n).astype(np.int64)
    bounds[-1] = n
    parts = np.split(perm, bounds[:-1])
    return [np.sort(p) for p in parts]


class Dataset:
    """A rendered dataset: its manifest, specs, notes and arrays.

    ``tags`` from :meth:`load` holds, by name: every descriptor of :data:`bridge.data.tags.
    DESCRIPTORS` (float32), the booleans ``harmonic``, ``percussive``, ``noisy`` and the pair
    labels ``dark_bright``, ``constant_moving``, ``calm_aggressive`` (int8 in {-1, 0, +1}).
    ``tag_names`` lists the labels (booleans then pairs), ``descriptor_names`` the descriptors.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.manifest: dict = read_manifest(self.root)
        m = self.manifest
        if m.get("status") != "complete":
            done = len(m.get("shards", []))
            raise ValueError(
                f"dataset {self.root} is incomplete ({done} of {m.get('n_shards', '?')} shards); "
                "re-run the same `flowsynth render` command to finish it"
            )
        try:
            self.synth_name: str = m["synth"]["name"]
            self.spec: ParamSpec = ParamSpec.from_dict(m["synth"]["spec"])
            self.learn_spec: ParamSpec = self.spec.subset(m["learn_params"])
            self.notes: list[Note] = [Note(**n) for n in m["notes"]]
            self.features: FeatureConfig = FeatureConfig.from_dict(m["features"])
            self.descriptor_names: list[str] = list(m["tags"]["descriptors"])
            self.boolean_names: list[str] = list(m["tags"]["booleans"])
            self.pair_thresholds: dict[str, dict] = dict(m["tags"]["pairs"])
            self._shards: list[dict] = sorted(m["shards"], key=lambda s: s["index"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"{self.root / MANIFEST} is missing {e}; re-render the dataset") from e
        if len(self.learn_spec) == len(self.spec) and self.learn_spec.names == self.spec.names:
            self.learn_spec = self.spec
        self.tag_names: list[str] = self.boolean_names + list(self.pair_thresholds)

    @property
    def sample_rate(self) -> int:
        return int(self.manifest["sample_rate"])

    def __len__(self) -> int:
        return int(sum(s["count"] for s in self._shards))

    def __repr__(self) -> str:
        return (
            f"Dataset({str(self.root)!r}: {len(self)} presets of {self.synth_name}, "
            f"{len(self.notes)} note(s))"
        )

    def load(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """params [n, N] float32 (full spec order), mels [n, C, M, F] float16, tags by name.

        Every shard's checksum is verified; a corrupted or missing shard raises a clear error.
        """
        n_params = len(self.spec)
        n_frames = self.features.n_frames(int(round(self.notes[0].duration * self.sample_rate)))
        mel_shape = (len(self.notes), self.features.n_mels, n_frames)
        params, mels, values, bools = [], [], [], []
        for s in self._shards:
            z = read_shard(self.root / s["file"], s["sha256"])
            missing = [k for k in SHARD_KEYS if k not in z]
            if missing or len(z["params"]) != s["count"]:
                raise ValueError(f"shard {s['file']} does not match the manifest; re-render it")
            params.append(z["params"])
            mels.append(z["mels"])
            values.append(z["tags"])
            bools.append(z["labels"])
        k = len(self.descriptor_names)
        p = np.concatenate(params) if params else np.zeros((0, n_params), np.float32)
        x = np.concatenate(mels) if mels else np.zeros((0,) + mel_shape, np.float16)
        v = np.concatenate(values) if values else np.zeros((0, k), np.float32)
        b = np.concatenate(bools) if bools else np.zeros((0, len(self.boolean_names)), bool)
        tags: dict[str, np.ndarray] = {
            name: v[:, i] for i, name in enumerate(self.descriptor_names)
        }
        tags.update({name: b[:, i] for i, name in enumerate(self.boolean_names)})
        tags.update(tagmod.pair_labels(v, self.pair_thresholds))
        return p, x, tags

    def preset_ids(self) -> np.ndarray:
        """Each kept preset's index in the seeded sampling sequence (int64)."""
        ids = [read_shard(self.root / s["file"], s["sha256"])["preset_ids"] for s in self._shards]
        return np.concatenate(ids) if ids else np.zeros(0, np.int64)

    def split(
        self, fractions: tuple[float, ...] = (0.8, 0.1, 0.1), seed: int = 0
    ) -> dict[str, np.ndarray]:
        """Disjoint sorted index arrays ``train``, ``valid``, ``test``; same seed, same split."""
        if len(fractions) != 3:
            raise ValueError(
                f"split needs 3 fractions (train, valid, test), got {tuple(fractions)}"
            )
        parts = _index_split(len(self), tuple(fractions), seed)
        return dict(zip(("train", "valid", "test"), parts, strict=True))

    def folds(self, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """k (train_idx, test_idx) pairs; every preset is in exactly one test fold."""
        n = len(self)
        if k < 2 or k > n:
            raise ValueError(f"k-fold needs 2 <= k <= {n} (dataset size), got k={k}")
        parts = np.array_split(np.random.default_rng(seed).permutation(n), k)
        out = []
        for i, test in enumerate(parts):
            train = np.concatenate([p for j, p in enumerate(parts) if j != i])
            out.append((np.sort(train), np.sort(test)))
        return out

    def synth(self) -> Synth:
        """The synth that rendered the dataset, pinned parameters included.

        Raises when its parameters are no longer the ones rendered; warns when only their
        ranges or defaults changed.
        """
        from bridge.synth.registry import rebuild_synth

        return rebuild_synth(self.synth_name, self.spec, self.manifest.get("synth_config"))
