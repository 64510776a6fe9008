"""Preset morphs with and without the training terms that keep them in range.

Run: ``.venv/bin/python benchmarks/morph_quality.py --data data/sub8k [--train 1600]
[--epochs 12] [--variants "base:inverse_weight=0.1;morph:morph_weight=1,onehot_weight=0.1"]``.
Trains the `default` config's model on a subset of a rendered dataset once per variant (the
same subset, seed and epochs), then scores held-out presets with
bridge.models.diagnostics.morph_health: the fraction of numerical outputs outside [0, 1]
(before the clamp) at morph points between encoded presets and between sound latents, and how
far encoded presets land from their own sounds' latents. ``--model PATH`` scores a saved
model on the dataset's test split instead (no training).

``--served MODEL --pairs 40`` measures morphs as the server serves them instead: for held-out
pairs of presets, the slot's own morph (anchors set from the presets, ``/morph t`` in 11
steps) against plain linear interpolation of the learned parameters, each step rendered at
the model's first note. Descriptors (centroid, aggression, flux, flatness, high-frequency
share, loudness, harmonic share; bridge.data.tags) are divided by their training standard
deviations; a path's roughness is the RMS of their second differences, its non-linearity the
RMS distance from the straight line between its ends, and its spectral path the summed
log-spectral MAE of its steps over that of its ends. Goals (with ``met``): the latent morph
beats interpolation on roughness and on non-linearity in the mean and on at least 60% of the
pairs; an encoded preset sits at most 0.3 times a random pair's distance from the latent of
its own sound (medians).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_result  # noqa: E402

from bridge.commands.train import parse_overrides  # noqa: E402
from bridge.data.dataset import Dataset  # noqa: E402
from bridge.models.configs import get_config  # noqa: E402
from bridge.models.diagnostics import morph_health  # noqa: E402
from bridge.models.saved import SavedModel  # noqa: E402
from bridge.train import prepare, train  # noqa: E402

DEFAULT_VARIANTS = "base:inverse_weight=0.1,morph_weight=0,onehot_weight=0"


def score(model: SavedModel, ds: Dataset, idx: np.ndarray) -> dict:
    data = prepare(ds, model.cfg, split=ds.split(seed=int(model.info.get("split_seed", 0))))
    x = (data.x[idx] * data.norm["std"] + data.norm["mean"] - model.norm["mean"]) / model.norm[
        "std"
    ]
    return morph_health(model.net, x, data.v[idx])


MORPH_DESCRIPTORS = ("centroid_hz", "aggression", "flux", "flatness", "hf_share",
                     "loudness_db", "harmonic_share")
MIN_SHARE = 0.6
MAX_CONSISTENCY = 0.3


def served_morphs(model_name: str, data: str, pairs: int, steps: int, seed: int) -> dict:
    from bridge.audio.metrics import log_spectral_mae
    from bridge.data.tags import DESCRIPTORS, describe_audio
    from bridge.hosting.registry import load_hosted
    from bridge.server.hosting import prepare as host_prepare
    from bridge.server.slots import Op, fresh_state, run_batch

    host = host_prepare(load_hosted(model_name))
    ds = Dataset(data)
    params, _, tags = ds.load()
    if ds.learn_spec.names != list(host.param_names):
        raise SystemExit(f"{data} does not hold {model_name}'s parameters: pass its training data")
    split = ds.split(seed=0)
    train_idx, test_idx = split["train"], split["test"]
    synth, note, sr = ds.synth(), ds.notes[0], ds.features.sample_rate
    cols = [DESCRIPTORS.index(n) for n in MORPH_DESCRIPTORS]
    spread = np.array([tags[n][train_idx].std() for n in MORPH_DESCRIPTORS])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(test_idx, size=(pairs, 2), replace=False)
    t = np.linspace(0.0, 1.0, steps)

    def render(learned):
        return synth.render(ds.spec.expand(ds.learn_spec, learned), note, sr)

    def path_scores(learned) -> tuple[float, float, float]:
        audio = render(learned)
        d = describe_audio(audio, sr, note.held)[:, cols] / spread
        line = (1 - t)[:, None] * d[0] + t[:, None] * d[-1]
        rough = float(np.sqrt((np.diff(d, 2, axis=0) ** 2).mean()))
        bent = float(np.sqrt(((d - line) ** 2).mean()))
        walked = float(log_spectral_mae(audio[1:], audio[:-1], sr).sum())
        direct = float(log_spectral_mae(audio[:1], audio[-1:], sr)[0])
        return rough, bent, walked / max(direct, 1e-9)

    state0 = fresh_state(host)
    gen = np.random.default_rng(0)
    rows = {"latent_morph": [], "parameter_interpolation": []}
    pre_to_sound, sound_lat = [], []
    for a, b in tqdm(chosen, desc="morph pairs", disable=None):
        va, vb = (ds.spec.restrict(ds.learn_spec, params[[i]])[0] for i in (a, b))
        ops = [Op("preset", va), Op("anchor", "a"), Op("preset", vb), Op("anchor", "b")]
        state, _ = run_batch(state0, ops, gen)
        path = []
        for x in t:
            moved, _ = run_batch(state, [Op("morph", float(x), wants=("params",))], gen)
            path.append(host.params_from_latent(moved.z[None])[0])
        rows["latent_morph"].append(path_scores(np.stack(path)))
        rows["parameter_interpolation"].append(
            path_scores((1 - t)[:, None] * va[None] + t[:, None] * vb[None]))
        enc = host.latent_from_params(np.stack([va, vb]))
        snd = host.latent_from_audio(render(np.stack([va, vb])))
        pre_to_sound.extend(np.linalg.norm(enc - snd, axis=1))
        sound_lat.extend(snd)
    sound_lat = np.asarray(sound_lat)
    perm = np.random.default_rng(seed + 1).permutation(len(sound_lat))
    random_pair = float(np.median(np.linalg.norm(sound_lat - sound_lat[perm], axis=1)))
    consistency = float(np.median(pre_to_sound)) / max(random_pair, 1e-12)
    lat, lerp = (np.asarray(rows[k]) for k in ("latent_morph", "parameter_interpolation"))
    summary = {
        k: {"roughness_mean": round(float(v[:, 0].mean()), 4),
            "nonlinearity_mean": round(float(v[:, 1].mean()), 4),
            "spectral_path_over_direct_median": round(float(np.median(v[:, 2])), 3)}
        for k, v in (("latent_morph", lat), ("parameter_interpolation", lerp))
    }
    def beats(col: int, key: str, what: str) -> dict:
        share = float((lat[:, col] < lerp[:, col]).mean())
        return {"what": f"latent morph {what}: lower in the mean and on at least 60% of pairs",
                "value": {"latent_mean": summary["latent_morph"][key],
                          "interpolation_mean": summary["parameter_interpolation"][key],
                          "share_of_pairs": round(share, 3)},
                "met": bool(lat[:, col].mean() < lerp[:, col].mean() and share >= MIN_SHARE)}

    goal = [
        beats(0, "roughness_mean", "smoother than parameter interpolation (descriptor roughness)"),
        beats(1, "nonlinearity_mean", "more linear than parameter interpolation (descriptor "
                                      "distance from the straight line)"),
        {"what": "encoded preset to its sound's latent, over a random pair's distance (medians)",
         "threshold": MAX_CONSISTENCY, "value": round(consistency, 3),
         "met": bool(consistency <= MAX_CONSISTENCY)},
    ]
    return {
        "settings": {"model": model_name, "data": data, "pairs": pairs, "steps": steps,
                     "seed": seed, "descriptors": list(MORPH_DESCRIPTORS),
                     "served_as": type(host).__name__},
        "summary": summary,
        "per_pair": {k: np.round(np.asarray(v), 4).tolist() for k, v in rows.items()},
        "goal": goal,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default=None, help="score this model instead of training")
    ap.add_argument("--train", type=int, default=1600, help="training presets")
    ap.add_argument("--test", type=int, default=400, help="held-out presets scored")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="name:k=v,k=v;name:...")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="morph_quality", help="result file name")
    ap.add_argument("--served", default=None, help="measure this model's morphs as served")
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--steps", type=int, default=11)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="where the JSON goes")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.served:
        t0 = time.time()
        result = served_morphs(args.served, args.data, args.pairs, args.steps, args.seed)
        write_result(args.name, {
            "benchmark": "morph_quality",
            "command": " ".join(["benchmarks/morph_quality.py", *(argv or sys.argv[1:])]),
            "machine": machine_info(),
            "seconds": round(time.time() - t0, 1),
            **result,
        }, args.out)
        return
    ds = Dataset(args.data)
    full = ds.split(seed=0)
    if args.model:
        model = SavedModel.load(args.model)
        idx = full["test"][: args.test]
        cases = {Path(args.model).name: {"scores": score(model, ds, idx)}}
        settings = {"model": args.model, "test": len(idx)}
    else:
        split = {
            "train": full["train"][: args.train],
            "valid": full["valid"][: max(64, args.train // 8)],
            "test": full["test"][: args.test],
        }
        cases = {}
        for spec in args.variants.split(";"):
            name, _, sets = spec.partition(":")
            overrides = parse_overrides([s for s in sets.split(",") if s])
            cfg = get_config("default", epochs=args.epochs, max_minutes=0.0, **overrides)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.time()
                model = train(args.data, cfg, Path(tmp) / "run", split=split, quiet=True)
                minutes = (time.time() - t0) / 60
            cases[name] = {
                "overrides": overrides,
                "train_minutes": round(minutes, 2),
                "best_epoch": model.info["best_epoch"],
                "best_valid_loss": round(model.info["best_valid_loss"], 4),
                "scores": score(model, ds, split["test"]),
            }
            print(name, json.dumps(cases[name]), flush=True)
        settings = {
            "data": args.data,
            "config": "default",
            "train": len(split["train"]),
            "valid": len(split["valid"]),
            "test": len(split["test"]),
            "epochs": args.epochs,
        }
    write_result(
        args.name,
        {
            "benchmark": "morph_quality",
            "command": " ".join(["benchmarks/morph_quality.py", *(argv or sys.argv[1:])]),
            "settings": settings,
            "machine": machine_info(),
            "cases": cases,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
