"""Dexed, the free DX7 emulation, as a named synth (``dexed``) with a pinned configuration.

The plugin is found at ``--plugin PATH`` (which sets ``$FLOWSYNTH_DEXED`` for the worker
processes too), ``$FLOWSYNTH_DEXED``, the standard VST3 folders of macOS, Windows and Linux,
or ``../shared/plugins/dexed`` beside a source checkout. What is learned and what is held
fixed is bridge/assets/synths/dexed.toml: the 144 voice parameters of Le Vaillant et al. 2021,
named as the plugin names them (``OP1 OUTPUT LEVEL``, what Live shows), their step texts read
from the plugin. A preset's normalized values are Dexed's own host values, so the numbers in
``/flowsynth/S/params`` go to the plugin (or Live's automation) unchanged.

Rendering. One plugin instance per process, loaded again at the start of every dataset shard
(:meth:`DexedSynth.restart`), and reset before every preset (pedalboard's ``reset=True``,
which re-creates an instrument and plays a warm-up note, see ``INIT_TIMEOUT_S``):
Dexed keeps released voices sounding and oscillator phases running from one call to the next,
and with ``reset=False`` a preset rendered after other ones differed from its first render
for 40 of 40 cartridge voices, also after MIDI all-notes-off and all-sound-off, a mono/poly
panic or a state reload (pedalboard 0.9.26). With the reset it is identical, except where the
LFO runs free: Dexed resets neither the LFO's phase with the voices nor, for the
sample-and-hold wave, its random values (not even in a new instance or process). So LFO KEY
SYNC is learned but rendered ON (the config's ``render_as``): a free LFO's phase at key-down
is arbitrary in Live as well. What stays irreproducible is a sample-and-hold LFO that reaches
the sound (pitch or amplitude depth and sensitivity above 0): 24 of Dexed's 1056 cartridge
voices; tests/test_dexed.py bounds how far such renders differ.

Dexed unpacks its cartridges into ``$XDG_DATA_HOME/DigitalSuburban`` on first load (Linux);
before loading it flowsynth points ``XDG_DATA_HOME`` (for its own process and workers) at a
private temporary folder, so that nothing is written into the user's home.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bridge.synth.base import PAPER_NOTE, Note, Synth
from bridge.synth.dx7 import VOICE_MAX, VOICE_NAMES, Voice, read_cartridges
from bridge.synth.spec import Param, ParamSpec, SpecError
from bridge.synth.vst3 import on_plugin_thread, render_notes

NAME = "dexed"
ENV_VAR = "FLOWSYNTH_DEXED"
CONFIG_PATH = Path(__file__).resolve().parent.parent / "assets" / "synths" / "dexed.toml"
# A source checkout keeps the project's shared material beside the repository.
REPO_PLUGIN = Path(__file__).resolve().parents[3] / "shared" / "plugins" / "dexed" / "Dexed.vst3"
BUFFER_SIZE = 512
# pedalboard re-creates an instrument at every reset and then plays a middle C until the plugin
# sounds, for at most this long (its default, 10 s, is what a silent voice costs: it never
# sounds). Without that warm-up note renders after a reset were not reproducible; how long it
# lasts changed no render (measured on slow attacks with 0.02 and 0.5 s).
INIT_TIMEOUT_S = 0.05
# Natural presets: a cartridge voice, each numerical value moved with this probability by a
# Gaussian step of this many normalized units, each categorical one redrawn with the other.
NUDGE_PROB, NUDGE_SIGMA, REDRAW_PROB = 0.25, 0.04, 0.03

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser is on PyPI as tomli
    import tomli as tomllib


class DexedNotFound(SpecError):
    """No Dexed plugin where flowsynth looked; the message says how to point at one."""


def standard_locations() -> list[Path]:
    """Where Dexed's installers put Dexed.vst3 on this system, most specific first."""
    home = Path.home()
    if sys.platform == "darwin":
        dirs = [home / "Library/Audio/Plug-Ins/VST3", Path("/Library/Audio/Plug-Ins/VST3")]
    elif sys.platform.startswith("win"):
        common = os.environ.get("COMMONPROGRAMFILES", r"C:\Program Files\Common Files")
        local = os.environ.get("LOCALAPPDATA", str(home / "AppData" / "Local"))
        dirs = [Path(common) / "VST3", Path(local) / "Programs" / "Common" / "VST3"]
    else:
        dirs = [home / ".vst3", Path("/usr/local/lib/vst3"), Path("/usr/lib/vst3")]
    return [d / "Dexed.vst3" for d in dirs]


def find_plugin(explicit: str | os.PathLike | None = None) -> Path:
    """The Dexed.vst3 to load: ``explicit``, ``$FLOWSYNTH_DEXED``, a standard folder, or the
    checkout's ../shared copy. DexedNotFound lists every place tried."""
    for given, what in ((explicit, "--plugin"), (os.environ.get(ENV_VAR) or None, f"${ENV_VAR}")):
        if given is not None:
            p = Path(given).expanduser()
            if not p.exists():
                raise DexedNotFound(f"{what} {p}: no such file or folder; give the path of "
                                    "Dexed.vst3 (free from asb2m10.github.io/dexed)")
            return p.absolute()
    tried = [*standard_locations(), REPO_PLUGIN]
    for p in tried:
        if p.exists():
            return p
    # What to do comes first: the server cuts long error messages short.
    raise DexedNotFound(
        "the Dexed plugin is not installed where flowsynth looks: install it (free, "
        f"asb2m10.github.io/dexed) or point at it with --plugin PATH/Dexed.vst3 or "
        f"{ENV_VAR}=PATH/Dexed.vst3 (looked in " + ", ".join(str(p) for p in tried) + ")"
    )


def use_plugin(path: str | os.PathLike | None) -> None:
    """Make ``--plugin PATH`` the Dexed of this process and of the workers it starts."""
    if path is not None:
        os.environ[ENV_VAR] = str(find_plugin(path))


def default_cartridges(plugin: Path | None = None) -> Path:
    """Dexed's own cartridges: beside the plugin (a ``cartridges`` folder, as in ../shared),
    else the folder Dexed unpacks them into for flowsynth (see :func:`_private_data_home`)."""
    if plugin is not None:
        beside = plugin.parent / "cartridges"
        if beside.is_dir():
            return beside
    # Where Dexed unpacks its built-in cartridges on first load (Linux: our private folder).
    home = Path.home()
    data_dirs = [_private_data_home(), home / "Library" / "Application Support",
                 Path(os.environ.get("APPDATA", home / "AppData" / "Roaming"))]
    for d in data_dirs:
        unpacked = d / "DigitalSuburban" / "Dexed" / "Cartridges"
        if unpacked.is_dir():
            return unpacked
    raise DexedNotFound(
        "no DX7 cartridges found beside the plugin or in Dexed's unpacked data; "
        "give a folder of .syx cartridges with --presets-from DIR"
    )


@lru_cache(maxsize=1)
def load_config() -> dict[str, Any]:
    with open(CONFIG_PATH, "rb") as f:
        return tomllib.load(f)


def _private_data_home() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    d = Path(tempfile.gettempdir()) / f"flowsynth-dexed-{uid}"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def _private_xdg() -> None:
    # Dexed writes its cartridges into $XDG_DATA_HOME, and not only while it loads (measured:
    # restoring the variable after the load still let it write into ~/.local/share), so it
    # points at a private folder for the rest of this process and the workers it starts.
    os.environ["XDG_DATA_HOME"] = str(_private_data_home())


def load_plugin(path: Path) -> Any:
    """A fresh Dexed instance (about 0.4 s once the library is loaded)."""
    import pedalboard

    _private_xdg()
    try:
        plugin = on_plugin_thread(pedalboard.load_plugin, str(path),
                                  initialization_timeout=INIT_TIMEOUT_S)
    except (RuntimeError, ImportError) as e:
        raise DexedNotFound(f"could not load {path} ({e}); is it a Dexed VST3 build for "
                            "this system?") from e
    if not getattr(plugin, "is_instrument", False) or "Dexed" not in str(plugin.name):
        raise DexedNotFound(f"{path} loads as {plugin.name!r}, not Dexed; point --plugin or "
                            f"{ENV_VAR} at Dexed.vst3")
    return plugin


def _step_texts(param: Any, steps: int) -> list[str]:
    # Dexed answers get_text_for_raw_value with the current text whatever the value: set each
    # step and read the text back, then restore the value.
    before = param.raw_value
    try:
        out = []
        for k in range(steps):
            param.raw_value = k / (steps - 1)
            out.append(str(param.string_value).strip())
        return out
    finally:
        param.raw_value = before


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def build_spec(plugin: Any, config: dict[str, Any] | None = None) -> ParamSpec:
    """The ``dexed`` spec: the config's learned parameters with the plugin's step texts."""
    config = config or load_config()
    by_name = {str(p.name): p for p in plugin.parameters.values()}
    named = [*config["learn"], *config["fixed"], *config.get("skip", [])]
    missing = [n for n in named if n not in by_name]
    if missing:
        raise SpecError(
            f"this Dexed has no parameter {missing[:4]} (it has {len(by_name)}); flowsynth's "
            "dexed configuration was made for Dexed 1.0.1 (156 controls)"
        )
    categorical = set(config["categorical"])
    params = []
    for name, (steps, default) in config["learn"].items():
        texts = _step_texts(by_name[name], int(steps))
        if len(set(texts)) != steps:
            raise SpecError(f"Dexed's {name!r} shows {len(set(texts))} distinct values over "
                            f"{steps} steps; this Dexed differs from the one configured (1.0.1)")
        group = name.split(" ")[0] if name.startswith("OP") else "voice"
        if name in categorical:
            params.append(Param(name, "categorical", default=float(default),
                                categories=tuple(texts), group=group))
            continue
        lo, hi = _as_number(texts[0]), _as_number(texts[-1])
        if lo is None or hi is None or not hi > lo:
            # Break points show note names: the spec counts steps, the texts say which note.
            params.append(Param(name, low=0.0, high=float(steps - 1), default=float(default),
                                steps=int(steps), group=group,
                                description=f"{texts[0]} .. {texts[-1]}"))
            continue
        span = (hi - lo) / (steps - 1)
        params.append(Param(name, low=lo, high=hi, default=lo + default * span,
                            steps=int(steps), group=group))
    # Operators 1-3 and the voice controls: Le Vaillant et al.'s 81-parameter subset.
    ops13 = tuple(p.name for p in params if p.group in ("voice", "OP1", "OP2", "OP3"))
    return ParamSpec(NAME, tuple(params), {"81": ops13})


class DexedSynth(Synth):
    """Dexed through pedalboard with the pinned configuration (module doc)."""

    name = NAME

    def __init__(self, plugin: str | os.PathLike | None = None,
                 presets_from: str | os.PathLike | None = None) -> None:
        self.path = find_plugin(plugin)
        self.presets_from = None if presets_from is None else Path(presets_from)
        self._config = load_config()
        self._voices: list[Voice] | None = None
        self._rendered_since_load = False
        on_plugin_thread(self._open)

    def _open(self) -> None:
        # On the plugin thread: Dexed updates a parameter's text there, so build_spec reads
        # stale texts from any other thread.
        self.plugin = load_plugin(self.path)
        self.spec = build_spec(self.plugin, self._config)
        self._bind()

    def _bind(self) -> None:
        by_name = {str(p.name): p for p in self.plugin.parameters.values()}
        self._fixed = [(by_name[n], float(v)) for n, v in self._config["fixed"].items()]
        self._learned = [by_name[n] for n in self.spec.names]
        self._render_as = [(by_name[n], float(v))
                           for n, v in self._config.get("render_as", {}).items()]

    def __reduce__(self):
        # Plugins do not pickle; a worker process loads its own instance from the same path.
        return (DexedSynth, (str(self.path), self.presets_from))

    def restart(self) -> None:
        """A fresh instance (its free-running LFO back at its start) unless this one is unused."""
        if self._rendered_since_load:
            on_plugin_thread(self._reload)

    def _reload(self) -> None:
        self.plugin = load_plugin(self.path)
        self._bind()
        self._rendered_since_load = False

    def set_preset(self, preset: Sequence[float]) -> None:
        """Fixed values, then one normalized preset [N], into the plugin's parameters."""
        for param, value in self._fixed:
            param.raw_value = value
        for param, value in zip(self._learned, preset, strict=True):
            param.raw_value = float(value)
        for param, value in self._render_as:
            param.raw_value = value

    def render(
        self, presets: np.ndarray, note: Note = PAPER_NOTE, sample_rate: int = 22050
    ) -> np.ndarray:
        """[B, N] normalized presets -> [B, T] float32 mono, T = duration * sample_rate."""
        norm = self.spec.quantize(self.spec.check_norm(presets))
        self._rendered_since_load = True
        return render_notes(self.plugin, self.set_preset, norm, note, sample_rate, BUFFER_SIZE)

    # --- presets from cartridges -----------------------------------------------------------
    def use_presets_from(self, folder: str | os.PathLike) -> None:
        """Natural presets start from the cartridges in ``folder`` from now on."""
        path = Path(folder)
        if path != self.presets_from:
            self.presets_from, self._voices = path, None

    def voices(self) -> list[Voice]:
        """The cartridge voices natural presets start from (Dexed's own by default)."""
        if self._voices is None:
            folder = self.presets_from or default_cartridges(self.path)
            self._voices = read_cartridges(folder)
        return self._voices

    def voice_preset(self, voice: Voice) -> np.ndarray:
        """A cartridge voice as a normalized preset of this spec [N]."""
        norm = voice.normalized()
        return np.array([norm[n] for n in self.spec.names], dtype=np.float32)

    def sample_natural(self, rng: np.random.Generator, n: int) -> np.ndarray:
        voices = self.voices()
        base = np.stack([self.voice_preset(voices[i]) for i in rng.integers(0, len(voices), n)])
        return perturb(self.spec, base, rng)


def perturb(spec: ParamSpec, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Presets around ``base`` [B, N]: numerical values nudged, a few categories redrawn."""
    out = base.astype(np.float64).copy()
    cat = np.array([p.is_categorical for p in spec.params])
    nudge = (rng.random(out.shape) < NUDGE_PROB) & ~cat
    out += nudge * rng.normal(0.0, NUDGE_SIGMA, out.shape)
    redraw = (rng.random(out.shape) < REDRAW_PROB) & cat
    steps = np.array([max(p.steps, 2) for p in spec.params])
    out = np.where(redraw, rng.integers(0, steps, out.shape) / (steps - 1), out)
    return spec.quantize(np.clip(out, 0.0, 1.0))


def voice_values(preset: Sequence[float], spec: ParamSpec) -> dict[str, int]:
    """A normalized preset back to DX7 integer values by Dexed parameter name."""
    top = dict(zip(VOICE_NAMES, VOICE_MAX.tolist(), strict=True))
    return {name: int(round(float(v) * top[name])) for name, v in zip(spec.names, preset,
                                                                      strict=True)}
