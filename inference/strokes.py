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
# Drawings of at most this many input points are simplified in plain Python.
SMALL_DRAWING_POINTS = 96


class StrokeError(ValueError):
    """A drawing that cannot be read as strokes."""


def _xy(stroke: Stroke) -> tuple[Sequence[float], Sequence[float]]:
    """A stroke's x and y lists (a third list of timestamps, if any, is not needed)."""
    if len(stroke) < 2:
        raise StrokeError("a stroke needs x and y lists")
    sx, sy = stroke[0], stroke[1]
    if len(sx) != len(sy):
        raise StrokeError("a stroke's x and y lists differ in length")
    return sx, sy


def _flatten(drawing: Drawing) -> tuple[np.ndarray, np.ndarray]:
    """All points as an (n, 2) float array and each point's stroke index."""
    xs: list[float] = []
    ys: list[float] = []
    lengths: list[int] = []
    for stroke in drawing:
        sx, sy = _xy(stroke)
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


def _rdp_mark(xs: np.ndarray | None, ys: np.ndarray | None, lx: list, ly: list, start: int, stop: int,
              epsilon: float, keep: list) -> None:
    """RDP over points start..stop-1 of the drawing: sets keep[i] for the points kept.

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


def simplify(drawing: Drawing) -> list[np.ndarray]:
    """Quick, Draw!'s simplified preprocessing: one integer-valued (n, 2) float array per stroke, in 0-255.

    Small drawings (most of the dataset, and every drawing's first strokes in
    play) take a plain-Python route, larger ones a vectorised one; both do the
    same floating-point operations in the same order and give the same result
    to the bit (a test holds them to that over the whole shared sample).
    """
    if _point_count(drawing) <= SMALL_DRAWING_POINTS:
        return _simplify_small(drawing)
    return _simplify_vectorised(drawing)


def _point_count(drawing: Drawing) -> int:
    return sum(len(stroke[0]) for stroke in drawing if len(stroke) >= 2)


def _simplify_vectorised(drawing: Drawing) -> list[np.ndarray]:
    pts, ids = _flatten(drawing)
    if len(pts) == 0:
        return []
    # 1-2. Align to the top-left and scale the longest side to 255.
    lo = pts.min(axis=0)
    extent = float((pts.max(axis=0) - lo).max())
    return _resample_and_simplify(pts, ids, lo, extent, None)[0]


def _resample_and_simplify(pts: np.ndarray, ids: np.ndarray, lo: np.ndarray, extent: float,
                           after: float | None) -> tuple[list[np.ndarray], np.ndarray]:
    """Steps 1-4 for some strokes' points (`ids`: stroke of each point, from 0) given the drawing's alignment.

    `after` is where the drawing's arc-length axis stood at the last point of
    the strokes before these (None: these are the first). The axis is one
    running sum over the whole drawing, so resuming it there gives these
    strokes exactly the result a pass over the whole drawing gives them.
    Returns each stroke's points, and the axis at each stroke's last point.
    """
    pts = (pts - lo) * (SPAN / extent if extent > 0 else 1.0)
    # Drop points that repeat the previous point of the same stroke.
    if len(pts) > 1:
        moved = np.any(pts[1:] != pts[:-1], axis=1) | (ids[1:] != ids[:-1])
        keep = np.concatenate(([True], moved))
        pts, ids = pts[keep], ids[keep]
    # 3. Resampling at 1 px: arc length along each stroke, strokes laid end to
    # end on one axis with a gap between them.
    same = ids[1:] == ids[:-1]
    dx, dy = np.diff(pts, axis=0).T
    step = np.where(same, np.sqrt(dx * dx + dy * dy), _STROKE_GAP)
    axis = np.cumsum(np.concatenate(([0.0 if after is None else after + _STROKE_GAP], step)))
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
    return [pts[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], axis[last]


class GrowingDrawing:
    """Simplifies the successive versions of one live drawing, redoing only what changed.

    A drawing in play is classified again after every stroke and every few
    hundred milliseconds of a long one: each version is the last one plus a
    little. While the new points stay inside the drawing's bounding box (the
    alignment and scale of steps 1-2 do not move), the strokes that did not
    change keep their simplified points, and only the rest is computed, with
    the same floating-point operations a pass over the whole drawing does: the
    result is the same to the bit (a test holds it to that).

    Strokes are compared by value with the last version's, and kept by
    reference: a stroke must not be changed in place once given (the live
    path builds new lists for every version).
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._strokes: list = []  # the strokes simplified last time, as given
        self._out: list[np.ndarray | None] = []  # each one's points (None: it had none)
        self._ends: list[float | None] = []  # the axis at each one's last point (None: no point yet)
        self._lows: list[np.ndarray] = []  # the lowest and highest x, y over the strokes up to each one
        self._highs: list[np.ndarray] = []
        self._lo: np.ndarray | None = None
        self._extent = 0.0
        self.reused = 0  # strokes the last call took as they were

    def simplify(self, drawing: Drawing) -> list[np.ndarray]:
        drawing = list(drawing)
        kept = 0
        for old, new in zip(self._strokes, drawing, strict=False):
            if old is not new and old != new:
                break
            kept += 1
        if kept and self._lo is not None:
            pts, ids, counts = _flatten_counted(drawing[kept:])
            lo, hi = self._lows[kept - 1], self._highs[kept - 1]
            if len(pts):
                lo, hi = np.minimum(lo, pts.min(axis=0)), np.maximum(hi, pts.max(axis=0))
            if np.array_equal(lo, self._lo) and float((hi - lo).max()) == self._extent:
                del self._strokes[kept:], self._out[kept:], self._ends[kept:], self._lows[kept:], self._highs[kept:]
                self._add(drawing[kept:], pts, ids, counts, self._ends[-1])
                self.reused = kept
                return [out for out in self._out if out is not None]
        if _point_count(drawing) <= SMALL_DRAWING_POINTS:
            self._reset()  # small drawings are cheap to do whole; nothing is kept
            return _simplify_small(drawing)
        pts, ids, counts = _flatten_counted(drawing)
        self._reset()
        if len(pts) == 0:
            return []
        self._lo = pts.min(axis=0)
        self._extent = float((pts.max(axis=0) - self._lo).max())
        self._add(drawing, pts, ids, counts, None)
        return [out for out in self._out if out is not None]

    def _add(self, strokes: list, pts: np.ndarray, ids: np.ndarray, counts: list[int], after: float | None) -> None:
        """Simplify `strokes` (flattened as pts, ids) after those kept, and remember them."""
        outs, ends = _resample_and_simplify(pts, ids, self._lo, self._extent, after) if len(pts) else ([], [])
        outs, ends = iter(outs), iter(ends.tolist() if len(pts) else [])
        start = 0
        for stroke, count in zip(strokes, counts, strict=True):
            lows = self._lows[-1] if self._lows else np.full(2, np.inf)
            highs = self._highs[-1] if self._highs else np.full(2, -np.inf)
            if count:
                part = pts[start : start + count]
                lows, highs = np.minimum(lows, part.min(axis=0)), np.maximum(highs, part.max(axis=0))
                self._out.append(next(outs))
                self._ends.append(next(ends))
            else:
                self._out.append(None)
                self._ends.append(self._ends[-1] if self._ends else None)
            start += count
            self._strokes.append(stroke)
            self._lows.append(lows)
            self._highs.append(highs)


def _flatten_counted(drawing: Drawing) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """`_flatten`, with each stroke's number of points."""
    pts, ids = _flatten(drawing)
    return pts, ids, np.bincount(ids, minlength=len(drawing)).tolist()


def _simplify_small(drawing: Drawing) -> list[np.ndarray]:
    """:func:`_simplify_vectorised` in plain Python, step for step (numpy's call overhead dominates at this size)."""
    strokes: list[tuple[list[float], list[float]]] = []
    lox = loy = math.inf
    hix = hiy = -math.inf
    for stroke in drawing:
        sx, sy = _xy(stroke)
        if not len(sx):
            continue
        try:
            xs, ys = [float(v) for v in sx], [float(v) for v in sy]
        except (TypeError, ValueError) as exc:
            raise StrokeError("coordinates must be numbers") from exc
        if not all(map(math.isfinite, xs)) or not all(map(math.isfinite, ys)):  # NaN slips through min and max
            raise StrokeError("coordinates must be finite numbers")
        lox, hix, loy, hiy = min(lox, *xs), max(hix, *xs), min(loy, *ys), max(hiy, *ys)
        strokes.append((xs, ys))
    if not strokes:
        return []
    extent = max(hix - lox, hiy - loy)
    scale = SPAN / extent if extent > 0 else 1.0
    sqrt, floor = math.sqrt, math.floor
    # One axis for the whole drawing, accumulated exactly as np.cumsum does, gaps between strokes included.
    axis: list[float] = []
    px: list[float] = []
    py: list[float] = []
    spans: list[tuple[int, int]] = []  # each stroke's slice of axis/px/py
    at = 0.0
    for xs, ys in strokes:
        begin = len(axis)
        if begin:
            at += _STROKE_GAP
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
        spans.append((begin, len(axis)))
    out: list[np.ndarray] = []
    n = len(axis)
    for begin, end in spans:
        start = axis[begin]
        length = axis[end - 1] - start
        cands = {length}
        for i in range(begin, end):
            f = floor(axis[i] - start)
            cands.add(f)
            cands.add(f + RESAMPLE_SPACING)
        where = sorted({c + start for c in cands if c <= length})
        # np.interp over the whole axis: the segment j with axis[j] <= w < axis[j + 1].
        cx: list[float] = []
        cy: list[float] = []
        j = begin
        for w in where:
            while j + 1 < n and axis[j + 1] <= w:
                j += 1
            if j == n - 1 or axis[j] == w:
                cx.append(px[j])
                cy.append(py[j])
            else:
                run = axis[j + 1] - axis[j]
                cx.append((px[j + 1] - px[j]) / run * (w - axis[j]) + px[j])
                cy.append((py[j + 1] - py[j]) / run * (w - axis[j]) + py[j])
        keep = [True] * len(cx)
        if len(cx) > 2:
            keep[1:-1] = [False] * (len(cx) - 2)
            _rdp_mark(None, None, cx, cy, 0, len(cx), RDP_EPSILON, keep)
        kept: list[tuple[float, float]] = []
        for x, y, k in zip(cx, cy, keep, strict=True):
            if k:
                point = (float(round(x)), float(round(y)))
                if not kept or kept[-1] != point:
                    kept.append(point)
        out.append(np.array(kept, dtype=np.float64))
    return out


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
