"""The sketch's note: its fundamental by YIN (librosa's ``yin``), voicing by periodicity.

The estimate sits in front of the first answer, so it must be quick: audio at half the
model's rate, 1024-sample frames (46 ms at 22.05 kHz / 2), about 5 ms for a 4 s sketch on
one core. (librosa's pyin gives voicing probabilities too but rebuilds its transition matrix
on every call, some 100 ms.) A frame is voiced when its signal repeats at YIN's period
(normalized autocorrelation at that lag over ``MIN_PERIODICITY``) and it is no more than
30 dB under the loudest frame; the note is the median pitch of the voiced frames, so a
hum's vibrato averages out. A sketch with too few voiced frames is unpitched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FMIN, FMAX = 55.0, 1100.0  # A1 to C#6: voices and most synth leads
MIN_VOICED = 0.3  # share of frames that must be voiced for a sketch to count as pitched
MIN_PERIODICITY = 0.7
QUIET_DB = 30.0  # frames this far under the loudest one are not judged
MAX_SECONDS = 8.0  # a longer sketch is judged on its first 8 s
FRAME = 1024


@dataclass(frozen=True)
class Pitch:
    midi: int  # nearest MIDI note, -1 for an unpitched sketch
    hz: float  # median fundamental of the voiced frames (0 when unpitched)
    confidence: float  # voiced share times the voiced frames' mean periodicity, 0..1

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
    sr = int(sample_rate)
    if sr >= 16000:
        x, sr = resample_poly(x, 1, 2).astype(np.float32), sr // 2
    fmax = min(FMAX, sr / 4)
    if x.size < 2 * FRAME or fmax <= 2 * FMIN or not np.any(np.abs(x) > 1e-4):
        return Pitch(-1, 0.0, 0.0)
    hop = FRAME // 2
    f0 = librosa.yin(x, fmin=FMIN, fmax=fmax, sr=sr, frame_length=FRAME, hop_length=hop,
                     center=False)
    frames = librosa.util.frame(x, frame_length=FRAME, hop_length=hop)  # [FRAME, n]
    n = min(frames.shape[1], len(f0))
    frames, f0 = frames[:, :n], f0[:n]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=0))
    loud = rms > max(rms.max() * 10 ** (-QUIET_DB / 20), 1e-5)
    period = np.clip(np.round(sr / f0).astype(int), 1, FRAME // 2)
    per = np.zeros(n)
    for i in np.flatnonzero(loud):
        a, b = frames[: FRAME - period[i], i], frames[period[i] :, i]
        den = np.sqrt(float(a @ a) * float(b @ b))
        per[i] = float(a @ b) / den if den > 0 else 0.0
    # YIN pinned at an end of its range found no period inside it (low-passed noise repeats
    # itself over a few samples and would read as the highest pitch).
    inside = (f0 > FMIN * 1.03) & (f0 < fmax / 1.03)
    voiced = loud & inside & (per > MIN_PERIODICITY)
    share = float(voiced.sum()) / max(int(loud.sum()), 1)
    if share < MIN_VOICED:
        return Pitch(-1, 0.0, round(share * float(per[voiced].mean()) if voiced.any() else 0, 4))
    hz = float(np.median(f0[voiced]))
    conf = share * float(per[voiced].mean())
    return Pitch(int(np.clip(np.round(hz_to_midi(hz)), 0, 127)), hz, round(conf, 4))


def warm_up() -> None:
    """The first call imports librosa (about a second): do it before a user waits."""
    sr = 22050
    t = np.arange(sr) / sr
    estimate_pitch((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
