"""Small SVG pictures of stored drawings (the gallery, the admin): bounded whatever was drawn.

A drawing may hold up to protocol.MAX_POINTS_PER_DRAWING points; a picture of
it holds at most MAX_POINTS. The strokes go through the AI's own preprocessing
(aligned, scaled to 0-255, Ramer-Douglas-Peucker with epsilon 2), which keeps
a drawing's shape in a few hundred points; a scribble that still has more is
thinned evenly. Only numbers reach the SVG, so nothing a player typed becomes
markup.
"""

from __future__ import annotations

import numpy as np

from inference.strokes import StrokeError, simplify

MAX_POINTS = 1500
# The pen in the 256-unit box: close to what the game's medium brush looks like on a thumbnail.
PEN = 4.0
PAD = 8.0


def _thinned(strokes: list[np.ndarray], budget: int) -> list[np.ndarray]:
    """At most `budget` points over all strokes (each stroke keeps its ends and at least two points)."""
    total = sum(len(s) for s in strokes)
    if total <= budget:
        return strokes
    share = budget / total
    out = []
    for s in strokes:
        keep = max(2, int(len(s) * share))
        if len(s) > keep:
            s = s[np.linspace(0, len(s) - 1, keep).round().astype(int)]
        out.append(s)
    return out


def drawing_svg(strokes: list, *, size: int | None = None, css_class: str = "drawing") -> str:
    """An SVG of a stored drawing (raw format, as a Turn keeps it), at most MAX_POINTS points."""
    try:
        simple = [s for s in simplify([[s[0], s[1]] for s in strokes if len(s) >= 2]) if len(s)]
    except StrokeError:
        simple = []
    simple = _thinned(simple, MAX_POINTS)
    box = 256 + 2 * PAD
    dims = f' width="{size}" height="{size}"' if size else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" viewBox="{-PAD:g} {-PAD:g} {box:g} {box:g}"'
        f'{dims} fill="none" stroke="#111" stroke-width="{PEN:g}" stroke-linecap="round"'
        ' stroke-linejoin="round">'
    ]
    for s in simple:
        coords = " ".join(f"{int(x)},{int(y)}" for x, y in s)
        if len(s) == 1:
            x, y = s[0]
            parts.append(f'<circle cx="{int(x)}" cy="{int(y)}" r="{PEN / 2:g}" fill="#111" stroke="none"/>')
        else:
            parts.append(f'<polyline points="{coords}"/>')
    parts.append("</svg>")
    return "".join(parts)
