"""End to end in Pure Data: real `pd` (headless) runs the twin (max_patches/pd/flowsynth.pd)
from a harness patch against a real `flowsynth serve` with the fixture model, moves the
macros and checks the parameter vectors that come back against the model's own maths."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.server_model import make_model
from tests.test_server_e2e import free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
PD = shutil.which("pd")
TWIN_DIR = ROOT / "max_patches" / "pd"

pytestmark = pytest.mark.skipif(
    PD is None, reason="needs Pure Data's `pd` (apt-get install puredata-core, or run "
    "scripts/install_system_deps.sh)")

MACROS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


def harness(slot: int, server_port: int, reply_port: int, latent_dim: int) -> str:
    """A patch that drives the twin on a schedule, prints what comes out, then quits."""
    steps = [(1500, "macros " + " ".join(map(str, MACROS))),
             (2300, "macro 0 0.9"),
             (3100, "latent " + " ".join(["0"] * latent_dim)),
             (3900, "ping")]
    objs = [f"#X obj 10 10 flowsynth {slot} {server_port} {reply_port}",
            "#X obj 10 60 print params", "#X obj 110 60 print macros",
            "#X obj 210 60 print reply", "#X obj 10 100 loadbang"]
    conns = ["#X connect 0 0 1 0;", "#X connect 0 1 2 0;", "#X connect 0 2 3 0;"]
    for ms, text in [*steps, (4800, "\\; pd quit")]:
        d = len(objs)
        objs += [f"#X obj 10 {120 + d * 10} delay {ms}", f"#X msg 10 {130 + d * 10} {text}"]
        conns += [f"#X connect 4 0 {d} 0;", f"#X connect {d} 0 {d + 1} 0;"]
        if not text.startswith("\\;"):
            conns.append(f"#X connect {d + 1} 0 0 0;")
    body = "".join(o + ";\n" for o in objs) + "\n".join(conns)
    return "#N canvas 0 0 400 400 10;\n" + body + "\n"


def parse(stderr: str, label: str) -> list[list[str]]:
    return [line.split(":", 1)[1].split() for line in stderr.splitlines()
            if line.startswith(label + ":")]


def test_pd_twin_against_real_server(tmp_path: Path) -> None:
    proc, port, _ = start_server(log_path=tmp_path / "server.log")
    try:
        reply = free_port()
        model = make_model("toy")
        patch = tmp_path / "harness.pd"
        patch.write_text(harness(1, port, reply, model.latent_dim))
        t0 = time.monotonic()
        r = subprocess.run([PD, "-nogui", "-nosound", "-nomidi", "-stderr", "-path",
                            str(TWIN_DIR), "-open", str(patch)],
                           capture_output=True, text=True, timeout=30)
        assert time.monotonic() - t0 < 20
    finally:
        proc.terminate()
        proc.wait(10)
    err = r.stderr
    assert "couldn't create" not in err, err
    replies = parse(err, "reply")
    assert any(x[:2] == ["flowsynth", "welcome"] for x in replies), err  # hello was heard
    assert any(x[:2] == ["flowsynth", "pong"] for x in replies), err
    params = [np.array(list(map(float, x))) for x in parse(err, "params")]
    assert len(params) >= 3, err
    n = len(model.param_names)
    assert all(len(v) == n for v in params)

    # the model's own answer: macros set the first 8 latent coordinates of the point (0, ...)
    z = model.latent_from_macros(np.array([MACROS]), np.zeros((1, model.latent_dim)))
    np.testing.assert_allclose(params[0], model.params_from_latent(z)[0], atol=1e-4)
    moved = [*MACROS]
    moved[0] = 0.9
    z = model.latent_from_macros(np.array([moved]), np.zeros((1, model.latent_dim)))
    np.testing.assert_allclose(params[1], model.params_from_latent(z)[0], atol=1e-4)
    assert not np.allclose(params[0], params[1])
    np.testing.assert_allclose(params[2], model.params_from_latent(
        np.zeros((1, model.latent_dim)))[0], atol=1e-4)
    # /latent answers with the dials' positions too: the centre is 0.5 on every macro
    macros = [list(map(float, x)) for x in parse(err, "macros")]
    assert macros and np.allclose(macros[-1], 0.5, atol=1e-4), err
    assert not re.search(r"error", " ".join(" ".join(x) for x in replies)), err
