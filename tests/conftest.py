"""Shared fixtures: a tiny deterministic synth, registered as ``testsine``, and small datasets."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.synth.base import PAPER_NOTE, Note, Synth
from bridge.synth.spec import Param, ParamSpec


class SineSynth(Synth):
    """Two sines with a decay, a level and a waveform choice: fast, deterministic, and a third
    of its uniform presets are under -40 dBFS, so silence dropping gets exercised."""

    name = "testsine"
    spec = ParamSpec(
        "testsine",
        (
            Param("ratio", low=0.5, high=4.0, default=2.0, curve="exp", description="2nd sine"),
            Param("mix", default=0.5, description="level of the second sine"),
            Param("decay", low=0.05, high=2.0, default=0.5, unit="s", curve="exp"),
            Param("level", low=-60.0, high=0.0, default=-6.0, unit="dB"),
            Param("voices", low=1, high=4, default=1, steps=4),
            Param("wave", kind="categorical", categories=("sine", "square"), default=0),
        ),
        {"tone": ("ratio", "mix", "wave")},
    )

    def render(
        self, presets: np.ndarray, note: Note = PAPER_NOTE, sample_rate: int = 22050
    ) -> np.ndarray:
        v = self.spec.real_dict(self.spec.check_norm(presets))
        n = int(round(note.duration * sample_rate))
        t = np.arange(n) / sample_rate
        f = note.frequency
        osc1 = np.sin(2 * np.pi * f * t)[None, :]
        osc2 = np.sin(2 * np.pi * f * v["ratio"][:, None] * t)
        square = v["wave"][:, None] > 0.5
        osc1 = np.where(square, np.tanh(4 * osc1), osc1)
        # Detuned copies for the voices: a slow beating makes "moving" sounds.
        detune = np.sin(2 * np.pi * f * 1.01 * t)[None, :] * (v["voices"][:, None] - 1) / 3
        env = np.exp(-t[None, :] / v["decay"][:, None]) * (t[None, :] < note.held)
        amp = 10 ** (v["level"][:, None] / 20) * note.velocity / 127
        out = amp * env * (osc1 + v["mix"][:, None] * osc2 + detune) / 2.5
        return out.astype(np.float32)


@pytest.fixture(autouse=True)
def testsine_registered(monkeypatch):
    """Make ``testsine`` findable by name, as the built-in synths are."""
    from bridge.synth import registry

    monkeypatch.setitem(registry.BUILTIN_SYNTHS, "testsine", SineSynth)
    return SineSynth


@pytest.fixture
def sine() -> SineSynth:
    return SineSynth()


def render_sine_dataset(root, presets: int = 96):
    """A small ``testsine`` dataset of one 1 s note (what the training tests learn from)."""
    from bridge.data.render import RenderSettings, render_dataset

    settings = RenderSettings("testsine", presets, notes=(Note(60, 100, 0.5, 1.0),),
                              shard_size=32)  # fmt: skip
    render_dataset(settings, root, synth=SineSynth(), progress=False, log=lambda m: None)
    return root
