"""Data flows one way (synth -> data -> models/train -> export -> hosting -> server -> devices):
no module of bridge/ imports one of a later layer, function-level imports included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Earlier layers first; a module belongs to the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("bridge", "bridge.atomic", "bridge.wire", "bridge.cluster", "bridge.distributed"),
    ("bridge.synth",),
    ("bridge.audio",),
    ("bridge.data",),
    ("bridge.models", "bridge.matching"),
    ("bridge.train", "bridge.evaluate", "bridge.plots"),
    ("bridge.exporting", "bridge.export"),
    ("bridge.hosting",),
    ("bridge.server",),
    ("bridge.maxpat",),
    ("bridge.commands", "bridge.cli"),
]


def layer_of(module: str) -> tuple[int, str]:
    best = (-1, "")
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best[1]):
                best = (i, prefix)
    assert best[0] >= 0, f"{module} is in no layer: add it to tests/test_layers.py"
    return best


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from bridge import cluster` imports bridge.cluster, not just the package
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m == "bridge" or m.startswith("bridge.")]


def test_no_module_imports_a_later_layer():
    upward = []
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mine = layer_of(module)
        for line, target in imports(path):
            theirs = layer_of(target)
            if theirs[0] > mine[0]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target} "
                              f"({mine[1]} is upstream of {theirs[1]})")  # fmt: skip
    assert not upward, "imports against the flow:\n" + "\n".join(upward)


def test_the_walk_sees_function_level_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from bridge.server.osc_server import OSCServer\n")
    assert imports(f) == [(2, "bridge.server.osc_server.OSCServer")]
    assert layer_of("bridge.server.osc_server.OSCServer")[1] == "bridge.server"
