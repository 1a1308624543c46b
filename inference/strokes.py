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

Speed matters because this runs on every live stroke (and on every drawing
training renders):

* Along one straight segment the distance to any chord is a convex function
  of arc length, so RDP over the 1-pixel resampled points only ever picks the
  first or last resampled point of some segment. We materialise just those
  "candidate" points (at most two per input point) instead of every pixel.
* Steps 1-4 for all the strokes of a drawing are one call of a loop compiled
  by Numba (:func:`_simplify_kernel`). Drawings are small (a few dozen points
  once simplified, a few hundred raw): in plain Python the loops took
  0.2-0.45 ms for a simplified drawing and 0.6-1.1 ms for a raw one, and
  NumPy's per-call overhead makes a vectorised version slower still at these
  sizes; compiled, 0.05-0.12 ms either way, most of it reading the lists
  into one array. The kernel does
  the same floating-point operations in the same order as the plain-Python
  loop it replaced (no fast-math, so no fused multiply-adds), and gives the
  same points to the bit.

After steps 1-2, each stroke is simplified on its own, so a drawing that
grows (:class:`GrowingDrawing`) keeps the result of every stroke that did not
change while its alignment and scale stay put.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate

import numpy as np
from numba import njit

Stroke = Sequence[Sequence[float]]
Drawing = Sequence[Stroke]

SPAN = 255.0
RESAMPLE_SPACING = 1.0
RDP_EPSILON = 2.0


class StrokeError(ValueError):
    """A drawing that cannot be read as strokes."""


TOO_FAR = "the drawing spans too far to be scaled"
NOT_FINITE = "coordinates must be finite numbers"


def _gather(strokes: Sequence[Stroke]) -> tuple[list, list[int]]:
    """Every x of the strokes (one stroke after the other), then every y, in one list; and each stroke's count.

    A third list in a stroke (timestamps) is not needed."""
    xs: list = []
    ys: list = []
    counts: list[int] = []
    try:
        for stroke in strokes:
            if len(stroke) < 2:
                raise StrokeError("a stroke needs x and y lists")
            sx, sy = stroke[0], stroke[1]
            if len(sx) != len(sy):
                raise StrokeError("a stroke's x and y lists differ in length")
            xs.extend(sx)  # not +=: with a NumPy array on the right that would be NumPy's addition
            ys.extend(sy)
            counts.append(len(sx))
    except StrokeError:
        raise
    except (TypeError, ValueError) as exc:
        raise StrokeError("coordinates must be numbers") from exc
    xs.extend(ys)
    return xs, counts


def _floats(values: list) -> np.ndarray:
    """One conversion for the whole drawing: a NumPy call costs about as much as converting a few dozen numbers."""
    try:
        return np.fromiter(values, np.float64, len(values))
    except (TypeError, ValueError, OverflowError) as exc:
        raise StrokeError("coordinates must be numbers") from exc


def _read(strokes: Sequence[Stroke]) -> tuple[np.ndarray, list[int]]:
    """The strokes' x and y, one stroke after the other, as a (2, n) array of finite floats, and each one's count."""
    values, counts = _gather(strokes)
    xy = _floats(values).reshape(2, -1)
    if not np.isfinite(xy).all():  # NaN slips through min and max
        raise StrokeError(NOT_FINITE)
    return xy, counts


def _read_packed(strokes: Sequence[Stroke]) -> tuple[np.ndarray, int]:
    """For `_simplify_drawing_kernel`: the strokes as one float64 array, every x, then every y, then where each
    stroke's points end (`stroke_ends`, as floats), and the number of points n. Not checked for finiteness
    (the kernel does it): with caches cold (the live path runs after other work), each NumPy call costs
    several times its warm price, so the ends travel in the one conversion too."""
    values, counts = _gather(strokes)
    n = len(values) // 2
    values.extend(accumulate(counts))
    return _floats(values), n


def stroke_ends(counts: Sequence[int]) -> np.ndarray:
    """Where each stroke's points end when the strokes' points are joined in one array (counts: points per stroke)."""
    return np.fromiter(accumulate(counts), np.int64, len(counts))


Box = list[float]  # min x, min y, max x, max y


@njit("float64(float64, float64, float64, float64)", cache=True)
def _scale(lox, loy, hix, hiy):  # pragma: no cover - compiled
    """Step 2's scale for a drawing spanning (lox, loy)-(hix, hiy); NaN when it spans too far to be scaled."""
    extent = max(hix - lox, hiy - loy)
    if not math.isfinite(extent):
        return math.nan
    return SPAN / extent if extent > 0 else 1.0


def _alignment(boxes: list[Box]) -> tuple[float, float, float]:
    """Steps 1-2 for strokes with these boxes: the drawing's left, top and scale."""
    lox, loy = min(b[0] for b in boxes), min(b[1] for b in boxes)
    scale = _scale(lox, loy, max(b[2] for b in boxes), max(b[3] for b in boxes))
    if math.isnan(scale):
        raise StrokeError(TOO_FAR)
    return lox, loy, scale


@njit("float64[:, :](float64[:], float64[:], int64[:])", cache=True)
def _boxes_kernel(x, y, ends):  # pragma: no cover - compiled
    """Each stroke's (min x, min y, max x, max y); NaN for a stroke without points."""
    boxes = np.full((ends.shape[0], 4), np.nan)
    start = 0
    for s in range(ends.shape[0]):
        if ends[s] > start:
            boxes[s, 0], boxes[s, 1] = x[start : ends[s]].min(), y[start : ends[s]].min()
            boxes[s, 2], boxes[s, 3] = x[start : ends[s]].max(), y[start : ends[s]].max()
        start = ends[s]
    return boxes


@njit(
    "Tuple((float64[:, :], int64[:]))(float64[:], float64[:], int64[:], float64, float64, float64, float64, float64)",
    cache=True,
)
def _simplify_kernel(x, y, ends, lox, loy, scale, spacing, epsilon):  # pragma: no cover - compiled
    """Steps 1-4 for the strokes x[ends[s-1]:ends[s]], y[...] of a drawing aligned by (lox, loy, scale).

    Returns the kept points of every stroke, one after the other, and where each stroke's kept points end."""
    out = np.empty((2 * x.shape[0] + 2 * ends.shape[0], 2))  # at most every candidate of every stroke
    kept_ends = np.zeros(ends.shape[0], np.int64)
    total = 0
    start = 0
    for s in range(ends.shape[0]):
        stop = ends[s]
        kept_ends[s] = total
        if stop == start:
            continue  # a stroke without points keeps none
        # 1-2, dropping points that repeat the previous one; the arc length of each point kept.
        px = np.empty(stop - start)
        py = np.empty(stop - start)
        axis = np.empty(stop - start)
        n = 0
        at = 0.0
        for i in range(start, stop):
            xi = (x[i] - lox) * scale
            yi = (y[i] - loy) * scale
            if n:
                if xi == px[n - 1] and yi == py[n - 1]:
                    continue
                dx = xi - px[n - 1]
                dy = yi - py[n - 1]
                at += math.sqrt(dx * dx + dy * dy)
            axis[n] = at
            px[n] = xi
            py[n] = yi
            n += 1
        start = stop
        # 3. Candidates (see module doc): the resampled positions next to every point, and the stroke's end.
        cands = np.empty(2 * n + 1)
        for i in range(n):
            f = math.floor(axis[i])
            cands[2 * i] = f
            cands[2 * i + 1] = f + spacing
        cands[2 * n] = at
        cands.sort()
        cx = np.empty(2 * n + 1)
        cy = np.empty(2 * n + 1)
        m = 0
        j = 0
        for c in range(2 * n + 1):
            w = cands[c]
            if w > at:
                break
            if m and w == cands[c - 1]:
                continue
            while j + 1 < n and axis[j + 1] <= w:  # the segment j with axis[j] <= w < axis[j + 1]
                j += 1
            if j == n - 1 or axis[j] == w:
                cx[m] = px[j]
                cy[m] = py[j]
            else:
                run = axis[j + 1] - axis[j]
                cx[m] = (px[j + 1] - px[j]) / run * (w - axis[j]) + px[j]
                cy[m] = (py[j + 1] - py[j]) / run * (w - axis[j]) + py[j]
            m += 1
        # 4. RDP (which spans are split first does not change which points are kept), then round and drop repeats.
        keep = np.zeros(m, np.bool_)
        keep[0] = keep[m - 1] = True
        spans = np.empty(2 * m, np.int64)  # a stack of (first, last) pairs
        spans[0], spans[1] = 0, m - 1
        top = 2
        while top:
            top -= 2
            first, last = spans[top], spans[top + 1]
            if last - first < 2:
                continue
            ax, ay = cx[first], cy[first]
            dx, dy = cx[last] - ax, cy[last] - ay
            norm = math.sqrt(dx * dx + dy * dy)
            best, best_i = -1.0, -1
            for i in range(first + 1, last):  # the first of equally distant points wins
                if norm == 0.0:
                    ix, iy = cx[i] - ax, cy[i] - ay
                    d = math.sqrt(ix * ix + iy * iy)
                else:
                    d = abs(dy * (cx[i] - ax) - dx * (cy[i] - ay))
                if d > best:
                    best, best_i = d, i
            if norm != 0.0:
                best /= norm
            if best > epsilon:
                keep[best_i] = True
                spans[top], spans[top + 1], spans[top + 2], spans[top + 3] = first, best_i, best_i, last
                top += 4
        kept = 0
        for i in range(m):
            if keep[i]:
                rx, ry = np.rint(cx[i]) + 0.0, np.rint(cy[i]) + 0.0  # half to even, as round(); + 0.0: no -0.0
                if kept and out[total - 1, 0] == rx and out[total - 1, 1] == ry:
                    continue
                out[total, 0], out[total, 1] = rx, ry
                total += 1
                kept += 1
        kept_ends[s] = total
    return out[:total], kept_ends


# What the whole-drawing kernel says of a drawing it read.
SIMPLIFIED, SPANS_TOO_FAR, NOT_FINITE_NUMBERS = 0, 1, 2


@njit("Tuple((float64[:, :], int64[:], int64))(float64[:], int64, float64, float64)", cache=True)
def _simplify_drawing_kernel(packed, n, spacing, epsilon):  # pragma: no cover - compiled
    """`_simplify_kernel` for a whole drawing as `_read_packed` packs it, aligned by all its points (`_alignment`'s
    steps 1-2 on the same numbers: the least of the strokes' minima is the least point). Returns the kept
    points, where each stroke's kept points end, and SIMPLIFIED, or SPANS_TOO_FAR or NOT_FINITE_NUMBERS with
    nothing simplified. One call that also checks the numbers and reads the ends, instead of a NumPy call for
    each: the live path runs after other work has left the caches cold, where every extra call costs several
    times its warm price."""
    x, y = packed[:n], packed[n : 2 * n]
    ends = packed[2 * n :].astype(np.int64)
    if n == 0:
        return np.empty((0, 2)), ends, SIMPLIFIED  # strokes without points, or none: nothing to draw
    lox, loy, hix, hiy = math.inf, math.inf, -math.inf, -math.inf
    for i in range(n):
        xi, yi = x[i], y[i]
        if not (math.isfinite(xi) and math.isfinite(yi)):
            return np.empty((0, 2)), np.zeros(ends.shape[0], np.int64), NOT_FINITE_NUMBERS
        lox, hix, loy, hiy = min(lox, xi), max(hix, xi), min(loy, yi), max(hiy, yi)
    scale = _scale(lox, loy, hix, hiy)
    if math.isnan(scale):
        return np.empty((0, 2)), np.zeros(ends.shape[0], np.int64), SPANS_TOO_FAR
    points, kept_ends = _simplify_kernel(x, y, ends, lox, loy, scale, spacing, epsilon)
    return points, kept_ends, SIMPLIFIED


def _stroke_views(points: np.ndarray, ends: np.ndarray, *, empty: bool) -> list[np.ndarray]:
    """The kernel's points as one (n, 2) view for each stroke (`ends`: where each one's points end); a stroke
    that kept no points gets a (0, 2) one only with `empty`."""
    views = []
    start = 0
    for stop in ends.tolist():
        if stop > start or empty:
            views.append(points[start:stop])
        start = stop
    return views


def _simplify_read(xy: np.ndarray, ends: np.ndarray, alignment: tuple[float, float, float]) -> list[np.ndarray]:
    """Steps 1-4 for read strokes (see `_read` and `stroke_ends`) of a drawing aligned by `alignment`: an (n, 2) array
    for each, (0, 2) for a stroke without points."""
    points, kept_ends = _simplify_kernel(xy[0], xy[1], ends, *alignment, RESAMPLE_SPACING, RDP_EPSILON)
    return _stroke_views(points, kept_ends, empty=True)


class SimplifiedDrawing(Sequence):
    """What `simplify` returns: the strokes, one (n, 2) array each, as a read-only sequence over the one array
    they are views of (`points`) and where each stroke ends in it (`ends`; a stroke that kept no points repeats
    the end before it), so that the rasterizer reads the drawing as it is instead of joining the strokes again.
    The strokes' views are made on first use: the live path hands the drawing to the rasterizer and never
    asks for them (with caches cold, making them cost a tenth of the preprocessing)."""

    __slots__ = ("_ends", "_points", "_strokes")

    def __init__(self, points: np.ndarray, ends: np.ndarray) -> None:
        self._points, self._ends = points, ends
        self._strokes: list[np.ndarray] | None = None

    @property
    def points(self) -> np.ndarray:
        return self._points

    @property
    def ends(self) -> np.ndarray:
        return self._ends

    def _views(self) -> list[np.ndarray]:
        if self._strokes is None:
            self._strokes = _stroke_views(self._points, self._ends, empty=False)
        return self._strokes

    def __len__(self) -> int:
        return len(self._views())

    def __bool__(self) -> bool:  # every stroke with points keeps at least one
        return bool(self._points.shape[0])

    def __getitem__(self, index):
        return self._views()[index]

    def __iter__(self):
        return iter(self._views())

    def __repr__(self) -> str:
        return f"SimplifiedDrawing({self._views()!r})"


def simplify(drawing: Drawing) -> SimplifiedDrawing:
    """Quick, Draw!'s simplified preprocessing: one integer-valued (n, 2) float array per non-empty stroke, 0-255."""
    packed, n = _read_packed(drawing)
    return _simplified(*_simplify_drawing_kernel(packed, n, RESAMPLE_SPACING, RDP_EPSILON))


def joined(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Simplified strokes ((n, 2) arrays) as one (n, 2) float array of their points and where each stroke ends
    in it: a `SimplifiedDrawing`'s own (nothing to join), any other sequence's joined."""
    if isinstance(strokes, SimplifiedDrawing):
        return strokes.points, strokes.ends
    if not strokes:
        return np.zeros((0, 2)), np.zeros(0, np.int64)
    points = np.ascontiguousarray(np.concatenate(strokes), dtype=np.float64).reshape(-1, 2)
    return points, stroke_ends([len(stroke) for stroke in strokes])


def _simplified(points: np.ndarray, ends: np.ndarray, outcome: int) -> SimplifiedDrawing:
    """The whole-drawing kernel's result, or the StrokeError its outcome names."""
    if outcome == NOT_FINITE_NUMBERS:
        raise StrokeError(NOT_FINITE)
    if outcome == SPANS_TOO_FAR:
        raise StrokeError(TOO_FAR)
    return SimplifiedDrawing(points, ends)


def turned(strokes: Sequence[np.ndarray], degrees: float) -> SimplifiedDrawing:
    """Simplified strokes ((n, 2) arrays) turned by `degrees` and simplified again: aligned, scaled, resampled
    and simplified like any drawing, so the turned drawing is drawn as a player's would be. A model file may ask
    for turned views of the drawings it is unsure of (inference.serving). Turned about the origin: where it
    turns does not matter, as aligning moves the drawing back to the corner."""
    points, ends = joined(strokes)
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    x, y = points[:, 0], points[:, 1]
    # Packed as `_read_packed` packs a drawing, so the whole-drawing kernel simplifies it in one call.
    packed = np.concatenate([x * cos - y * sin, x * sin + y * cos, ends.astype(np.float64)])
    return _simplified(*_simplify_drawing_kernel(packed, len(points), RESAMPLE_SPACING, RDP_EPSILON))


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
        self._read: list[np.ndarray] = []  # each one's coordinates, (2, n)
        self._boxes: list[Box | None] = []  # each one's box (None: no points)
        self._out: list[np.ndarray] = []  # each one's result ((0, 2): no points)
        self._alignment: tuple[float, float, float] | None = None
        self.reused = 0  # strokes the last call took as they were

    def simplify(self, drawing: Drawing) -> list[np.ndarray]:
        drawing = list(drawing)
        kept = 0
        for old, new in zip(self._strokes, drawing, strict=False):
            if old is not new and old != new:
                break
            kept += 1
        xy, counts = _read(drawing[kept:])  # may raise: nothing has changed yet
        ends = stroke_ends(counts)
        fresh = _boxes_kernel(xy[0], xy[1], ends).tolist()
        boxes = self._boxes[:kept] + [box if n else None for box, n in zip(fresh, counts, strict=True)]
        present = [box for box in boxes if box is not None]
        alignment = _alignment(present) if present else None  # may raise too
        read = self._read[:kept] + [xy[:, end - n : end] for end, n in zip(ends.tolist(), counts, strict=True)]
        if alignment != self._alignment and kept:  # every stroke again
            kept = 0
            xy, ends = np.concatenate(read, axis=1), stroke_ends([r.shape[1] for r in read])
        out = self._out[:kept]
        if alignment is not None:
            out += _simplify_read(xy, ends, alignment)
        else:
            out += [np.zeros((0, 2)) for _ in ends]
        self._strokes, self._read, self._boxes, self._out = drawing, read, boxes, out
        self._alignment = alignment
        self.reused = kept
        return [points for points in out if len(points)]


def is_simplified(drawing: Drawing) -> bool:
    """True when a drawing looks like the simplified format: two lists per stroke, integers in 0-255,
    touching the top-left and spanning most of the square (Google's own files stop a few units short)."""
    if any(len(stroke) != 2 for stroke in drawing):
        return False
    pts, _ = _read(drawing)
    if not pts.shape[1]:
        return True
    if not np.array_equal(pts, np.round(pts)):
        return False
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    return bool(lo.min() >= 0 and hi.max() <= SPAN and lo.max() <= 8 and hi.max() >= SPAN - 8)


def first_half(drawing: Drawing) -> list:
    """The first half of a drawing's strokes (at least one): what a player had drawn half-way."""
    return list(drawing[: max(1, (len(drawing) + 1) // 2)])
