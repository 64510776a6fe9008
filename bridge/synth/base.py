"""What every synth offers: a parameter spec, batch rendering, and preset sampling."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass

import numpy as np

from bridge.synth.spec import ParamSpec

SAMPLING_MODES = ("uniform", "natural")


@dataclass(frozen=True)
class Note:
    """One rendered note: MIDI pitch and velocity, seconds held, seconds rendered in all."""

    pitch: int = 60
    velocity: int = 100
    held: float = 3.0
    duration: float = 4.0

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"note pitch {self.pitch} is outside MIDI's 0..127")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"note velocity {self.velocity} is outside 1..127")
        if not 0 < self.held <= self.duration:
            raise ValueError(f"held time {self.held}s must be > 0 and <= duration {self.duration}s")
        if self.duration > 60:
            raise ValueError(f"duration {self.duration}s is over 60 s; render shorter notes")

    @property
    def frequency(self) -> float:
        return 440.0 * 2.0 ** ((self.pitch - 69) / 12.0)

    def to_dict(self) -> dict:
        return asdict(self)


# The papers' single note, and Le Vaillant et al. 2021's six (pitch, velocity) pairs.
PAPER_NOTE = Note(60, 100, 3.0, 4.0)
NOTE_SETS: dict[str, tuple[tuple[int, int], ...]] = {
    "single": ((60, 100),),
    "six": ((40, 85), (50, 85), (60, 42), (60, 85), (60, 127), (70, 85)),
}


class Synth(ABC):
    """A synthesizer that renders batches of presets given as normalized [0, 1] values."""

    #: the name that finds this synth again (``subtractive``, ``vst3:/path/X.vst3``)
    name: str
    spec: ParamSpec

    @abstractmethod
    def render(
        self, presets: np.ndarray, note: Note = PAPER_NOTE, sample_rate: int = 22050
    ) -> np.ndarray:
        """[B, N] normalized presets -> [B, T] float32 mono audio, T = duration * sample_rate."""

    def sample_presets(self, rng: np.random.Generator, n: int, mode: str = "uniform") -> np.ndarray:
        """[n, N] normalized presets. ``natural`` draws them the way people program a synth."""
        if mode == "uniform":
            return self.spec.sample_uniform(rng, n)
        if mode == "natural":
            return self.sample_natural(rng, n)
        raise ValueError(
            f"unknown preset sampling {mode!r}; use one of {', '.join(SAMPLING_MODES)}"
        )

    def sample_natural(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.spec.sample_uniform(rng, n)

    def describe(self) -> dict:
        """What a manifest or a saved model stores to find and check this synth again."""
        return {"name": self.name, "spec": self.spec.to_dict()}
