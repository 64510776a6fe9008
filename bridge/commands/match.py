"""`flowsynth match`: the preset that sounds closest to a sound file, found within a budget."""

from __future__ import annotations

import argparse
from pathlib import Path

from bridge import atomic


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("audio", help="a sound file (wav, flac, aiff, ogg, mp3): a sketch, a sample")
    p.add_argument("--model", default=None, help="model file or name (default: the shipped one)")
    p.add_argument("--out", required=True, help="JSON file for the preset")
    p.add_argument("--wav", default=None, help="also render the preset to this WAV file")
    p.add_argument("--budget", type=float, default=2.0,
                   help="seconds to search (default 2; 0 gives the first answer, no renders)")
    p.add_argument("--threads", type=int, default=1,
                   help="render and score a search's candidates on N cores (default 1)")
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from bridge.audio.io import check_output_file, load_audio, save_wav
    from bridge.hosting.registry import resolve_model_path
    from bridge.matching.matcher import Matcher
    from bridge.matching.objective import MFCC_WEIGHT
    from bridge.models.saved import SavedModel
    from bridge.synth.registry import rebuild_synth

    if not 0 <= args.budget <= 600:
        raise ValueError(f"--budget {args.budget}: give seconds between 0 and 600")
    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise ValueError(f"--out {out}: give a .json file name")
    check_output_file(out)
    if args.wav:
        if Path(args.wav).suffix.lower() != ".wav":
            raise ValueError(f"--wav {args.wav}: give a .wav file name")
        check_output_file(Path(args.wav), "--wav")
    path = resolve_model_path(args.model)
    if path.suffix != ".pt":
        raise ValueError(f"{path}: matching needs a model checkpoint (.pt), not an export")
    model = SavedModel.load(path)
    sr = model.features.sample_rate
    audio = load_audio(args.audio, sr, max_seconds=30)
    try:
        synth = rebuild_synth(model.synth_name, model.spec)
    except Exception as e:  # a plugin that is not installed: the candidates still work
        print(f"# the synth {model.synth_name} is not available ({e}); no refinement")
        synth = None
    if not 1 <= args.threads <= 64:
        raise ValueError(f"--threads {args.threads}: give 1 to 64")
    matcher = Matcher(model, synth, threads=args.threads, seed=args.seed)
    matcher.warm_up()
    m = matcher.match(audio, args.budget, refine=synth is not None and args.budget > 0)
    result = {"model": str(path), "audio": str(args.audio), "budget": args.budget,
              "objective": f"log-spectral MAE + {MFCC_WEIGHT} x MFCC MAE",
              **m.to_dict(model.spec)}
    atomic.write_json(out, result)
    if m.pitch.pitched:
        print(f"# pitch {m.pitch.hz:.1f} Hz (MIDI {m.pitch.midi}, confidence "
              f"{m.pitch.confidence:.2f}); matched at note {m.note.pitch}: play it there")
    else:
        print(f"# unpitched sketch; matched at note {m.note.pitch}")
    for name, value in model.spec.describe(m.preset).items():
        print(f"{name}={value}")
    dist = "" if not np.isfinite(m.distance) else (
        f", log-spec MAE {m.log_spectral_mae:.3f}, MFCC MAE {m.mfcc_mae:.2f}")
    print(f"# {m.source} preset after {m.renders} renders in {m.elapsed:.2f} s{dist}")
    print(f"# wrote {out}")
    if args.wav:
        if synth is None:
            raise ValueError(f"--wav needs the synth {model.synth_name}, which is not available")
        wav = synth.render(m.preset[None], m.note, sr)[0]
        save_wav(args.wav, np.clip(wav, -1.0, 1.0), sr)
        print(f"# wrote {args.wav}")
    return 0
