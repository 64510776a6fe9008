"""Build the FlowSynth Max for Live devices and Max patches from m4l_devices/src/.

    python scripts/build_devices.py            # write every device, patch and diagram
    python scripts/build_devices.py --check    # exit 1 if a checked-in file differs

Each source module defines KIND ("midi", "audio", "instrument" for a device, "patch" for a
.maxpat), OUTPUT (a path relative to the repository) and build(patcher). The output is a pure
function of the sources and flowsynth.js, so --check catches a hand-edited or stale file.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "m4l_devices" / "src"
JS_DIR = ROOT / "m4l_devices"
SOURCES = ["macros", "sketch", "standalone", "testpatch"]

sys.path.insert(0, str(ROOT))
from bridge import atomic  # noqa: E402
from bridge.maxpat import amxd, diagram  # noqa: E402
from bridge.maxpat.patcher import Patcher  # noqa: E402


def _load(name: str):
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    spec = importlib.util.spec_from_file_location(f"flowsynth_src_{name}", SRC / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_all() -> dict[Path, bytes]:
    """Every generated file's path and bytes."""
    out: dict[Path, bytes] = {}
    for name in SOURCES:
        m = _load(name)
        device = m.KIND != "patch"
        p = Patcher(device_width=m.WIDTH if device else None, js_dir=JS_DIR)
        m.build(p)
        doc = p.to_doc()
        target = ROOT / m.OUTPUT
        out[target] = amxd.write_amxd(doc, m.KIND) if device else amxd.patcher_json(doc)
        if device:
            svg = ROOT / "docs" / "img" / (Path(m.OUTPUT).stem.replace(" ", "-").lower() + ".svg")
            out[svg] = diagram.device_svg(doc, Path(m.OUTPUT).stem).encode("utf-8")
    # Max finds a [js] file beside the patch: the patches folder gets a copy of the one file.
    out[ROOT / "max_patches" / "flowsynth.js"] = (JS_DIR / "flowsynth.js").read_bytes()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    stale = []
    for path, data in build_all().items():
        rel = path.relative_to(ROOT)
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                stale.append(str(rel))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(path, data)  # never a half-written device
        print(f"wrote {rel} ({len(data)} bytes)")
    if stale:
        print("out of date (run python scripts/build_devices.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
