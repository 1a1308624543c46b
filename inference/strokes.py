"""Quick, Draw!'s "simplified" stroke preprocessing, for raw canvas strokes.

A drawing is a list of strokes; a stroke is ``[xs, ys]`` or ``[xs, ys, ts]``
(the dataset's own format; ``ts`` are milliseconds and are not needed here).
The published recipe, in this order:

1. align the drawing to the top-left corner (minimum 0),
2. scale uniformly so that the longest side spans 0-255,
3. resample every stroke at 1-pixel spacing,
4. simplify every stroke with Ramer-Douglas-Peucker, epsilon 2.0,

then round to integers. Already simplified drawings pass through (nearly)
unchanged, so both formats go through the same function.

Speed matters because this runs on every live stroke. Two facts keep it near
a tenth of a millisecond without changing the result:

* Along one straight segment the distance to any chord is a convex function
  of arc length, so RDP over the 1-pixel resampled points only ever picks the
  first or last resampled point of some segment. We materialise just those
  "candidate" points (at most two per input point) instead of every pixel.
* Drawings are small (a few dozen points once simplified, a few hundred raw),
  so the work per stroke runs in plain Python on lists, which beats numpy's
  per-call overhead at these sizes; only RDP over a long span measures its
  distances with numpy.

After steps 1-2, each stroke is simplified on its own, so a drawing that
grows (:class:`GrowingDrawing`) keeps the result of every stroke that did not
change while its alignment and scale stay put.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Stroke = Sequence[Sequence[float]]
Drawing = Sequence[Stroke]

SPAN = 255.0
RESAMPLE_SPACING = 1.0
RDP_EPSILON = 2.0
# Above this many points a span's distances are computed with numpy.
_NUMPY_SPAN = 40


class StrokeError(ValueError):
    """A drawing that cannot be read as strokes."""


def _read(stroke: Stroke) -> tuple[list[float], list[float]]:
    """A stroke's x and y as lists of finite floats (a third list of timestamps, if any, is not needed)."""
    if len(stroke) < 2:
        raise StrokeError("a stroke needs x and y lists")
    sx, sy = stroke[0], stroke[1]
    if len(sx) != len(sy):
        raise StrokeError("a stroke's x and y lists differ in length")
    try:
        xs, ys = [float(v) for v in sx], [float(v) for v in sy]
    except (TypeError, ValueError) as exc:
        raise StrokeError("coordinates must be numbers") from exc
    if not all(map(math.isfinite, xs)) or not all(map(math.isfinite, ys)):  # NaN slips through min and max
        raise StrokeError("coordinates must be finite numbers")
    return xs, ys


def _alignment(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float]:
    """Steps 1-2 for strokes with these (min x, min y, max x, max y): the drawing's left, top and scale."""
    lox, loy = min(b[0] for b in boxes), min(b[1] for b in boxes)
    extent = max(max(b[2] for b in boxes) - lox, max(b[3] for b in boxes) - loy)
    return lox, loy, SPAN / extent if extent > 0 else 1.0


def _box(xs: list[float], ys: list[float]) -> tuple[float, float, float, float]:
    return min(xs), min(ys), max(xs), max(ys)


def _rdp_mark(
    xs: np.ndarray | None, ys: np.ndarray | None, lx: list, ly: list, start: int, stop: int, epsilon: float, keep: list
) -> None:
    """RDP over points start..stop-1: sets keep[i] for the points kept.

    The points come as lists and, optionally, as arrays: long spans are
    measured with numpy when the arrays are given, short ones in plain Python,
    whichever is cheaper at that size (numpy's per-call overhead is a few
    microseconds). Both compute the same floating-point operations in the same
    order, so they pick the same points.
    """
    keep[start] = keep[stop - 1] = True
    stack = [(start, stop - 1)]
    sqrt = math.sqrt
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        ax, ay = lx[first], ly[first]
        dx, dy = lx[last] - ax, ly[last] - ay
        norm = sqrt(dx * dx + dy * dy)
        if xs is not None and last - first > _NUMPY_SPAN:
            ix, iy = xs[first + 1 : last] - ax, ys[first + 1 : last] - ay
            dists = np.sqrt(ix * ix + iy * iy) if norm == 0.0 else np.abs(dy * ix - dx * iy)
            i = int(dists.argmax())
            best, best_i = float(dists[i]), first + 1 + i
        elif norm == 0.0:
            best, best_i = -1.0, -1
            for i in range(first + 1, last):
                ix, iy = lx[i] - ax, ly[i] - ay
                d = sqrt(ix * ix + iy * iy)
                if d > best:
                    best, best_i = d, i
        else:
            best, best_i = -1.0, -1
            for i in range(first + 1, last):
                d = abs(dy * (lx[i] - ax) - dx * (ly[i] - ay))
                if d > best:
                    best, best_i = d, i
        if norm != 0.0:
            best /= norm
        if best > epsilon:
            keep[best_i] = True
            stack.append((first, best_i))
            stack.append((best_i, last))


def _simplify_stroke(xs: list[float], ys: list[float], lox: float, loy: float, scale: float) -> np.ndarray:
    """Steps 1-4 for one non-empty stroke of a drawing aligned by (lox, loy, scale): an (n, 2) integer-valued array."""
    sqrt, floor = math.sqrt, math.floor
    # 1-2, dropping points that repeat the previous one; the arc length of each point kept.
    axis: list[float] = []
    px: list[float] = []
    py: list[float] = []
    at = 0.0
    lastx = lasty = None
    for x, y in zip(xs, ys, strict=True):
        x, y = (x - lox) * scale, (y - loy) * scale
        if lastx is not None:
            if x == lastx and y == lasty:
                continue
            dx, dy = x - lastx, y - lasty
            at += sqrt(dx * dx + dy * dy)
        axis.append(at)
        px.append(x)
        py.append(y)
        lastx, lasty = x, y
    # 3. Candidates (see module doc): the resampled positions next to every point, and the stroke's end.
    cands = {at}
    for a in axis:
        f = floor(a)
        cands.add(f)
        cands.add(f + RESAMPLE_SPACING)
    n = len(axis)
    cx: list[float] = []
    cy: list[float] = []
    j = 0
    for w in sorted(c for c in cands if c <= at):
        while j + 1 < n and axis[j + 1] <= w:  # the segment j with axis[j] <= w < axis[j + 1]
            j += 1
        if j == n - 1 or axis[j] == w:
            cx.append(px[j])
            cy.append(py[j])
        else:
            run = axis[j + 1] - axis[j]
            cx.append((px[j + 1] - px[j]) / run * (w - axis[j]) + px[j])
            cy.append((py[j + 1] - py[j]) / run * (w - axis[j]) + py[j])
    # 4. RDP, then round and drop repeats.
    keep = [True] * len(cx)
    if len(cx) > 2:
        keep[1:-1] = [False] * (len(cx) - 2)
        long = len(cx) > _NUMPY_SPAN
        _rdp_mark(np.array(cx) if long else None, np.array(cy) if long else None, cx, cy, 0, len(cx), RDP_EPSILON, keep)
    kept: list[tuple[float, float]] = []
    for x, y, k in zip(cx, cy, keep, strict=True):
        if k:
            point = (float(round(x)), float(round(y)))
            if not kept or kept[-1] != point:
                kept.append(point)
    return np.array(kept, dtype=np.float64)


def simplify(drawing: Drawing) -> list[np.ndarray]:
    """Quick, Draw!'s simplified preprocessing: one integer-valued (n, 2) float array per non-empty stroke, 0-255."""
    strokes = [xy for xy in map(_read, drawing) if xy[0]]
    if not strokes:
        return []
    lox, loy, scale = _alignment([_box(xs, ys) for xs, ys in strokes])
    return [_simplify_stroke(xs, ys, lox, loy, scale) for xs, ys in strokes]


class GrowingDrawing:
    """Simplifies the successive versions of one live drawing, redoing only the strokes that changed.

    A drawing in play is classified again after every stroke and every few
    hundred milliseconds of a long one: each version is the last one plus a
    little. While the drawing's alignment and scale (steps 1-2) stay put, each
    stroke's result depends on that stroke alone, so the strokes that did not
    change keep theirs: the result is :func:`simplify`'s to the bit (a test
    holds it to that).

    Strokes are compared by value with the last version's, and kept by
    reference: a stroke must not be changed in place once given (the live
    path builds new lists for every version).
    """

    def __init__(self) -> None:
        self._strokes: list = []  # the strokes of the last version, as given
        self._read: list[tuple[list[float], list[float]]] = []  # each one's coordinates
        self._out: list[np.ndarray | None] = []  # each one's result (None: not computed, or no points)
        self._alignment: tuple[float, float, float] | None = None
        self.reused = 0  # strokes the last call took as they were

    def simplify(self, drawing: Drawing) -> list[np.ndarray]:
        drawing = list(drawing)
        kept = 0
        for old, new in zip(self._strokes, drawing, strict=False):
            if old is not new and old != new:
                break
            kept += 1
        read = self._read[:kept] + [_read(stroke) for stroke in drawing[kept:]]  # may raise: nothing changed yet
        boxes = [_box(xs, ys) for xs, ys in read if xs]
        alignment = _alignment(boxes) if boxes else None
        if alignment != self._alignment:
            kept = 0
        out = self._out[:kept]
        for xs, ys in read[kept:]:
            out.append(_simplify_stroke(xs, ys, *alignment) if xs else None)
        self._strokes, self._read, self._out, self._alignment = drawing, read, out, alignment
        self.reused = kept
        return [points for points in out if points is not None]


def is_simplified(drawing: Drawing) -> bool:
    """True when a drawing looks like the simplified format: two lists per stroke, integers in 0-255,
    touching the top-left and spanning most of the square (Google's own files stop a few units short)."""
    if any(len(stroke) != 2 for stroke in drawing):
        return False
    read = [xy for xy in map(_read, drawing) if xy[0]]
    if not read:
        return True
    pts = np.array([(x, y) for xs, ys in read for x, y in zip(xs, ys, strict=True)], dtype=np.float64)
    if not np.array_equal(pts, np.round(pts)):
        return False
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return bool(lo.min() >= 0 and hi.max() <= SPAN and lo.max() <= 8 and hi.max() >= SPAN - 8)


def first_half(drawing: Drawing) -> list:
    """The first half of a drawing's strokes (at least one): what a player had drawn half-way."""
    return list(drawing[: max(1, (len(drawing) + 1) // 2)])
