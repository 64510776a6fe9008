"""`flowsynth synths`: the built-in synths, Dexed when it is found, and their parameters."""

from __future__ import annotations

import argparse
import json
import sys

from bridge.synth.spec import Param, ParamSpec


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--synth",
        default=None,
        help="show only this synth (a built-in name or vst3:/path/Plugin.vst3)",
    )
    p.add_argument("--synth-config", default=None, metavar="TOML", help="for vst3: synths")
    p.add_argument("--plugin", default=None, metavar="PATH",
                   help="the Dexed.vst3 for dexed (default: $FLOWSYNTH_DEXED, standard folders)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _num(x: float) -> str:
    return f"{x:.6g}"


def _row(p: Param) -> list[str]:
    if p.is_categorical:
        rng, default = f"{len(p.categories)} choices", p.categories[int(p.default)]
        steps = ", ".join(p.categories)
    else:
        rng = f"{_num(p.low)}..{_num(p.high)} {p.unit}".rstrip()
        default = f"{_num(p.default)} {p.unit}".rstrip()
        steps = f"{p.steps} steps" if p.is_discrete else "continuous"
    return [p.name, p.kind, rng, p.curve, default, steps]


def format_table(spec: ParamSpec) -> str:
    """A readable table of a spec's parameters, then its subsets."""
    head = ["name", "kind", "range", "curve", "default", "steps/categories"]
    rows = [head] + [_row(p) for p in spec.params]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = []
    for r in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        )
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(head[-1]))
    for name, members in spec.subsets.items():
        lines.append(f"subset {name}: {', '.join(members)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from bridge.synth.dexed import DexedNotFound, use_plugin
    from bridge.synth.registry import BUILTIN_SYNTHS, PLUGIN_SYNTHS, get_synth

    use_plugin(args.plugin)
    names = [args.synth] if args.synth else [*BUILTIN_SYNTHS, *PLUGIN_SYNTHS]
    found: dict[str, dict] = {}
    synth_paths: dict[str, str] = {}
    for name in names:
        try:
            synth = get_synth(name, args.synth_config)
        except DexedNotFound as e:
            if args.synth:
                raise
            # Listing everything: say where to point, and go on with the others.
            print(f"flowsynth synths: dexed: not found. {e}", file=sys.stderr)
            continue
        except ImportError as e:
            # A built-in whose module is missing or broken should not hide the others.
            if args.synth:
                raise ValueError(f"synth {name!r} cannot be loaded: {e}") from e
            print(f"flowsynth synths: {name}: unavailable ({e})", file=sys.stderr)
            continue
        found[name] = synth.describe()
        if hasattr(synth, "path"):
            synth_paths[name] = str(synth.path)
    if args.json:
        print(json.dumps(found[args.synth] if args.synth else found, indent=1))
        return 0
    for i, (name, desc) in enumerate(found.items()):
        spec = ParamSpec.from_dict(desc["spec"])
        if i:
            print()
        where = f" (plugin {synth_paths[name]})" if name in synth_paths else ""
        print(f"{name}: {len(spec)} parameters{where}")
        print(format_table(spec))
    return 0
