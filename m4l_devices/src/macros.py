"""FlowSynth Macros: a Live MIDI effect placed before a synth on its track.

Face (560 x 169): 8 macro dials (the first Push bank), target menu and Map, anchors A/B,
Morph, Radius and Explore, Render, and status lines. Replies set the mapped parameters of the
target device through 128 live.remote~ objects (continuous) or the Live API (one-shot).
The target choice is kept with the set in a stored-only [pattr]; the [js] maps by itself
when the model's names arrive, so a reopened set drives its synth without pressing Map."""

from __future__ import annotations

from common import button_to_js, core, header, model_menu, to_js

from bridge.maxpat.patcher import Patcher

KIND = "midi"
OUTPUT = "m4l_devices/FlowSynth Macros.amxd"
WIDTH = 560.0
N_MACROS = 8
N_REMOTES = 128  # more matched parameters follow only one-shot results
MACRO_NAMES = [f"Macro {k + 1}" for k in range(N_MACROS)]


def build(p: Patcher) -> None:
    c = core(p, "macros", {
        "status": (236, 4, 320, 16), "model": (4, 78, 388, 16), "matched": (396, 116, 160, 30),
        "error": (4, 114, 388, 30), "port": (4, 96, 200, 16), "busy": (208, 96, 184, 16)})
    js = c.js
    header(p, js, "Macros")

    # MIDI passes through untouched: the synth after us must still get its notes.
    midiin = p.obj("midiin", 10, 700)
    midiout = p.obj("midiout", 10, 740)
    p.connect(midiin, 0, midiout, 0)

    # The 8 macros: real Live parameters, automatable, first Push bank.
    dial_route = p.obj("route " + " ".join(str(k) for k in range(N_MACROS)), 10, 120, 300)
    p.connect(js, 2, dial_route, 0)
    for k in range(N_MACROS):
        dial = p.param("live.dial", 10 + 60 * k, 160, 44, 48, (4 + 48 * k, 24, 44, 48),
                       longname=MACRO_NAMES[k], shortname=f"M{k + 1}", initial=0.5)
        p.connect(dial_route, k, dial, 0)
        to_js(p, dial, js, f"dial {k}", 10 + 60 * k, 220)
    p.bank("Macros", MACRO_NAMES)

    # Target device and mapping.
    menu = p.ui("umenu", 400, 120, 128, 18, (396, 24, 124, 18), items=["next device"],
                varname="target_menu")
    to_js(p, menu, js, "target", 400, 150)
    targets = p.obj("route targets targetsave", 400, 90, 160)
    p.connect(js, 5, targets, 0)
    p.connect(targets, 0, menu, 0)
    # The choice (position and device name) lives in the set; it comes back at load.
    saved = p.stored("flowsynth_target", 600, 90, longname="Target Device", shortname="Target")
    p.connect(targets, 1, saved, 0)
    to_js(p, saved, js, "savedtarget", 600, 120)
    model_menu(p, js, (4, 148, 180, 18), (188, 148, 44, 18), 760, 90)
    buttons = [("Scan", "refresh", (522, 24, 34, 18)), ("Map", "map", (396, 46, 52, 18)),
               ("Anchor A", "anchor a", (452, 46, 50, 18)),
               ("Anchor B", "anchor b", (506, 46, 50, 18)),
               ("Explore", "explore", (492, 72, 64, 18)), ("Render", "render", (492, 94, 64, 18))]
    automatable = {"Anchor A", "Anchor B", "Explore"}
    for i, (name, message, rect) in enumerate(buttons):
        label = name.replace("Anchor ", "")
        b = p.param("live.text", 400 + 70 * i, 200, 52, 18, rect, longname=name,
                    shortname=label, kind="enum", enum=["off", "on"], initial=0,
                    hidden=name not in automatable, mode=0, text=label, texton=label)
        button_to_js(p, b, js, message, 400 + 70 * i, 230)
    morph = p.param("live.dial", 400, 290, 44, 48, (396, 66, 44, 48), longname="Morph",
                    shortname="Morph", initial=0.0)
    to_js(p, morph, js, "morph", 400, 350)
    radius = p.param("live.dial", 460, 290, 44, 48, (444, 66, 44, 48), longname="Radius",
                     shortname="Radius", lo=0.0, hi=4.0, initial=1.0)
    to_js(p, radius, js, "radius", 460, 350)
    p.bank("Explore", ["Morph", "Radius", "Explore", "Anchor A", "Anchor B"])

    # Continuous parameter changes: one live.remote~ per mapped parameter.
    values = p.obj("route " + " ".join(str(k) for k in range(N_REMOTES)), 10, 420, 900)
    ids = p.obj("route " + " ".join(str(k) for k in range(N_REMOTES)), 10, 460, 900)
    p.connect(js, 3, values, 0)
    p.connect(js, 4, ids, 0)
    for k in range(N_REMOTES):
        remote = p.obj("live.remote~", 10 + 80 * (k % 12), 500 + 30 * (k // 12), 74)
        p.connect(values, k, remote, 0)
        p.connect(ids, k, remote, 1)
