"""End to end in Pure Data: real `pd` (headless) runs the twin (max_patches/pd/flowsynth.pd)
from a harness patch against a real `flowsynth serve` with the fixture model, moves the
macros, sends a sketch, and checks the parameter vectors that come back against the model's
own maths. Replies for another slot reach the twin's port too (a raw sender drives slot 2 and
gets its replies there): the twin must drop them."""

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


def harness(slot: int, server_port: int, reply_port: int, latent_dim: int, sketch: str) -> str:
    """A patch that drives the twin on a schedule, prints what comes out, then quits. Objects
    5 to 8 are a raw OSC sender (no hello) that loads and moves slot 2: the server sends its
    replies to the default reply port, which the test sets to the twin's."""
    steps = [(1500, "macros " + " ".join(map(str, MACROS))),
             (2300, "macro 0 0.9"),
             (3100, "latent " + " ".join(["0"] * latent_dim)),
             (3900, "ping"),
             (4300, f"sketch {sketch}")]
    objs = [f"#X obj 10 10 flowsynth {slot} {server_port} {reply_port}",
            "#X obj 10 60 print params", "#X obj 110 60 print macros",
            "#X obj 210 60 print reply", "#X obj 10 100 loadbang",
            "#X obj 400 100 netsend -u -b", f"#X msg 400 40 connect 127.0.0.1 {server_port}",
            "#X obj 500 40 oscformat flowsynth 2 load", "#X obj 600 40 oscformat flowsynth 2 macro",
            "#X obj 400 70 list prepend send", "#X obj 400 85 list trim",
            "#X obj 310 60 print note"]
    conns = ["#X connect 0 0 1 0;", "#X connect 0 1 2 0;", "#X connect 0 2 3 0;",
             "#X connect 4 0 6 0;", "#X connect 6 0 5 0;", "#X connect 7 0 9 0;",
             "#X connect 8 0 9 0;", "#X connect 9 0 10 0;", "#X connect 10 0 5 0;",
             "#X connect 0 3 11 0;"]
    for ms, text, dest in ((500, "list toy", 7), (1000, "0 0.5", 8)):
        d = len(objs)
        objs += [f"#X obj 400 {120 + d * 10} delay {ms}", f"#X msg 400 {130 + d * 10} {text}"]
        conns += [f"#X connect 4 0 {d} 0;", f"#X connect {d} 0 {d + 1} 0;",
                  f"#X connect {d + 1} 0 {dest} 0;"]
    for ms, text in [*steps, (5600, "\\; pd quit")]:
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
    import soundfile as sf

    takes = tmp_path / "takes"
    takes.mkdir()
    wav = takes / "hum.wav"
    sf.write(wav, 0.3 * np.sin(np.linspace(0, 2000, 16000)), 16000)
    reply = free_port()
    proc, port, _ = start_server("--allow-dir", str(takes), "--reply-port", str(reply),
                                 log_path=tmp_path / "server.log")
    try:
        model = make_model("toy")
        patch = tmp_path / "harness.pd"
        patch.write_text(harness(1, port, reply, model.latent_dim, str(wav)))
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
    # slot 2's replies (info, names, params) arrived at this port and were dropped
    assert not any(x[:2] == ["flowsynth", "2"] for x in replies), err
    assert any(x[:3] == ["flowsynth", "1", "busy"] for x in replies), err  # the sketch ran
    params = [np.array(list(map(float, x))) for x in parse(err, "params")]
    assert len(params) == 4, err  # macros, macro, latent, sketch: none from slot 2
    n = len(model.param_names)
    assert all(len(v) == n for v in params)

    # the model's own answer: macros set the first 8 latent coordinates of the start point
    z = model.latent_from_macros(np.array([MACROS]), model.center())
    np.testing.assert_allclose(params[0], model.params_from_latent(z)[0], atol=1e-4)
    moved = [*MACROS]
    moved[0] = 0.9
    z = model.latent_from_macros(np.array([moved]), model.center())
    np.testing.assert_allclose(params[1], model.params_from_latent(z)[0], atol=1e-4)
    assert not np.allclose(params[0], params[1])
    np.testing.assert_allclose(params[2], model.params_from_latent(
        np.zeros((1, model.latent_dim)))[0], atol=1e-4)
    # /latent answers with the dials' positions too: the centre is 0.5 on every macro
    macros = [list(map(float, x)) for x in parse(err, "macros")]
    assert len(macros) == 2 and np.allclose(macros[0], 0.5, atol=1e-4), err
    # the sketch's answer: the model's own encoding of the file
    audio, _ = sf.read(wav, dtype="float32")
    z = np.asarray(model.latent_from_audio(audio[None]))
    np.testing.assert_allclose(params[3], model.params_from_latent(z)[0], atol=1e-4)
    assert not re.search(r"error", " ".join(" ".join(x) for x in replies)), err
    # the sketch's note came out of the twin's fourth outlet: a 318 Hz tone is MIDI 63
    notes = parse(err, "note")
    assert len(notes) == 1 and notes[0][0] == "63" and abs(float(notes[0][1]) - 318.3) < 3, err
