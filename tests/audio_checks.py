"""Listening checks the synth tests share."""

from __future__ import annotations

import numpy as np


def steps(y: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(y))


def assert_no_clicks(y: np.ndarray, sr: int) -> None:
    """Onset and end start/finish near zero, with no jump far above the nearby signal's."""
    ms = sr // 1000
    # the first sample is at most that of a 1 ms linear ramp to the note's peak
    assert abs(y[0]) <= np.abs(y).max() / 50 and abs(y[-1]) < 1e-4
    assert steps(y[: 2 * ms]).max() <= 1.5 * np.percentile(steps(y[2 * ms : 60 * ms]), 99)
    assert steps(y[-5 * ms :]).max() <= 1.5 * np.percentile(steps(y[-100 * ms : -20 * ms]), 99)


def alias_db(y: np.ndarray, sr: float, f0: float) -> float:
    """Energy away from the harmonics of f0 relative to the fundamental, in dB."""
    x = np.abs(np.fft.rfft(y * np.blackman(len(y)))) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / sr)
    k = f / f0
    tol = max(8.0, 4.0 * sr / len(y))  # the Blackman window's main lobe: 3 bins each side
    harmonic = np.abs(k - np.round(k)) * f0 < tol
    fundamental = x[np.abs(f - f0) < tol].sum()
    return float(10 * np.log10(x[~harmonic & (f > 20)].sum() / fundamental))
