"""Sound matching: audio -> the preset whose render sounds closest, within a time budget.

Stages, each checked against the deadline:
1. **Pitch** (:mod:`bridge.matching.pitch`): candidates are rendered at the sketch's nearest
   MIDI note, the note the user will play; the model and the index, trained at their own
   note, read the sketch shifted to it.
2. **Candidates** from the retrieval index (the nearest training sounds) and from the model
   (its inference and draws from its posterior). The index's nearest sound is the first
   answer: it needs no render.
3. **Scoring**: every candidate rendered and scored by :class:`SpectralObjective`.
4. **Search** from the best of them: CMA-ES (the ``cma`` package) over the numerical
   parameters, with a small step (a big first step in 30 dimensions walks away from a good
   start), alternated with sweeps that try every other category of each categorical
   parameter; the best preset so far is kept until something beats it.

Every improvement goes to ``on_improve``; ``cancel`` (a threading or multiprocessing event)
stops the search between renders.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction

import cma  # imported here, not at the first search: the import alone takes ~0.3 s
import numpy as np
import torch

from bridge.matching.index import RetrievalIndex
from bridge.matching.objective import MFCC_WEIGHT, SpectralObjective
from bridge.matching.pitch import Pitch, estimate_pitch
from bridge.models.saved import SavedModel
from bridge.synth.base import Note, Synth

DEFAULT_BUDGET = 2.0
N_NEIGHBOURS = 8
N_DRAWS = 7
SIGMA = 0.03
MAX_SWEPT_STEPS = 16  # stepped values with more steps than this are left to CMA-ES
STRIDE = 2  # the search scores every other spectrogram frame (see SpectralObjective)
MAX_SKETCH_SECONDS = 30.0


class MatchCancelled(Exception):
    """The search was asked to stop (a new sketch, a load, a dial move)."""


@dataclass
class Match:
    learned: np.ndarray  # [n_learn] normalized values, snapped to each parameter's grid
    preset: np.ndarray  # [N] the full preset (fixed parameters at the model's values)
    distance: float  # the objective (nan for an answer given before any render)
    log_spectral_mae: float
    mfcc_mae: float
    source: str  # index, model, posterior, search
    renders: int
    elapsed: float  # seconds since the match began
    pitch: Pitch
    note: Note
    history: list[tuple[float, float, str]] = field(default_factory=list)  # (t, distance, src)

    def to_dict(self, spec) -> dict:
        return {
            "params": {k: float(v) for k, v in zip(spec.names, self.preset, strict=True)},
            "real": {k: _plain(v) for k, v in spec.describe(self.preset).items()},
            "distance": self.distance,
            "log_spectral_mae": self.log_spectral_mae,
            "mfcc_mae": self.mfcc_mae,
            "source": self.source,
            "renders": self.renders,
            "seconds": round(self.elapsed, 3),
            "note": {"midi": self.pitch.midi, "hz": self.pitch.hz,
                     "confidence": self.pitch.confidence, "rendered_at": self.note.pitch},
        }


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def render_note(pitch: Pitch, base: Note) -> Note:
    """The note candidates are rendered at, and the one to play the preset at: the sketch's
    pitch class in the octave nearest the model's note. Octaves are the preset's business
    (its octave switches, which the model and the index know); moving the sketch by more
    than half an octave to meet the model would stretch its envelope out of shape."""
    if not pitch.pitched:
        return base
    step = (pitch.midi - base.pitch + 6) % 12 - 6
    return Note(int(np.clip(base.pitch + step, 0, 127)), base.velocity, base.held, base.duration)


class Matcher:
    """Matches sounds for one model on one synth; build once, call :meth:`match` per sound."""

    def __init__(self, model: SavedModel, synth: Synth | None, index: RetrievalIndex | None = None,
                 *, neighbours: int = N_NEIGHBOURS, draws: int = N_DRAWS, sigma: float = SIGMA,
                 stride: int = STRIDE, popsize: int | None = None,
                 mfcc_weight: float = MFCC_WEIGHT, threads: int = 1, seed: int = 0) -> None:
        self.model = model
        self.synth = synth
        self.index = index if index is not None else RetrievalIndex.from_tensors(model.extras)
        self.neighbours, self.draws, self.sigma = neighbours, draws, sigma
        self.seed = seed
        self.stride, self.popsize, self.mfcc_weight = stride, popsize, mfcc_weight
        # threads > 1 renders a population's parts at once (one core each)
        self.threads = max(1, int(threads))
        self._pool = (ThreadPoolExecutor(self.threads, "flowsynth-match")
                      if self.threads > 1 else None)
        spec = model.learn_spec
        # CMA-ES moves the continuous values; a step of a stepped value (an octave switch, a
        # voice count) is a plateau to it, so those are swept like the categories: every
        # other category, and the neighbouring steps of an ordered value.
        self.cat_cols = [i for i, p in enumerate(spec.params) if p.is_categorical]
        self.step_cols = [i for i, p in enumerate(spec.params)
                          if p.is_discrete and not p.is_categorical and p.steps <= MAX_SWEPT_STEPS]
        swept = set(self.cat_cols) | set(self.step_cols)
        self.num_cols = [i for i in range(len(spec)) if i not in swept]
        self.cat_steps = [spec.params[i].steps for i in self.cat_cols]
        self.step_steps = [spec.params[i].steps for i in self.step_cols]
        self.sr = model.features.sample_rate

    # --- pieces ---------------------------------------------------------------------------
    def note_for(self, pitch: Pitch) -> Note:
        return render_note(pitch, self.model.notes[0])

    def to_model_note(self, audio: np.ndarray, note: Note) -> np.ndarray:
        """The sketch moved from the render note to the model's training note (by
        resampling, at most half an octave), as the model and the index heard their
        training sounds."""
        if note.pitch == self.model.notes[0].pitch:
            return audio
        from scipy.signal import resample_poly

        ratio = Fraction(2.0 ** ((self.model.notes[0].pitch - note.pitch) / 12.0))
        ratio = ratio.limit_denominator(48)
        return resample_poly(audio, ratio.denominator, ratio.numerator).astype(np.float32)

    @torch.no_grad()
    def model_candidates(self, mels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The model's inference and ``draws`` posterior samples, as learned presets."""
        net = self.model.net
        x = self.model.normalize(mels)
        out = [self.model.decode_params(net.infer(x))]
        if self.draws and hasattr(net, "latent") and hasattr(net, "params_from_latent"):
            torch.manual_seed(int(rng.integers(2**31)))
            z, _ = net.latent(x.repeat(self.draws, 1, 1, 1), sample=True)
            out.append(self.model.decode_params(net.params_from_latent(z)))
        return np.concatenate(out)

    def snap(self, learned: np.ndarray) -> np.ndarray:
        return self.model.learn_spec.quantize(np.clip(learned, 0.0, 1.0)).astype(np.float32)

    def render(self, learned: np.ndarray, note: Note) -> np.ndarray:
        if self.synth is None:
            raise RuntimeError(
                f"rendering needs the synth {self.model.synth_name}, which is not available"
            )
        return self.synth.render(self.model.full_presets(self.snap(learned)), note, self.sr)

    def warm_up(self) -> None:
        """Compile what the first match would (the synth's kernels, the pitch tracker) before
        a budget is counted."""
        from bridge.matching.pitch import warm_up as pitch_warm_up

        pitch_warm_up()
        if self.synth is not None:
            audio = self.render(self.model.learn_spec.defaults()[None], self.model.notes[0])
            SpectralObjective(audio[0], self.sr)(audio)

    # --- the match ------------------------------------------------------------------------
    def match(
        self,
        audio: np.ndarray,
        budget: float = DEFAULT_BUDGET,
        *,
        pitch: Pitch | None = None,
        on_pitch: Callable[[Pitch], None] | None = None,
        on_improve: Callable[[Match], None] | None = None,
        cancel=None,
        refine: bool = True,
    ) -> Match:
        """The best preset found for ``audio`` (mono, the model's sample rate) in ``budget``
        seconds. ``refine=False`` stops after the candidates (no synth needed)."""
        t0 = time.perf_counter()
        deadline = t0 + max(0.0, float(budget))
        a = np.asarray(audio, np.float32).reshape(-1)
        if a.size == 0 or not np.all(np.isfinite(a)):
            raise ValueError("the sketch must be non-empty audio with finite samples")
        a = a[: int(MAX_SKETCH_SECONDS * self.sr)]
        rng = np.random.default_rng(self.seed)
        if pitch is None:
            pitch = estimate_pitch(a, self.sr)
        if on_pitch:
            on_pitch(pitch)
        note = self.note_for(pitch)
        target = self.model.fit_to_note([a])[0]
        mels = self.model.audio_features([self.to_model_note(a, note)])

        best: Match | None = None
        renders = 0
        history: list[tuple[float, float, str]] = []

        def offer(learned: np.ndarray, dist: float, parts: tuple[float, float], src: str) -> None:
            nonlocal best
            if best is not None and not dist < best.distance:
                return
            learned = self.snap(learned)
            now = time.perf_counter() - t0
            history.append((round(now, 4), float(dist), src))
            best = Match(learned, self.model.full_presets(learned[None])[0], float(dist),
                         float(parts[0]), float(parts[1]), src, renders, now, pitch, note,
                         history)
            if on_improve:
                on_improve(best)

        def check() -> None:
            if cancel is not None and cancel.is_set():
                raise MatchCancelled()

        # 2. candidates; the index's nearest sound answers first (the model's come next: its
        # encoder and posterior draws cost more than the lookup).
        def first_answer(learned: np.ndarray, src: str) -> Match:
            m = Match(learned, self.model.full_presets(learned[None])[0], float("nan"),
                      float("nan"), float("nan"), src, 0, time.perf_counter() - t0, pitch,
                      note, history)
            history.append((round(m.elapsed, 4), float("nan"), src))
            if on_improve:
                on_improve(m)
            return m

        cands, sources = [], []
        if self.index is not None:
            nn, _ = self.index.nearest(mels, self.neighbours)
            cands.append(self.snap(self.index.presets[nn[0]]))
            sources += ["index"] * nn.shape[1]
            best = first_answer(cands[0][0], "index")
        mc = self.snap(self.model_candidates(mels, rng))
        cands.append(mc)
        sources += ["model"] + ["posterior"] * (len(mc) - 1)
        cands_a = np.concatenate(cands)
        if best is None:
            best = first_answer(mc[0], "model")
        if not refine or self.synth is None or time.perf_counter() >= deadline:
            return best
        best.distance = float("inf")

        # 3. score every candidate (in small batches, so a short budget still stops in time).
        objective = SpectralObjective(target, self.sr, self.mfcc_weight, stride=self.stride)
        clock = _Clock(deadline)
        step = 4 * self.threads
        for i in range(0, len(cands_a), step):
            check()
            chunk = cands_a[i : i + step]
            if not clock.fits(len(chunk)):
                break
            with clock.timing(len(chunk)):
                lsd, mf = self._score(objective, chunk, note)
            renders += len(chunk)
            d = lsd + objective.mfcc_weight * mf
            for j in range(len(chunk)):
                offer(chunk[j], d[j], (lsd[j], mf[j]), sources[i + j])

        # 4. search from the best: CMA-ES on numerical values, category sweeps in between.
        try:
            renders = self._search(objective, note, clock, check, offer, rng,
                                   lambda: best, renders)
        except MatchCancelled:
            raise
        assert best is not None
        best.renders = renders
        best.elapsed = time.perf_counter() - t0
        return best

    def _score(self, objective: SpectralObjective, pop: np.ndarray, note: Note):
        if self._pool is None or len(pop) < 2:
            return objective.parts(self.render(pop, note))
        # The synth's kernels and torch release the GIL: threads render and score side by side.
        parts = np.array_split(pop, self.threads)
        done = list(self._pool.map(lambda p: objective.parts(self.render(p, note)), parts))
        return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])

    def _evaluate(self, objective: SpectralObjective, pop: np.ndarray, note: Note, clock):
        with clock.timing(len(pop)):
            lsd, mf = self._score(objective, pop, note)
        return lsd + objective.mfcc_weight * mf, lsd, mf

    def _search(self, objective, note, clock, check, offer, rng, get_best, renders) -> int:
        n_num = len(self.num_cols)
        sweep_every = 6  # CMA generations between category sweeps
        gens = 0
        popsize = self.popsize or max(6, 4 + int(3 * np.log(max(n_num, 1))))
        while clock.fits(popsize):
            check()
            start = get_best()
            base = start.learned.copy()
            if n_num:
                es = cma.CMAEvolutionStrategy(
                    base[self.num_cols].astype(np.float64), self.sigma,
                    {"bounds": [0.0, 1.0], "verbose": -9, "seed": int(rng.integers(1, 2**30)),
                     "popsize": popsize},
                )
                while clock.fits(popsize) and not es.stop():
                    check()
                    xs = es.ask()
                    cur = get_best().learned
                    pop = np.repeat(cur[None], len(xs), 0)
                    pop[:, self.num_cols] = np.clip(np.asarray(xs), 0.0, 1.0)
                    d, lsd, mf = self._evaluate(objective, pop, note, clock)
                    renders += len(pop)
                    es.tell(xs, d.tolist())
                    k = int(np.argmin(d))
                    offer(pop[k], d[k], (lsd[k], mf[k]), "search")
                    gens += 1
                    if self._swept and gens % sweep_every == 0:
                        renders = self._sweep(objective, note, clock, check, offer,
                                              get_best, renders)
            if self._swept:
                renders = self._sweep(objective, note, clock, check, offer, get_best, renders)
            if not n_num and not self._swept:
                break
        return renders

    @property
    def _swept(self) -> bool:
        return bool(self.cat_cols or self.step_cols)

    def _sweep(self, objective, note, clock, check, offer, get_best, renders) -> int:
        """On the best preset, try every other category of each categorical parameter and
        the neighbouring steps of each stepped one."""
        cur = get_best().learned
        pop = []
        moves = [(col, steps, range(steps)) for col, steps in
                 zip(self.cat_cols, self.cat_steps, strict=True)]
        for col, steps in zip(self.step_cols, self.step_steps, strict=True):
            now = int(round(cur[col] * (steps - 1)))
            moves.append((col, steps, [c for c in (now - 1, now + 1) if 0 <= c < steps]))
        for col, steps, choices in moves:
            now = int(round(cur[col] * (steps - 1)))
            for c in choices:
                if c != now:
                    p = cur.copy()
                    p[col] = c / (steps - 1)
                    pop.append(p)
        for i in range(0, len(pop), 8):
            check()
            chunk = np.stack(pop[i : i + 8])
            if not clock.fits(len(chunk)):
                break
            d, lsd, mf = self._evaluate(objective, chunk, note, clock)
            renders += len(chunk)
            k = int(np.argmin(d))
            offer(chunk[k], d[k], (lsd[k], mf[k]), "search")
        return renders


class _Clock:
    """The deadline, and what a render has cost so far: a batch starts only when it is
    expected to end in time, so the budget holds to about one render."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.per_render = 0.004  # a first guess, replaced by the first measurement
        self._measured = False

    def fits(self, n: int) -> bool:
        return time.perf_counter() + n * self.per_render <= self.deadline

    @contextmanager
    def timing(self, n: int):
        t = time.perf_counter()
        yield
        cost = (time.perf_counter() - t) / max(n, 1)
        self.per_render = cost if not self._measured else 0.7 * self.per_render + 0.3 * cost
        self._measured = True
