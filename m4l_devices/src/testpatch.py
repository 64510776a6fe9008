"""flowsynth-test.maxpat: checks a user's set-up. Says hello, pings, asks for the models and
slot 1's info, and prints every reply in the Max window (and the [js]'s summary). It pings
once by itself when it opens, right after its hello."""

from __future__ import annotations

from common import core, header

from bridge.maxpat.patcher import Patcher

KIND = "patch"
OUTPUT = "max_patches/flowsynth-test.maxpat"


def build(p: Patcher) -> None:
    c = core(p, "test", {"status": (4, 120, 500, 40), "error": (4, 162, 500, 30),
                         "port": (4, 196, 200, 18)})
    js = c.js
    header(p, js, "test", live=False)
    raw = p.obj("print flowsynth-reply", 800, 140)
    recv = next(b["box"]["id"] for b in p.boxes if b["box"].get("text", "").startswith("udpre"))
    p.connect(recv, 0, raw, 0)
    summary = p.obj("print flowsynth", 600, 420)
    p.connect(js, 5, summary, 0)
    buttons = {}
    for i, text in enumerate(["init", "ping", "models", "info", "dial 0 0.25", "explore"]):
        m = p.msg(text, 10 + 70 * i, 400, presentation=1,
                  presentation_rect=[4.0 + 70 * i, 24.0, 64.0, 20.0])
        p.connect(m, 0, js, 0)
        buttons[text] = m
    # deferlow: after every loadbang, so after the header's init has said hello.
    opened = p.obj("loadbang", 10, 340)
    later = p.obj("deferlow", 10, 370)
    p.chain(opened, later, buttons["ping"])
    p.comment("Click ping: the Max window should print /flowsynth/pong within a second. "
              "Nothing? Is `flowsynth serve` running on this machine, port 9123?",
              10, 460, 500, present=(4, 50, 500, 40))
