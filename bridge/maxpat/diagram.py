"""A screenshot-style SVG of a device's face, drawn from its patcher: every presented box at
its presentation_rect, labelled from its own attributes, so the picture cannot drift from
the device. Plain SVG text (no plotting library), so the bytes are stable."""

from __future__ import annotations

from html import escape
from typing import Any

SCALE = 2.0
COLORS = {"live.dial": "#f0a23a", "live.text": "#5aa9e6", "live.menu": "#9c8cf0",
          "live.numbox": "#9c8cf0", "umenu": "#9c8cf0", "comment": "#2b2f36"}


def _label(box: dict[str, Any]) -> str:
    valueof = box.get("saved_attribute_attributes", {}).get("valueof", {})
    cls = box["maxclass"]
    if cls == "live.text":
        return str(box.get("text", valueof.get("parameter_shortname", "")))
    if cls in ("live.dial", "live.numbox"):
        return str(valueof.get("parameter_shortname", ""))
    if cls == "live.menu":
        return f"{valueof.get('parameter_shortname', '')} ▾"
    if cls == "umenu":
        return f"{(box.get('items') or [''])[0]} ▾"
    if cls == "comment":
        return str(box.get("text") or "<" + str(box.get("varname", "")).replace("status_", "")
                   + ">")
    return cls


def device_svg(doc: dict[str, Any], title: str) -> str:
    p = doc["patcher"]
    width, height = float(p.get("devicewidth", 400)), 169.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * SCALE:g}" '
           f'height="{(height + 16) * SCALE:g}" viewBox="0 -16 {width:g} {height + 16:g}" '
           'font-family="Arial, sans-serif">',
           f'<rect x="0" y="-16" width="{width:g}" height="16" fill="#1b1d22"/>',
           f'<text x="4" y="-4" font-size="10" fill="#e8e8e8">{escape(title)}</text>',
           f'<rect x="0" y="0" width="{width:g}" height="{height:g}" fill="#3a3d44"/>']
    for entry in p["boxes"]:
        box = entry["box"]
        if box.get("presentation") != 1:
            continue
        x, y, w, h = box["presentation_rect"]
        cls = box["maxclass"]
        label = escape(_label(box))
        if cls == "live.dial":
            r = min(w, h - 14) / 2 - 2
            cx, cy = x + w / 2, y + 12 + r
            out.append(f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="none" '
                       f'stroke="{COLORS[cls]}" stroke-width="2.5"/>')
            out.append(f'<text x="{cx:g}" y="{y + 9:g}" font-size="8" fill="#e8e8e8" '
                       f'text-anchor="middle">{label}</text>')
            continue
        if cls == "comment":
            color = "#9aa0a6" if box.get("text") == "" else "#e8e8e8"
            out.append(f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" fill="none" '
                       'stroke="#5c6068" stroke-dasharray="2,2"/>')
            out.append(f'<text x="{x + 2:g}" y="{y + 11:g}" font-size="8" '
                       f'fill="{color}">{label}</text>')
            continue
        out.append(f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="2" '
                   f'fill="{COLORS.get(cls, "#666")}"/>')
        out.append(f'<text x="{x + w / 2:g}" y="{y + h / 2 + 3:g}" font-size="8" '
                   f'fill="#111" text-anchor="middle">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
