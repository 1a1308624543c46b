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

Speed matters because this runs on every live stroke. Two facts keep it under
a tenth of a millisecond without changing the result:

* Along one straight segment the distance to any chord is a convex function
  of arc length, so RDP over the 1-pixel resampled points only ever picks the
  first or last resampled point of some segment. We materialise just those
  "candidate" points (at most two per input point) instead of every pixel.
* The small per-stroke RDP runs in plain Python on lists, which beats numpy
  call overhead at these sizes; everything else is vectorised over the whole
  drawing at once.
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
# Distance put between strokes on the shared arc-length axis so that no
# resampling position of one stroke can fall into the next.
_STROKE_GAP = 8.0
# Above this many points a span's distances are computed with numpy.
_NUMPY_SPAN = 40


class StrokeError(ValueError):
    """A drawing that cannot be read as strokes."""


def _flatten(drawing: Drawing) -> tuple[np.ndarray, np.ndarray]:
    """All points as an (n, 2) float array and each point's stroke index."""
    xs: list[float] = []
    ys: list[float] = []
    lengths: list[int] = []
    for stroke in drawing:
        if len(stroke) < 2:
            raise StrokeError("a stroke needs x and y lists")
        sx, sy = stroke[0], stroke[1]
        if len(sx) != len(sy):
            raise StrokeError("a stroke's x and y lists differ in length")
        xs.extend(sx)
        ys.extend(sy)
        lengths.append(len(sx))
    try:
        pts = np.empty((len(xs), 2), dtype=np.float64)
        pts[:, 0] = xs
        pts[:, 1] = ys
    except (TypeError, ValueError) as exc:
        raise StrokeError("coordinates must be numbers") from exc
    if not np.isfinite(pts).all():
        raise StrokeError("coordinates must be finite numbers")
    return pts, np.repeat(np.arange(len(lengths)), lengths)


def _rdp_keep(xs: np.ndarray, ys: np.ndarray, epsilon: float) -> np.ndarray:
    """Ramer-Douglas-Peucker over one stroke: a mask of the points kept."""
    keep = [False] * len(xs)
    _rdp_mark(xs, ys, xs.tolist(), ys.tolist(), 0, len(xs), epsilon, keep)
    return np.array(keep, dtype=bool)


def _rdp_mark(xs: np.ndarray, ys: np.ndarray, lx: list, ly: list, start: int, stop: int, epsilon: float,
              keep: list) -> None:
    """RDP over points start..stop-1 of the drawing: sets keep[i] for the points kept.

    The points come both as arrays and as lists: long spans are measured with
    numpy, short ones in plain Python, whichever is cheaper at that size
    (numpy's per-call overhead is a few microseconds).
    """
    keep[start] = keep[stop - 1] = True
    stack = [(start, stop - 1)]
    hypot = math.hypot
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        ax, ay = lx[first], ly[first]
        dx, dy = lx[last] - ax, ly[last] - ay
        norm = hypot(dx, dy)
        if last - first > _NUMPY_SPAN:
            ix, iy = xs[first + 1 : last] - ax, ys[first + 1 : last] - ay
            dists = np.hypot(ix, iy) if norm == 0.0 else np.abs(dy * ix - dx * iy)
            i = int(dists.argmax())
            best, best_i = float(dists[i]), first + 1 + i
        elif norm == 0.0:
            best, best_i = -1.0, -1
            for i in range(first + 1, last):
                d = hypot(lx[i] - ax, ly[i] - ay)
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


def simplify(drawing: Drawing) -> list[np.ndarray]:
    """Quick, Draw!'s simplified preprocessing: one integer-valued (n, 2) float array per stroke, in 0-255."""
    pts, ids = _flatten(drawing)
    if len(pts) == 0:
        return []
    # 1-2. Align to the top-left and scale the longest side to 255.
    lo = pts.min(axis=0)
    extent = float((pts.max(axis=0) - lo).max())
    pts = (pts - lo) * (SPAN / extent if extent > 0 else 1.0)
    # Drop points that repeat the previous point of the same stroke.
    if len(pts) > 1:
        moved = np.any(pts[1:] != pts[:-1], axis=1) | (ids[1:] != ids[:-1])
        keep = np.concatenate(([True], moved))
        pts, ids = pts[keep], ids[keep]
    # 3. Resampling at 1 px: arc length along each stroke, strokes laid end to
    # end on one axis with a gap between them.
    same = ids[1:] == ids[:-1]
    step = np.where(same, np.hypot(*np.diff(pts, axis=0).T), _STROKE_GAP)
    axis = np.concatenate(([0.0], np.cumsum(step)))
    first = np.concatenate(([True], ~same))
    last = np.concatenate((~same, [True]))
    start_of = axis[first][np.cumsum(first) - 1]  # each point's stroke start on the axis
    local = axis - start_of
    length_of = (axis[last] - axis[first])[np.cumsum(first) - 1]
    floor = np.floor(local)
    # Candidates (see module doc): the resampled positions next to every
    # input point, plus every stroke's end.
    cand_local = np.concatenate((floor, floor + RESAMPLE_SPACING, length_of))
    cand_start = np.concatenate((start_of, start_of, start_of))
    cand_len = np.concatenate((length_of, length_of, length_of))
    ok = cand_local <= cand_len
    where = np.sort(cand_local[ok] + cand_start[ok])
    if len(where) > 1:  # np.unique without its Python-level overhead
        where = where[np.concatenate(([True], where[1:] != where[:-1]))]
    owner = np.searchsorted(axis[first], where, side="right") - 1
    cx = np.interp(where, axis, pts[:, 0])
    cy = np.interp(where, axis, pts[:, 1])
    # 4. RDP per stroke (a keep-mask over the whole drawing), then round and
    # drop repeats for all strokes at once.
    starts = np.flatnonzero(np.diff(owner)).tolist()
    keep = [True] * len(owner)
    lx, ly = cx.tolist(), cy.tolist()
    for a, b in zip([0, *(i + 1 for i in starts)], [*(i + 1 for i in starts), len(owner)], strict=True):
        if b - a > 2:
            keep[a + 1 : b - 1] = [False] * (b - a - 2)
            _rdp_mark(cx, cy, lx, ly, a, b, RDP_EPSILON, keep)
    keep = np.array(keep, dtype=bool)
    pts = np.round(np.column_stack((cx[keep], cy[keep])))
    owner = owner[keep]
    if len(pts) > 1:
        repeat = np.all(pts[1:] == pts[:-1], axis=1) & (owner[1:] == owner[:-1])
        keep = np.concatenate(([True], ~repeat))
        pts, owner = pts[keep], owner[keep]
    bounds = [0, *(np.flatnonzero(np.diff(owner)) + 1).tolist(), len(pts)]
    return [pts[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def is_simplified(drawing: Drawing) -> bool:
    """True when a drawing looks like the simplified format: two lists per stroke, integers in 0-255,
    touching the top-left and spanning most of the square (Google's own files stop a few units short)."""
    if any(len(stroke) != 2 for stroke in drawing):
        return False
    pts, _ = _flatten(drawing)
    if len(pts) == 0:
        return True
    if not np.array_equal(pts, np.round(pts)):
        return False
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return bool(lo.min() >= 0 and hi.max() <= SPAN and lo.max() <= 8 and hi.max() >= SPAN - 8)


def first_half(drawing: Drawing) -> list:
    """The first half of a drawing's strokes (at least one): what a player had drawn half-way."""
    return list(drawing[: max(1, (len(drawing) + 1) // 2)])
