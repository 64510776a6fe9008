"""The devices' [js] logic (m4l_devices/flowsynth.js) under node, with stand-ins for Max's
globals and a fake Live set: name matching, rescaling, categories, target choice, loop
prevention, hello timing, one-shot (undoable) vs continuous application, sketch takes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="needs node (apt-get install nodejs)")


def test_js_logic_under_node() -> None:
    r = subprocess.run([NODE, "tests/js/flowsynth.test.js"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passed" in r.stdout


def test_js_parses_as_a_script() -> None:
    # Max loads the file as a classic script (no modules): node --check parses it the same way
    r = subprocess.run([NODE, "--check", "m4l_devices/flowsynth.js"], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
