"""The sketch's note: its fundamental by probabilistic YIN (librosa's pyin).

Settings trade resolution for speed, since the estimate sits in front of the first answer:
audio at half the model's rate, 1024-sample frames and hops, a fifth-of-a-semitone grid; about 30 ms
for a 4 s sketch on one core. The note is the median of the voiced frames' pitches (a hum's
vibrato averages out); a sketch with too few voiced frames is unpitched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FMIN, FMAX = 55.0, 1100.0  # A1 to C#6: voices and most synth leads
MIN_VOICED = 0.3  # share of frames that must be voiced for a sketch to count as pitched
MAX_SECONDS = 8.0  # a longer sketch is judged on its first 8 s


@dataclass(frozen=True)
class Pitch:
    midi: int  # nearest MIDI note, -1 for an unpitched sketch
    hz: float  # median fundamental of the voiced frames (0 when unpitched)
    confidence: float  # voiced share times mean voicing probability of the voiced frames

    @property
    def pitched(self) -> bool:
        return self.midi >= 0


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * np.log2(hz / 440.0)


def estimate_pitch(audio: np.ndarray, sample_rate: int) -> Pitch:
    """Mono audio -> its note; silence and noise give ``midi == -1``."""
    import librosa
    from scipy.signal import resample_poly

    x = np.asarray(audio, np.float32).reshape(-1)[: int(MAX_SECONDS * sample_rate)]
    if x.size < 2048 or not np.any(np.abs(x) > 1e-4):
        return Pitch(-1, 0.0, 0.0)
    sr = sample_rate
    if sr >= 16000:
        x, sr = resample_poly(x, 1, 2).astype(np.float32), sr // 2
    fmax = min(FMAX, sr / 4)
    if fmax <= 2 * FMIN:
        return Pitch(-1, 0.0, 0.0)  # too low a rate to tell a voice's pitch
    hop, res = 1024, 0.2
    # pyin's pitch-transition window must fit its pitch grid: at long hops or narrow ranges
    # the default rate (35.92 octaves/s) would not, so it is capped to what fits.
    n_bins = int(np.floor(12 / res * np.log2(fmax / FMIN))) + 1
    rate = min(35.92, 0.9 * (n_bins - 1) * res * sr / (12 * hop) / 2)
    f0, voiced, prob = librosa.pyin(
        x, fmin=FMIN, fmax=fmax, sr=sr, frame_length=1024, hop_length=hop, resolution=res,
        max_transition_rate=rate,
    )
    voiced = voiced & np.isfinite(f0)
    share = float(voiced.mean()) if voiced.size else 0.0
    if share < MIN_VOICED:
        return Pitch(-1, 0.0, round(share * float(np.nanmean(prob)) if prob.size else 0.0, 4))
    hz = float(np.median(f0[voiced]))
    conf = share * float(np.mean(prob[voiced]))
    midi = int(np.clip(np.round(hz_to_midi(hz)), 0, 127))
    return Pitch(midi, hz, conf)


def warm_up() -> None:
    """pyin compiles with numba on first use (about 20 s): do it before a user waits."""
    sr = 22050
    t = np.arange(sr) / sr
    estimate_pitch((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
