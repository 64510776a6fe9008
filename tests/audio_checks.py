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
