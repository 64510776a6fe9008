"""Pieces every FlowSynth device and patch shares: the [js] brain, OSC in and out, the
header (slot, reply port, server port) and the status lines. Positions are patching-view
coordinates; ``present`` rectangles are what the musician sees."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.maxpat.patcher import Patcher, Rect

JS = "flowsynth.js"
SERVER_PORT = 9123


@dataclass
class Core:
    js: str
    status: dict[str, str]  # status kind -> comment box id


def core(p: Patcher, role: str, status_rects: dict[str, tuple[float, float, float, float]],
         x: float = 600.0, y: float = 40.0) -> Core:
    """[js] with its OSC ports and a [route] of its status outlet into comments."""
    js = p.obj(f"js {JS} {role}", x, y + 120, 140)
    send = p.obj(f"udpsend 127.0.0.1 {SERVER_PORT}", x, y + 200)
    # The port is a placeholder: the [js] sets the real one at load (auto or the user's).
    recv = p.obj("udpreceive 9299", x + 200, y + 60)
    p.connect(js, 0, send, 0)
    p.connect(js, 1, recv, 0)
    p.connect(recv, 0, js, 1)
    kinds = list(status_rects)
    route = p.obj("route " + " ".join(kinds), x, y + 260, 300)
    p.connect(js, 5, route, 0)
    status: dict[str, str] = {}
    for i, kind in enumerate(kinds):
        pre = p.obj("prepend set", x + 110 * i, y + 300)
        box = p.comment("", x + 110 * i, y + 340, 100, present=status_rects[kind],
                        varname=f"status_{kind}")
        p.connect(route, i, pre, 0)
        p.connect(pre, 0, box, 0)
        status[kind] = box
    return Core(js, status)


def to_js(p: Patcher, src: str, js: str, prefix: str, x: float, y: float, outlet: int = 0) -> str:
    """src's value as a message "<prefix> <value>" into the [js]."""
    pre = p.obj(f"prepend {prefix}", x, y)
    p.connect(src, outlet, pre, 0)
    p.connect(pre, 0, js, 0)
    return pre


def button_to_js(p: Patcher, src: str, js: str, message: str, x: float, y: float) -> None:
    """A live.text button: its press (1) sends one fixed message."""
    sel = p.obj("sel 1", x, y)
    msg = p.msg(message, x, y + 30)
    p.connect(src, 0, sel, 0)
    p.connect(sel, 0, msg, 0)
    p.connect(msg, 0, js, 0)


def model_menu(p: Patcher, js: str, present: Rect, button: Rect, x: float, y: float) -> None:
    """A menu of the server's models (/flowsynth/models): choosing one loads it into the slot.
    The [js] fills it when the server answers, and marks the slot's model after each info."""
    route = p.obj("route models", x, y)
    p.connect(js, 5, route, 0)
    menu = p.ui("umenu", x, y + 30, 150, 18, present, items=["(models)"], varname="model_menu")
    p.connect(route, 0, menu, 0)
    to_js(p, menu, js, "loadmodel", x, y + 60)
    listing = p.param("live.text", x + 160, y + 30, 40, 18, button, longname="List Models",
                      shortname="Models", kind="enum", enum=["off", "on"], initial=0,
                      hidden=True, mode=0, text="Models", texton="Models")
    button_to_js(p, listing, js, "models", x + 160, y + 60)


def header(p: Patcher, js: str, role_name: str, *, live: bool = True) -> None:
    """Title, slot menu, reply-port and server-port boxes along the top of the face."""
    p.comment(f"FlowSynth {role_name}", 10, 10, 120, present=(4, 2, 90, 18),
              fontface=1)
    slot = p.param("live.menu", 10, 40, 44, 15, (96, 4, 40, 15), longname="Slot",
                   shortname="Slot", kind="enum", enum=[str(i) for i in range(1, 17)],
                   initial=0, hidden=True)
    to_js(p, slot, js, "slotindex", 10, 70)
    rport = p.param("live.numbox", 70, 40, 50, 15, (140, 4, 44, 15), longname="Reply Port",
                    shortname="Reply", kind="int", lo=0, hi=65535, initial=0, unitstyle=0,
                    hidden=True)
    to_js(p, rport, js, "port", 70, 70)
    sport = p.param("live.numbox", 130, 40, 50, 15, (188, 4, 44, 15), longname="Server Port",
                    shortname="Server", kind="int", lo=1, hi=65535, initial=SERVER_PORT,
                    unitstyle=0, hidden=True)
    to_js(p, sport, js, "server", 130, 70)
    # In Live, "ready" also tells the [js] that the Live API may be used from now on.
    start = p.obj("live.thisdevice", 200, 10) if live else p.obj("loadbang", 200, 10)
    init = p.msg("ready" if live else "init", 200, 40)
    p.connect(start, 0, init, 0)
    p.connect(init, 0, js, 0)
