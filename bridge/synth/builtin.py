"""What the built-in voices share: their output stage after the voice's own levels."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from bridge.synth import dsp
from bridge.synth.base import PAPER_NOTE, Note, Synth

# A short fade at the end of the render, so a note cut before its release ends without a click.
END_FADE_S = 0.01


class BuiltinSynth(Synth):
    """A numba voice whose levels tests can hold before the safety limiter."""

    def render(self, presets: np.ndarray, note: Note = PAPER_NOTE, sample_rate: int = 22050
               ) -> np.ndarray:
        out = self.render_unlimited(presets, note, sample_rate)
        dsp.soft_limit_and_fade(out, float(sample_rate), END_FADE_S)
        return out

    @abstractmethod
    def render_unlimited(self, presets: np.ndarray, note: Note = PAPER_NOTE,
                         sample_rate: int = 22050) -> np.ndarray:
        """``render`` before the soft limiter and end fade: what the voice's gain staging
        delivers. The limiter is a safety net; tests hold the levels here, where clipping
        would show."""
