"""Parameter specs: the one description of a synth's controls that everything else derives from.

A parameter has three faces:
- its *real* value (Hz, seconds, dB, a category index) that the DSP uses;
- its *normalized* value in [0, 1], what a plugin host and the OSC protocol use;
- its *encoding*, the slice of the learnable vector a model predicts. Three encodings follow
  Le Vaillant et al. 2021: ``num`` (one number each), ``numcat`` (categorical parameters
  one-hot) and ``numcat++`` (also discrete numerical parameters of at most 32 steps one-hot).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Kind = Literal["numerical", "categorical"]
Curve = Literal["linear", "exp"]
Encoding = Literal["num", "numcat", "numcat++"]
ENCODINGS: tuple[str, ...] = ("num", "numcat", "numcat++")
# Discrete numerical parameters with at most this many steps become one-hot in numcat++.
MAX_ONEHOT_STEPS = 32


class SpecError(ValueError):
    """A parameter spec or a value does not fit; the message says what and how to fix it."""


@dataclass(frozen=True)
class Param:
    """One synth control.

    ``steps`` is 0 for a continuous numerical parameter, the number of allowed values for a
    discrete one, and ``len(categories)`` for a categorical one (set automatically).
    ``default`` is a real value (a category index for categorical parameters).
    """

    name: str
    kind: Kind = "numerical"
    low: float = 0.0
    high: float = 1.0
    default: float = 0.0
    unit: str = ""
    curve: Curve = "linear"
    steps: int = 0
    categories: tuple[str, ...] = ()
    group: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        # Plugins name parameters with spaces (Dexed's "OP1 OUTPUT LEVEL", what Live shows, so
        # that devices map them by name); an OSC string carries them. Other whitespace, and
        # spaces at either end or doubled, would not survive Max's and Pd's message boxes.
        if (not self.name or self.name != self.name.strip() or "  " in self.name
                or any(c.isspace() and c != " " for c in self.name)):
            raise SpecError(f"parameter name {self.name!r} must be non-empty, without tabs, "
                            "newlines, doubled spaces or spaces at either end")
        if self.kind == "categorical":
            if len(self.categories) < 2:
                raise SpecError(f"categorical parameter {self.name!r} needs at least 2 categories")
            object.__setattr__(self, "steps", len(self.categories))
            object.__setattr__(self, "low", 0.0)
            object.__setattr__(self, "high", float(len(self.categories) - 1))
            object.__setattr__(self, "curve", "linear")
        elif self.kind != "numerical":
            raise SpecError(f"parameter {self.name!r}: kind must be numerical or categorical")
        if not self.high > self.low:
            raise SpecError(
                f"parameter {self.name!r}: high ({self.high}) must exceed low ({self.low})"
            )
        if self.curve == "exp" and self.low <= 0:
            raise SpecError(f"parameter {self.name!r}: an exp curve needs low > 0, got {self.low}")
        if self.steps == 1 or self.steps < 0:
            raise SpecError(f"parameter {self.name!r}: steps must be 0 (continuous) or >= 2")
        if not (self.low <= self.default <= self.high):
            raise SpecError(
                f"parameter {self.name!r}: default {self.default} outside [{self.low}, {self.high}]"
            )

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def is_discrete(self) -> bool:
        return self.steps >= 2

    def onehot_width(self, encoding: Encoding) -> int:
        """Columns this parameter takes in an encoding (1 when it is a plain number)."""
        if encoding == "num":
            return 1
        if self.is_categorical:
            return self.steps
        if encoding == "numcat++" and 2 <= self.steps <= MAX_ONEHOT_STEPS:
            return self.steps
        return 1

    # --- normalized <-> real -----------------------------------------------------------
    def quantize(self, norm: np.ndarray) -> np.ndarray:
        """Snap normalized values onto this parameter's grid (no-op when continuous)."""
        norm = np.clip(norm, 0.0, 1.0)
        if self.is_discrete:
            n = self.steps - 1
            return np.round(norm * n) / n
        return norm

    def to_real(self, norm: np.ndarray) -> np.ndarray:
        u = self.quantize(np.asarray(norm, dtype=np.float64))
        if self.curve == "exp":
            return self.low * (self.high / self.low) ** u
        return self.low + u * (self.high - self.low)

    def to_norm(self, real: np.ndarray) -> np.ndarray:
        real = np.asarray(real, dtype=np.float64)
        if self.curve == "exp":
            u = np.log(np.maximum(real, self.low) / self.low) / math.log(self.high / self.low)
        else:
            u = (real - self.low) / (self.high - self.low)
        return self.quantize(u)

    @property
    def default_norm(self) -> float:
        return float(self.to_norm(np.array(self.default)))

    def to_dict(self) -> dict:
        d = {
            "name": self.name,
            "kind": self.kind,
            "low": self.low,
            "high": self.high,
            "default": self.default,
            "unit": self.unit,
            "curve": self.curve,
            "steps": self.steps,
            "categories": list(self.categories),
            "group": self.group,
            "description": self.description,
        }
        return d

    @staticmethod
    def from_dict(d: Mapping) -> Param:
        d = dict(d)
        d["categories"] = tuple(d.get("categories", ()))
        return Param(**d)


@dataclass(frozen=True)
class Slice:
    """Where one parameter lives in an encoded vector."""

    index: int  # the parameter's position in the spec
    start: int
    width: int  # 1: a number in [0, 1]; >1: one-hot over the parameter's steps


@dataclass(frozen=True)
class ParamSpec:
    """A synth's parameters, in protocol order, plus named subsets to learn."""

    synth: str
    params: tuple[Param, ...]
    subsets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"spec {self.synth!r}: duplicate parameter names {dup}")
        for key, members in self.subsets.items():
            unknown = [m for m in members if m not in names]
            if unknown:
                raise SpecError(
                    f"subset {key!r} of {self.synth!r} names unknown parameters {unknown}"
                )

    # --- lookup ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self):
        return iter(self.params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def index(self, name: str) -> int:
        for i, p in enumerate(self.params):
            if p.name == name:
                return i
        raise SpecError(
            f"unknown parameter {name!r} for synth {self.synth!r}; "
            f"`flowsynth synths` lists them (e.g. {', '.join(self.names[:4])}, ...)"
        )

    def __getitem__(self, name: str) -> Param:
        return self.params[self.index(name)]

    # --- whole-vector conversions ---------------------------------------------------------
    def defaults(self) -> np.ndarray:
        """The default preset as normalized values."""
        return np.array([p.default_norm for p in self.params], dtype=np.float32)

    def check_norm(self, norm: np.ndarray) -> np.ndarray:
        """Validate a [B, N] (or [N]) array of normalized values; return it as float32 [B, N]."""
        arr = np.asarray(norm, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != len(self):
            raise SpecError(
                f"{self.synth}: expected presets of {len(self)} normalized values, got shape "
                f"{tuple(np.shape(norm))}"
            )
        if not np.all(np.isfinite(arr)):
            raise SpecError(f"{self.synth}: preset values must be finite (found NaN or infinity)")
        lo, hi = arr.min(initial=0.0), arr.max(initial=0.0)
        if lo < -1e-6 or hi > 1 + 1e-6:
            bad = int(np.argmax(np.any((arr < -1e-6) | (arr > 1 + 1e-6), axis=0)))
            raise SpecError(
                f"{self.synth}: normalized values must lie in [0, 1]; parameter "
                f"{self.params[bad].name!r} has {arr[:, bad].min():.4g}..{arr[:, bad].max():.4g}"
            )
        return np.clip(arr, 0.0, 1.0).astype(np.float32)

    def _checked(self, values: np.ndarray, what: str = "normalized") -> np.ndarray:
        """``values`` [..., N] as float64, after the checks every conversion needs: one
        column per parameter, finite, and within range (normalized: [0, 1]; real: each
        parameter's [low, high]), with float32 rounding let through."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 0 or arr.shape[-1] != len(self):
            raise SpecError(
                f"{self.synth}: expected {what} presets with {len(self)} values each (shape "
                f"[..., {len(self)}]), got shape {tuple(arr.shape)}"
            )
        if not np.all(np.isfinite(arr)):
            raise SpecError(f"{self.synth}: {what} values must be finite (found NaN or infinity)")
        if what == "normalized":
            lo, hi = np.zeros(len(self)), np.ones(len(self))
        else:
            lo = np.array([p.low for p in self.params])
            hi = np.array([p.high for p in self.params])
        tol = 1e-6 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
        bad = np.any((arr < lo - tol) | (arr > hi + tol), axis=tuple(range(arr.ndim - 1)))
        if np.any(bad):
            i = int(np.argmax(bad))
            p, col = self.params[i], arr[..., i]
            rng = "[0, 1]" if what == "normalized" else f"[{p.low:g}, {p.high:g}] {p.unit}".rstrip()
            raise SpecError(
                f"{self.synth}: {what} values of {p.name!r} must lie in {rng}; got "
                f"{col.min():.6g}..{col.max():.6g}"
            )
        return arr

    def quantize(self, norm: np.ndarray) -> np.ndarray:
        norm = np.asarray(norm, dtype=np.float64)
        out = np.empty_like(norm)
        for i, p in enumerate(self.params):
            out[..., i] = p.quantize(norm[..., i])
        return out.astype(np.float32)

    def to_real(self, norm: np.ndarray) -> np.ndarray:
        """[..., N] normalized -> [..., N] real values (float64; categories as indices)."""
        norm = self._checked(norm)
        out = np.empty(norm.shape, dtype=np.float64)
        for i, p in enumerate(self.params):
            out[..., i] = p.to_real(norm[..., i])
        return out

    def to_norm(self, real: np.ndarray) -> np.ndarray:
        """[..., N] real values (categories as indices) -> [..., N] normalized (float32)."""
        real = self._checked(real, "real")
        out = np.empty(real.shape, dtype=np.float32)
        for i, p in enumerate(self.params):
            out[..., i] = p.to_norm(real[..., i])
        return out

    def real_dict(self, norm: np.ndarray) -> dict[str, np.ndarray]:
        """Real values by name for a [B, N] batch: what a DSP kernel reads."""
        real = self.to_real(norm)
        return {p.name: real[..., i] for i, p in enumerate(self.params)}

    def from_values(
        self, values: Mapping[str, float], base: np.ndarray | None = None
    ) -> np.ndarray:
        """A normalized preset from real values by name (categories by name or index)."""
        out = self.defaults() if base is None else np.array(base, dtype=np.float32)
        for name, value in values.items():
            p = self[name]
            if p.is_categorical and isinstance(value, str):
                if value not in p.categories:
                    raise SpecError(
                        f"{name}: unknown category {value!r}; one of {list(p.categories)}"
                    )
                value = p.categories.index(value)
            value = float(value)
            if not (p.low <= value <= p.high):
                raise SpecError(f"{name}: {value} is outside [{p.low}, {p.high}] {p.unit}".rstrip())
            out[..., self.index(name)] = p.to_norm(np.array(value))
        return out

    def describe(self, norm: np.ndarray) -> dict[str, float | str]:
        """A readable preset: real values, category names."""
        real = self.to_real(np.asarray(norm, dtype=np.float64).reshape(len(self)))
        out: dict[str, float | str] = {}
        for p, r in zip(self.params, real, strict=False):
            out[p.name] = p.categories[int(round(r))] if p.is_categorical else round(float(r), 6)
        return out

    # --- learnable encodings ------------------------------------------------------------
    def layout(self, encoding: Encoding) -> list[Slice]:
        if encoding not in ENCODINGS:
            raise SpecError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
        out, start = [], 0
        for i, p in enumerate(self.params):
            w = p.onehot_width(encoding)
            out.append(Slice(i, start, w))
            start += w
        return out

    def encoded_size(self, encoding: Encoding) -> int:
        return sum(p.onehot_width(encoding) for p in self.params)

    def encode(self, norm: np.ndarray, encoding: Encoding) -> np.ndarray:
        """[B, N] normalized presets -> [B, D] learnable vectors."""
        norm = self._checked(norm)
        lay = self.layout(encoding)
        out = np.zeros(norm.shape[:-1] + (lay[-1].start + lay[-1].width,), dtype=np.float32)
        for s in lay:
            p, col = self.params[s.index], norm[..., s.index]
            if s.width == 1:
                out[..., s.start] = p.quantize(col)
            else:
                k = np.round(np.clip(col, 0, 1) * (p.steps - 1)).astype(np.int64)
                np.put_along_axis(out[..., s.start : s.start + s.width], k[..., None], 1.0, axis=-1)
        return out

    def decode(self, enc: np.ndarray, encoding: Encoding) -> np.ndarray:
        """[B, D] learnable vectors (one-hot parts may be scores) -> [B, N] normalized presets."""
        enc = np.asarray(enc, dtype=np.float64)
        size = self.encoded_size(encoding)
        if enc.shape[-1] != size:
            raise SpecError(
                f"{self.synth}/{encoding}: expected {size} encoded values, got {enc.shape[-1]}"
            )
        out = np.empty(enc.shape[:-1] + (len(self),), dtype=np.float32)
        for s in self.layout(encoding):
            p = self.params[s.index]
            if s.width == 1:
                out[..., s.index] = p.quantize(enc[..., s.start])
            else:
                k = np.argmax(enc[..., s.start : s.start + s.width], axis=-1)
                out[..., s.index] = k / (p.steps - 1)
        return out

    # --- subsets ----------------------------------------------------------------------------
    def subset(self, names: str | Iterable[str] | None) -> ParamSpec:
        """A spec of only some parameters (a subset name, a list of names, or None for all)."""
        if names is None or names == "all":
            return self
        if isinstance(names, str):
            if names not in self.subsets:
                raise SpecError(
                    f"{self.synth} has no subset {names!r}; "
                    f"known: {', '.join(self.subsets) or 'none'}"
                )
            names = self.subsets[names]
        names = list(names)
        return ParamSpec(self.synth, tuple(self[n] for n in names), {})

    def expand(
        self, sub: ParamSpec, sub_norm: np.ndarray, base: np.ndarray | None = None
    ) -> np.ndarray:
        """Full presets from a subset's values; the other parameters keep ``base`` (defaults)."""
        sub_norm = np.asarray(sub_norm, dtype=np.float32)
        full = np.broadcast_to(
            self.defaults() if base is None else np.asarray(base, np.float32),
            sub_norm.shape[:-1] + (len(self),),
        ).copy()
        for j, p in enumerate(sub.params):
            full[..., self.index(p.name)] = sub_norm[..., j]
        return full

    def restrict(self, sub: ParamSpec, full_norm: np.ndarray) -> np.ndarray:
        idx = [self.index(p.name) for p in sub.params]
        return np.asarray(full_norm, dtype=np.float32)[..., idx]

    # --- sampling ---------------------------------------------------------------------------
    def sample_uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Every parameter uniform over its normalized range (grid values for discrete ones)."""
        u = rng.random((n, len(self)))
        return self.quantize(u)

    # --- serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "synth": self.synth,
            "params": [p.to_dict() for p in self.params],
            "subsets": {k: list(v) for k, v in self.subsets.items()},
        }

    @staticmethod
    def from_dict(d: Mapping) -> ParamSpec:
        try:
            return ParamSpec(
                synth=str(d["synth"]),
                params=tuple(Param.from_dict(p) for p in d["params"]),
                subsets={k: tuple(v) for k, v in d.get("subsets", {}).items()},
            )
        except (KeyError, TypeError) as e:
            raise SpecError(
                f"malformed parameter spec ({e}); was the file written by flowsynth?"
            ) from e

    def with_defaults(self, values: Mapping[str, float]) -> ParamSpec:
        """The same spec with other real default values (e.g. pinned by a user)."""
        params = list(self.params)
        for name, v in values.items():
            params[self.index(name)] = replace(self[name], default=float(v))
        return ParamSpec(self.synth, tuple(params), self.subsets)
