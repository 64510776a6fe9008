"""Render a synth's presets to a sharded dataset on disk, in parallel, resumably.

Reproducibility rests on one rule: shard ``i`` holds the presets with global ids
``i * shard_size .. (i + 1) * shard_size - 1``, drawn from a generator seeded by
``SeedSequence([seed, i])``. Which worker renders a shard, and when, changes nothing; every
worker (and the main process when ``workers == 1``) runs torch on one thread because parallel
reductions round differently with other thread counts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bridge import __version__, cluster
from bridge.audio.features import FeatureConfig, log_mel
from bridge.data import DEFAULT_SHARD_SIZE
from bridge.data import tags as tagmod
from bridge.data.dataset import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    npz_bytes,
    read_manifest,
    read_shard,
    sha256_bytes,
    sha256_file,
    shard_name,
    write_json_atomic,
    write_shard,
)
from bridge.synth.base import NOTE_SETS, SAMPLING_MODES, Note, Synth
from bridge.synth.spec import ParamSpec, SpecError

SILENCE_DB = -40.0
# Presets per synth.render call: bounds memory (4 s notes are ~350 kB each) whatever the shard size.
RENDER_BATCH = 64
# Manifest fields that are not part of a dataset's identity (they change while rendering).
_STATE_KEYS = ("status", "shards", "counts", "created_by")


def parse_notes(
    text: str, velocity: int = 100, held: float = 3.0, duration: float = 4.0
) -> list[Note]:
    """Notes from '60', '60,64', a named set ('six', 'single') or 'pitch:velocity' pairs."""
    text = str(text).strip()
    if text in NOTE_SETS:
        return [Note(p, v, held, duration) for p, v in NOTE_SETS[text]]
    notes = []
    for item in text.split(","):
        item = item.strip()
        try:
            if ":" in item:
                p, v = item.split(":", 1)
                notes.append(Note(int(p), int(v), held, duration))
            else:
                notes.append(Note(int(item), velocity, held, duration))
        except ValueError as e:
            if "outside" in str(e) or "held" in str(e) or "duration" in str(e):
                raise
            raise ValueError(
                f"cannot read note {item!r} in --notes {text!r}; give MIDI pitches ('60,64'), "
                f"pitch:velocity pairs ('60:100,64:80') or a named set ({', '.join(NOTE_SETS)})"
            ) from None
    if len({(n.pitch, n.velocity) for n in notes}) != len(notes):
        raise ValueError(f"--notes {text!r} repeats a note; each (pitch, velocity) once")
    return notes


def make_features(sample_rate: int = 22050, n_mels: int = 64) -> FeatureConfig:
    """The default mel settings, with the top band kept under Nyquist for low sample rates."""
    if not 8000 <= sample_rate <= 192000:
        raise ValueError(
            f"sample rate {sample_rate} Hz should lie in 8000..192000 (22050 is usual)"
        )
    return FeatureConfig(
        sample_rate=sample_rate, n_mels=n_mels, fmax=min(FeatureConfig.fmax, sample_rate / 2)
    )


def learn_params(spec: ParamSpec, subset: str | None) -> list[str]:
    """Parameter names to learn: all, a named subset, or a comma-separated list of names."""
    if subset is None or subset == "all":
        return spec.names
    if subset in spec.subsets:
        return list(spec.subsets[subset])
    names = [s.strip() for s in subset.split(",") if s.strip()]
    unknown = [n for n in names if n not in spec.names]
    if unknown or not names:
        raise SpecError(
            f"--subset {subset!r}: {spec.synth} has no subset or parameter named "
            f"{', '.join(unknown) or subset!r}; subsets: {', '.join(spec.subsets) or 'none'}; "
            "`flowsynth synths` lists the parameters"
        )
    return [n for n in spec.names if n in names]


@dataclass(frozen=True)
class RenderSettings:
    """Everything that decides a dataset's content."""

    synth: str
    n_presets: int
    notes: tuple[Note, ...] = (Note(),)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    seed: int = 0
    sampling: str = "uniform"
    subset: str | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    synth_config: str | None = None
    silence_db: float = SILENCE_DB
    # A folder of preset files natural presets start from (dexed: DX7 .syx cartridges).
    presets_from: str | None = None

    def __post_init__(self) -> None:
        if self.n_presets < 1:
            raise ValueError(f"--presets must be at least 1, got {self.n_presets}")
        if not 1 <= self.shard_size <= 1_000_000:
            raise ValueError(f"--shard-size must be between 1 and 1000000, got {self.shard_size}")
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"--sampling {self.sampling!r}: use one of {', '.join(SAMPLING_MODES)}"
            )
        if not self.notes:
            raise ValueError("give at least one note")
        if len({(n.held, n.duration) for n in self.notes}) != 1:
            raise ValueError("all notes must share held time and duration (one spectrogram size)")
        if not -120.0 <= self.silence_db < 0:
            raise ValueError(f"silence threshold {self.silence_db} dBFS should lie in -120..0")
        if self.seed < 0:
            raise ValueError(f"--seed must be non-negative, got {self.seed}")
        if self.presets_from is not None and self.sampling != "natural":
            raise ValueError("--presets-from gives natural presets; drop --sampling "
                             f"{self.sampling} (or pass --sampling natural)")

    @property
    def n_shards(self) -> int:
        return -(-self.n_presets // self.shard_size)

    def shard_range(self, index: int) -> tuple[int, int]:
        start = index * self.shard_size
        return start, min(start + self.shard_size, self.n_presets)


def manifest_header(settings: RenderSettings, synth: Synth) -> dict:
    """The manifest fields that identify a dataset (a re-run must match them to resume)."""
    desc = synth.describe()
    learn = learn_params(synth.spec, settings.subset)
    # A plugin's name carries its pins (the --synth-config resolved), so the dataset and
    # every model trained on it rebuild the same synth without the TOML file.
    name = synth.name if settings.synth.startswith("vst3:") else settings.synth
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "synth": {"name": name, "spec": desc["spec"]},
        "synth_config": settings.synth_config,
        "notes": [n.to_dict() for n in settings.notes],
        "features": settings.features.to_dict(),
        "sample_rate": settings.features.sample_rate,
        "seed": settings.seed,
        "sampling": settings.sampling,
        "subset": settings.subset,
        "learn_params": learn,
        "n_presets": settings.n_presets,
        "shard_size": settings.shard_size,
        "n_shards": settings.n_shards,
        "silence_db": settings.silence_db,
        # Only when given, so that datasets rendered before the option keep their identity.
        **({"presets_from": settings.presets_from} if settings.presets_from else {}),
        "tags": {
            "descriptors": list(tagmod.DESCRIPTORS),
            "booleans": list(tagmod.BOOLEAN_LABELS),
            "quantile": tagmod.QUANTILE,
        },
    }


def _identity(manifest: dict) -> dict:
    out = {k: v for k, v in manifest.items() if k not in _STATE_KEYS}
    out["tags"] = {k: v for k, v in manifest.get("tags", {}).items() if k != "pairs"}
    return out


def shard_presets(
    synth: Synth, settings: RenderSettings, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """The presets of shard ``index`` ([n, N] normalized) and their global ids."""
    start, stop = settings.shard_range(index)
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, index]))
    if settings.presets_from is not None:
        use = getattr(synth, "use_presets_from", None)
        if use is None:
            raise SpecError(f"--presets-from: {settings.synth} reads no preset files "
                            "(dexed reads DX7 .syx cartridges)")
        use(settings.presets_from)
    presets = synth.sample_presets(rng, stop - start, settings.sampling)
    spec = synth.spec
    learn = learn_params(spec, settings.subset)
    if len(learn) != len(spec):
        # Parameters outside the learned subset stay at their defaults.
        sub = spec.subset(learn)
        presets = spec.expand(sub, spec.restrict(sub, presets))
    return spec.check_norm(presets), np.arange(start, stop, dtype=np.int64)


def render_shard(synth: Synth, settings: RenderSettings, index: int) -> tuple[dict, dict]:
    """Arrays of shard ``index`` (silent presets dropped) and its drop counts."""
    presets, ids = shard_presets(synth, settings, index)
    # A synth whose state outlives a render (a plugin's free-running parts) starts each shard
    # afresh, so a shard's audio does not depend on the shards a worker rendered before it.
    restart = getattr(synth, "restart", None)
    if restart is not None:
        restart()
    feats, notes = settings.features, settings.notes
    n_samples = int(round(notes[0].duration * feats.sample_rate))
    n = len(presets)
    peak = np.zeros(n)
    finite = np.ones(n, dtype=bool)
    mels = np.zeros((n, len(notes), feats.n_mels, feats.n_frames(n_samples)), dtype=np.float16)
    values = np.zeros((n, len(tagmod.DESCRIPTORS)), dtype=np.float32)
    for lo in range(0, n, RENDER_BATCH):
        hi = min(lo + RENDER_BATCH, n)
        for c, note in enumerate(notes):
            audio = np.asarray(synth.render(presets[lo:hi], note, feats.sample_rate), np.float32)
            if audio.shape != (hi - lo, n_samples):
                raise RuntimeError(
                    f"synth {settings.synth!r} rendered shape {audio.shape}, expected "
                    f"{(hi - lo, n_samples)}; the synth is broken"
                )
            ok = np.all(np.isfinite(audio), axis=1)
            finite[lo:hi] &= ok
            audio = np.where(ok[:, None], audio, 0.0).astype(np.float32)
            peak[lo:hi] = np.maximum(peak[lo:hi], np.abs(audio).max(axis=1))
            mels[lo:hi, c] = log_mel(audio, feats).astype(np.float16)
            if c == 0:
                values[lo:hi] = tagmod.describe_audio(audio, feats.sample_rate, note.held)
    loud = peak >= 10.0 ** (settings.silence_db / 20.0)
    keep = loud & finite
    arrays = {
        "params": presets[keep].astype(np.float32),
        "mels": mels[keep],
        "tags": values[keep],
        "labels": tagmod.boolean_labels(values[keep]),
        "preset_ids": ids[keep],
    }
    return arrays, {
        "dropped_silent": int((~loud & finite).sum()),
        "dropped_nonfinite": int((~finite).sum()),
    }


# --- workers ------------------------------------------------------------------------------
_STATE: dict = {}


def _use_one_thread() -> int:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    return before


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started the pool goes away.

    A pool's workers outlive a main process that is killed (SIGKILL, OOM killer): they would
    go on rendering shards that no manifest records and print BrokenPipe tracebacks when
    they hand results to nobody. Linux can signal a child when its parent dies (prctl
    PR_SET_PDEATHSIG); elsewhere :func:`_render_and_write` checks the parent before each shard.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the per-shard check below still stops the worker
    # The parent may have died before prctl took effect; then nobody would signal us.
    if os.getppid() != parent_pid:
        os._exit(1)


def _init_worker(
    synth_ref: Synth | tuple[str, str | None],
    settings: RenderSettings,
    out: str,
    parent_pid: int | None = None,
) -> None:
    from bridge.synth.registry import get_synth

    # Ctrl-C reaches the whole process group; the main process alone handles it (it stops
    # the pool), so workers print no KeyboardInterrupt tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        _die_with_parent(parent_pid)
        _STATE["parent_pid"] = parent_pid
    _use_one_thread()
    synth = synth_ref if isinstance(synth_ref, Synth) else get_synth(*synth_ref)
    _STATE.update(synth=synth, settings=settings, out=Path(out))


def _entry(settings: RenderSettings, index: int, arrays: dict, drops: dict, sha: str) -> dict:
    start, stop = settings.shard_range(index)
    return {
        "index": index,
        "file": shard_name(index),
        "sha256": sha,
        "count": len(arrays["params"]),
        "rendered": stop - start,
        **drops,
    }


def _render_and_write(index: int) -> dict:
    settings: RenderSettings = _STATE["settings"]
    parent = _STATE.get("parent_pid")
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # orphaned (no PDEATHSIG on this system): the shard would go unrecorded
    arrays, drops = render_shard(_STATE["synth"], settings, index)
    sha = write_shard(_STATE["out"] / shard_name(index), arrays)
    return _entry(settings, index, arrays, drops, sha)


def _render_on_ray_worker(
    synth_ref: Synth | tuple[str, str | None], settings: RenderSettings, index: int
) -> tuple[dict, bytes]:
    """A Ray task: shard ``index`` as its entry and file bytes. The driver writes the file, so
    workers need no view of the output folder; the synth is built once per worker process."""
    if _STATE.get("ref") != synth_ref or "synth" not in _STATE:
        from bridge.synth.registry import get_synth

        _use_one_thread()  # as every local worker: the dataset must not depend on where it ran
        synth = synth_ref if isinstance(synth_ref, Synth) else get_synth(*synth_ref)
        _STATE.update(ref=synth_ref, synth=synth)
    arrays, drops = render_shard(_STATE["synth"], settings, index)
    data = npz_bytes(arrays)
    return _entry(settings, index, arrays, drops, sha256_bytes(data)), data


def _ray_task(synth_ref, settings: RenderSettings, index: int) -> tuple[dict, bytes]:
    return cluster.on_worker(_render_on_ray_worker, synth_ref, settings, index)


def _worker_env() -> dict[str, str]:
    """What the workers need of this process's environment to find the synth."""
    from bridge.synth.dexed import ENV_VAR

    return {k: os.environ[k] for k in (ENV_VAR,) if os.environ.get(k)}


# --- the output folder --------------------------------------------------------------------
def _is_ours(p: Path) -> bool:
    n = p.name
    return (
        n == MANIFEST
        or (n.startswith("shard-") and n.endswith(".npz"))
        or (n.startswith((".shard-", f".{MANIFEST}.")) and n.endswith(".tmp"))
    )


def _remove_leftovers(out: Path) -> None:
    # Temp files of a run that was killed mid-write: never complete, never counted.
    for p in out.glob(".*.tmp"):
        if _is_ours(p):
            p.unlink(missing_ok=True)


def _diff_keys(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def _prepare_out(
    out: Path, header: dict, overwrite: bool, log: Callable[[str], None]
) -> dict[int, dict]:
    """Check or create the output folder; return the verified finished shards by index."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; choose a folder path")
    if not out.exists():
        try:
            out.mkdir(parents=True)
        except FileExistsError:
            raise ValueError(
                f"--out {out}: a parent of this path is a file; choose a folder path"
            ) from None
        except NotADirectoryError:
            raise ValueError(
                f"--out {out}: a parent of this path is a file; choose a folder path"
            ) from None
        except PermissionError:
            raise PermissionError(
                f"cannot create --out {out}: permission denied; choose another folder"
            ) from None
        except OSError as e:
            raise ValueError(
                f"cannot create --out {out}: {e.strerror}; choose another folder"
            ) from None
        return {}
    if overwrite:
        for p in out.iterdir():
            if _is_ours(p) and p.is_file():
                p.unlink()
        return {}
    if not (out / MANIFEST).exists():
        if any(out.iterdir()):
            raise ValueError(
                f"--out {out} is not empty and holds no flowsynth dataset; choose an empty or new "
                "folder (or pass --overwrite to render into it anyway)"
            )
        return {}
    old = read_manifest(out)
    diff = _diff_keys(_identity(old), _identity(header))
    if diff:
        raise ValueError(
            f"--out {out} holds a dataset rendered with other settings (differs in: "
            f"{', '.join(diff)}); choose another folder, or pass --overwrite to replace it"
        )
    done = {}
    for s in old.get("shards", []):
        path = out / s["file"]
        if path.is_file() and sha256_file(path) == s["sha256"]:
            done[int(s["index"])] = s
        else:
            log(f"shard {s['file']} is missing or fails its checksum: rendering it again")
    return done


def _counts(done: dict[int, dict]) -> dict:
    shards = done.values()
    return {
        "rendered": sum(s["rendered"] for s in shards),
        "kept": sum(s["count"] for s in shards),
        "dropped_silent": sum(s["dropped_silent"] for s in shards),
        "dropped_nonfinite": sum(s["dropped_nonfinite"] for s in shards),
    }


def _manifest(header: dict, done: dict[int, dict], status: str) -> dict:
    return {
        **header,
        "created_by": f"flowsynth {__version__}",
        "status": status,
        "shards": [done[i] for i in sorted(done)],
        "counts": _counts(done),
    }


def _finalize(out: Path, header: dict, done: dict[int, dict]) -> dict:
    values = [read_shard(out / done[i]["file"], done[i]["sha256"])["tags"] for i in sorted(done)]
    allv = np.concatenate(values) if values else np.zeros((0, len(tagmod.DESCRIPTORS)), np.float32)
    manifest = _manifest(header, done, "complete")
    manifest["tags"] = {
        **header["tags"],
        "pairs": tagmod.pair_thresholds(allv, header["tags"]["quantile"]),
    }
    write_json_atomic(out / MANIFEST, manifest)
    return manifest


class InjectedStop(RuntimeError):
    """Raised by ``stop_after`` (tests): the run stops as if killed after that many shards."""


def render_dataset(
    settings: RenderSettings,
    out: str | Path,
    *,
    workers: int | None = 1,
    overwrite: bool = False,
    synth: Synth | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    stop_after: int | None = None,
    ray: str | None = None,
) -> dict:
    """Render (or finish rendering) a dataset into ``out``; return its final manifest.

    ``synth`` overrides looking the synth up by ``settings.synth`` (it must pickle for
    ``workers > 1`` or Ray). ``ray`` (``local``, ``auto`` or an address, see bridge.cluster)
    renders the shards as Ray tasks, at most ``workers`` at a time (None: the cluster's CPUs);
    the files are the same bytes as with ``workers=1``. Bad settings raise ValueError before
    anything touches the disk.
    """
    from tqdm import tqdm

    from bridge.synth.registry import get_synth

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if ray is None and workers is None:
        workers = 1
    if workers is not None and not 1 <= workers <= 256:
        raise ValueError(f"--workers must be between 1 and 256, got {workers}")
    if ray is not None:
        cluster.require_ray()
    if synth is None:
        synth = get_synth(settings.synth, settings.synth_config)
    header = manifest_header(settings, synth)  # validates the subset too
    out = Path(out)
    created = not out.exists()
    done = _prepare_out(out, header, overwrite, log)
    try:
        _remove_leftovers(out)
        write_json_atomic(out / MANIFEST, _manifest(header, done, "rendering"))
    except OSError as e:
        if created:
            out.rmdir()
        raise PermissionError(
            f"cannot write into --out {out} ({e.strerror}); choose another folder"
        ) from None

    todo = [i for i in range(settings.n_shards) if i not in done]
    finished_now = 0
    bar = tqdm(
        total=settings.n_presets,
        initial=sum(s["rendered"] for s in done.values()),
        unit="preset",
        desc=f"render {settings.synth}",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )

    def record(entry: dict) -> None:
        nonlocal finished_now
        done[entry["index"]] = entry
        write_json_atomic(out / MANIFEST, _manifest(header, done, "rendering"))
        bar.update(entry["rendered"])
        finished_now += 1
        if stop_after is not None and finished_now >= stop_after:
            raise InjectedStop(f"stopped after {finished_now} shard(s) as asked")

    # Workers get the synth itself when it is not findable by name in a fresh process.
    ref: Synth | tuple[str, str | None] = (header["synth"]["name"], None)
    if not type(synth).__module__.startswith("bridge."):
        ref = synth
    try:
        if ray is not None and todo:
            # A local instance gets the CPUs --workers asks for; a cluster has its own.
            with cluster.connect(ray, num_cpus=workers, env=_worker_env()) as rt:
                task = rt.remote(num_cpus=1, max_retries=2)(_ray_task)
                limit = workers or cluster.cluster_cpus()
                jobs = [(ref, settings, i) for i in todo]
                running = lambda k: bar.set_postfix_str(f"{k} running")  # noqa: E731
                for entry, data in cluster.as_completed(task, jobs, limit, running):
                    if write_shard(out / entry["file"], data) != entry["sha256"]:
                        raise OSError(f"shard {entry['file']} changed on its way from the worker")
                    record(entry)
        elif workers == 1 or len(todo) <= 1:
            threads = _use_one_thread()
            try:
                _STATE.update(synth=synth, settings=settings, out=out)
                for i in todo:
                    record(_render_and_write(i))
            finally:
                import torch

                torch.set_num_threads(threads)
                _STATE.clear()
        else:
            # spawn: a fresh interpreter per worker, safe with torch's and numba's threads.
            ctx = mp.get_context("spawn")
            init = (ref, settings, str(out), os.getpid())
            with ctx.Pool(min(workers, len(todo)), _init_worker, init) as pool:
                for entry in pool.imap_unordered(_render_and_write, todo):
                    record(entry)
    finally:
        bar.close()
    return _finalize(out, header, done)
