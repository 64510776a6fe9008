"""flowsynth.maxpat: the Macros device's controls outside Live, driving a [vst~] that hosts
the user's plugin. Parameter values go to vst~ by index (the model's parameter order must be
the plugin's: train on that plugin through `--synth vst3:...`)."""

from __future__ import annotations

from common import button_to_js, core, header, model_menu, to_js

from bridge.maxpat.patcher import Patcher

KIND = "patch"
OUTPUT = "max_patches/flowsynth.maxpat"


def build(p: Patcher) -> None:
    c = core(p, "patch", {"status": (4, 150, 500, 18), "model": (4, 170, 500, 18),
                          "error": (4, 190, 500, 30), "port": (4, 222, 200, 18)})
    js = c.js
    header(p, js, "(Max)", live=False)
    model_menu(p, js, (4, 244, 180, 18), (188, 244, 44, 18), 760, 90)
    dial_route = p.obj("route " + " ".join(str(k) for k in range(8)), 10, 120, 300)
    p.connect(js, 2, dial_route, 0)
    for k in range(8):
        dial = p.param("live.dial", 10 + 60 * k, 160, 44, 48, (4 + 48 * k, 24, 44, 48),
                       longname=f"Macro {k + 1}", shortname=f"M{k + 1}", initial=0.5)
        p.connect(dial_route, k, dial, 0)
        to_js(p, dial, js, f"dial {k}", 10 + 60 * k, 220)
    for i, (label, message) in enumerate([("A", "anchor a"), ("B", "anchor b"),
                                          ("Explore", "explore"), ("Render", "render")]):
        b = p.param("live.text", 500 + 70 * i, 200, 52, 18, (4 + 60 * i, 80, 56, 18),
                    longname=f"Button {label}", shortname=label, kind="enum",
                    enum=["off", "on"], initial=0, mode=0, text=label, texton=label)
        button_to_js(p, b, js, message, 500 + 70 * i, 230)
    morph = p.param("live.dial", 500, 290, 44, 48, (250, 80, 44, 48), longname="Morph",
                    shortname="Morph")
    to_js(p, morph, js, "morph", 500, 350)
    radius = p.param("live.dial", 560, 290, 44, 48, (300, 80, 44, 48), longname="Radius",
                     shortname="Radius", lo=0.0, hi=4.0, initial=1.0)
    to_js(p, radius, js, "radius", 560, 350)

    # The plugin: "plug" opens a chooser; notes as MIDI events; parameters by index.
    plug = p.msg("plug", 10, 420, presentation=1, presentation_rect=[400.0, 24.0, 40.0, 20.0])
    note_on = p.msg("midievent 144 60 100", 60, 420, presentation=1,
                    presentation_rect=[400.0, 48.0, 130.0, 20.0])
    note_off = p.msg("midievent 128 60 0", 200, 420, presentation=1,
                     presentation_rect=[400.0, 72.0, 130.0, 20.0])
    vst = p.obj("vst~ 2 2", 10, 500, 120)
    audition = p.obj("route audition", 140, 460)
    p.connect(js, 3, audition, 0)
    p.connect(audition, 1, vst, 0)
    for m in (plug, note_on, note_off):
        p.connect(m, 0, vst, 0)
    sf = p.obj("sfplay~ 1", 300, 500)
    start = p.obj("t b a", 300, 470)
    one = p.msg("1", 360, 470)
    p.connect(audition, 0, start, 0)
    p.connect(start, 1, sf, 0)
    p.connect(start, 0, one, 0)
    p.connect(one, 0, sf, 0)
    dac = p.ui("ezdac~", 10, 560, 45, 45, (450, 24, 45, 45))
    p.connect(vst, 0, dac, 0)
    p.connect(vst, 1, dac, 1)
    p.connect(sf, 0, dac, 0)
    p.connect(sf, 0, dac, 1)
    p.comment("host, port: send 'host 127.0.0.1' or 'server 9123' to the js", 10, 620, 400)
