"""FlowSynth Sketch: a Live audio effect on a track with a microphone (or any audio).

Record up to 8 s into a buffer~, write it as a WAV file into the server's sketch folder
(asked for with /flowsynth/sketch_dir) or a folder the musician chose that the server allows
(`--allow-dir`), and send /flowsynth/S/sketch once buffer~ says the file is written; the
Macros device on the same slot applies the result. Shows the take's note as the server
heard it (/flowsynth/S/sketch_note): play the matched preset there to hear the sketch's
pitch. Plays back the take, and auditions /rendered files."""

from __future__ import annotations

from common import button_to_js, core, header, to_js

from bridge.maxpat.patcher import Patcher

KIND = "audio"
OUTPUT = "m4l_devices/FlowSynth Sketch.amxd"
WIDTH = 300.0
BUFFER = "---flowsynth_take"  # "---" makes the name unique to each device instance


def build(p: Patcher) -> None:
    c = core(p, "sketch", {"status": (4, 70, 292, 30), "error": (4, 102, 292, 30),
                           "port": (4, 134, 140, 16), "busy": (148, 134, 148, 16),
                           "note": (4, 150, 292, 16)})
    js = c.js
    header(p, js, "Sketch")

    # Audio passes through; playback of the take and of renders is mixed in.
    adc = p.obj("plugin~", 10, 400)
    dac = p.obj("plugout~", 10, 560)
    p.connect(adc, 0, dac, 0)
    p.connect(adc, 1, dac, 1)
    buf = p.obj(f"buffer~ {BUFFER} 8000 1", 200, 440)
    rec = p.obj(f"record~ {BUFFER} 1", 10, 480)
    play = p.obj(f"play~ {BUFFER} 1", 200, 480)
    # buffer~ bangs when its write is on disk; play~ when the take has played.
    written = p.msg("written", 200, 520)
    p.connect(buf, 1, written, 0)
    p.connect(written, 0, js, 0)
    played = p.msg("played", 260, 520)
    p.connect(play, 1, played, 0)
    p.connect(played, 0, js, 0)
    sf = p.obj("sfplay~ 1", 360, 480)
    p.connect(adc, 0, rec, 0)
    for src in (play, sf):
        p.connect(src, 0, dac, 0)
        p.connect(src, 0, dac, 1)
    ctl = p.obj("route buffer record play audition", 200, 380, 220)
    p.connect(js, 3, ctl, 0)
    p.connect(ctl, 0, buf, 0)
    p.connect(ctl, 1, rec, 0)
    p.connect(ctl, 2, play, 0)
    start = p.obj("t b a", 360, 420)
    one = p.msg("1", 360, 450)
    p.connect(ctl, 3, start, 0)
    p.connect(start, 1, sf, 0)
    p.connect(start, 0, one, 0)
    p.connect(one, 0, sf, 0)

    rec_button = p.param("live.text", 10, 200, 60, 30, (4, 24, 70, 40), longname="Record",
                         shortname="Rec", kind="enum", enum=["off", "on"], initial=0,
                         mode=1, text="Rec", texton="Stop")
    to_js(p, rec_button, js, "rec", 10, 240)
    ui_route = p.obj("route 0 1", 10, 160)
    p.connect(js, 2, ui_route, 0)
    p.connect(ui_route, 0, rec_button, 0)
    play_button = p.param("live.text", 90, 200, 60, 30, (78, 24, 70, 40), longname="Play Take",
                          shortname="Play", kind="enum", enum=["off", "on"], initial=0,
                          mode=1, text="Play", texton="Stop", hidden=True)
    to_js(p, play_button, js, "play", 90, 240)
    p.connect(ui_route, 1, play_button, 0)
    p.bank("Sketch", ["Record"])

    # A folder of the musician's choice (the server must allow it) instead of the server's
    # own sketch folder; kept with the Live set in a stored-only blob parameter.
    folder_button = p.param("live.text", 170, 200, 60, 18, (152, 24, 70, 18),
                            longname="Choose Folder", shortname="Folder", kind="enum",
                            enum=["off", "on"], initial=0, hidden=True, mode=0,
                            text="Folder...", texton="Folder...")
    sel = p.obj("sel 1", 170, 240)
    dialog = p.obj("opendialog fold", 170, 270)
    conform = p.obj("conformpath slash boot", 170, 300)
    stored = p.stored("flowsynth_folder", 170, 330, longname="Sketch Folder",
                      shortname="Folder")
    p.chain(folder_button, sel, dialog, conform, stored)
    to_js(p, stored, js, "folder", 170, 360)
    p.comment("optional: a folder the server allows (--allow-dir)", 250, 200, 260,
              present=(152, 46, 144, 20), fontsize=8.0)
    button_to_js(p, p.param("live.text", 250, 240, 60, 18, (226, 24, 70, 18),
                            longname="Ping", shortname="Ping", kind="enum",
                            enum=["off", "on"], initial=0, hidden=True, mode=0,
                            text="Hello", texton="Hello"), js, "init", 250, 270)
