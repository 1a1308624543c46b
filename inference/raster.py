"""The one rasterizer: simplified strokes (0-255) to a 28x28 antialiased uint8 image.

Training and live inference both call :func:`rasterize`, so the model sees in
play exactly what it saw in training. The drawing arrives top-left aligned;
it is centred (worth about 15 points of accuracy for 28x28 models) inside a
2-pixel margin and drawn with a line 16 units wide on the 256 scale (near the
width that suits 28x28 models, about 14/256; much thinner or thicker loses
half the accuracy). Antialiasing is 4x4 supersampling: every segment is drawn
into a 112x112 buffer, then a box reduction. No PNG, no files, deterministic
to the bit.

With ``channels=3`` the same pass also records the order of the strokes, which
a plain ink image throws away: channel 0 is the ink image (identical to the
one-channel image), channel 1 the stroke's place from the first stroke
(brightest first), channel 2 its place from the last one (brightest latest).
Each stroke is drawn once with an (ink, order, recency) colour; where strokes
cross, the later one is on top. A model reads the channels it was trained on
(``Classifier.channels``), so models of either kind take the same image.

How the lines are drawn is Pillow's (13.0) ``ImageDraw.line`` with a width and
``ImageDraw.ellipse`` for a one-point stroke, followed by ``Image.reduce``:
every model so far was trained on those pictures. The drawing is done here by
one loop compiled by Numba that follows the same integer and single-precision
steps (a wide segment is a four-cornered polygon filled scan line by scan
line; a dot is Pillow's integer ellipse), so the pictures are Pillow's to the
bit (the tests compare them with Pillow's own on every category), for about a
tenth of the cost: Pillow's per-call overhead (an image, a drawing context, a
Python call per stroke, the reduction) was most of the 0.15-0.35 ms it took.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from inference.strokes import joined

SIZE = 28
MARGIN = 2
LINE_WIDTH_256 = 16.0
SUPERSAMPLE = 4
# Channels of the richest image: ink, order from the first stroke, order from the last.
CHANNELS = 3
# A stroke's order value drops by this much per stroke, down to the floor (the 10th and later strokes).
ORDER_STEP = 20
ORDER_FLOOR = 75

# The supersampled canvas every drawing is drawn on before the box reduction to SIZE.
CANVAS_SIZE = SIZE * SUPERSAMPLE
# Canvas pixels per drawing unit (0-255 scale), and the line width on the canvas.
CANVAS_SCALE = (SIZE - 2 * MARGIN) / 256.0 * SUPERSAMPLE
_WIDTH = max(1, round(LINE_WIDTH_256 * CANVAS_SCALE))
_RADIUS = _WIDTH / 2.0
# How far a wide segment's sides lie from its centre line, in whole pixels on either side: Pillow's
# (width - 1) / 2 rounded away from and towards zero.
_SIDE_FAR = math.floor((_WIDTH - 1) / 2.0 + 0.5)
_SIDE_NEAR = math.ceil((_WIDTH - 1) / 2.0 - 0.5)

_F32_HALF = np.float32(0.5)
# Points beyond this (simplified strokes span 0-255) would overflow the canvas' integer pixels; NaN is refused too.
_COORDINATE_LIMIT = 1e6


@njit(cache=True)
def canvas_shift(lo, hi):  # pragma: no cover - compiled
    """Where a drawing whose points span lo..hi (0-255 units) lands: canvas = point * CANVAS_SCALE + shift.

    The bounding box is centred in the 256 square, then mapped inside the margin. Takes floats or
    arrays (one shift per axis)."""
    return ((256.0 - (hi - lo)) / 2.0 - lo) * CANVAS_SCALE + MARGIN * SUPERSAMPLE


@njit(cache=True)
def order_value(rank):  # pragma: no cover - compiled
    """The intensity of a stroke `rank` strokes away from the first (or the last): 255, 235, ... 75."""
    return max(255 - ORDER_STEP * rank, ORDER_FLOOR)


@njit(cache=True)
def _hline(canvas, x0, y, x1, fill):  # pragma: no cover - compiled
    """Pixels x0..x1 of row y, clipped to the canvas."""
    size = canvas.shape[1]
    if y < 0 or y >= size:
        return
    x0 = max(x0, 0)
    x1 = min(x1, size - 1)
    if x1 < x0:
        return
    for c in range(canvas.shape[0]):
        canvas[c, y, x0 : x1 + 1] = fill[c]  # a slice: compiled to a fill, faster than a loop of stores


@njit(cache=True)
def _round_up_f32(v):  # pragma: no cover - compiled
    """Pillow's ROUND_UP of a float32 (halves away from zero; the + 0.5 in float32)."""
    return math.floor(v + _F32_HALF) if v >= 0.0 else -math.floor(abs(v) + _F32_HALF)


@njit(cache=True)
def _round_down_f32(v):  # pragma: no cover - compiled
    """Pillow's ROUND_DOWN of a float32 (halves towards zero)."""
    return math.ceil(v - _F32_HALF) if v >= 0.0 else -math.ceil(abs(v) - _F32_HALF)


@njit(cache=True)
def _round_down_f64(v):  # pragma: no cover - compiled
    """Pillow's ROUND_DOWN of a double."""
    return math.ceil(v - 0.5) if v >= 0.0 else -math.ceil(abs(v) - 0.5)


@njit(cache=True)
def _crossing(edges, dxs, e, y):  # pragma: no cover - compiled
    """Where edge e crosses row y, in float32 as Pillow computes it."""
    return np.float32(y - edges[e, 5]) * dxs[e] + np.float32(edges[e, 4])


@njit(cache=True)
def _fill_quad(canvas, vx, vy, fill, edges, dxs, table, xs):  # pragma: no cover - compiled
    """Pillow's scan-line polygon fill for the four corners (vx, vy); edges, dxs, table, xs are scratch.

    An edge is (xmin, xmax, ymin, ymax, x0, y0) and its slope dx per row (float32). Pillow also moves a
    crossing where two slanted edges leave a corner's row on the same side by more than a pixel each
    ("discontiguous corners" of concave shapes); a segment's quadrilateral is a parallelogram with near-right
    angles, where that never happens (leaving that step out changed none of 434,160 pictures), so it is not
    here."""
    size = canvas.shape[1]
    ymin, ymax = size - 1, 0
    count = 0
    for i in range(4):
        x0, y0, x1, y1 = vx[i], vy[i], vx[(i + 1) % 4], vy[(i + 1) % 4]
        edges[i, 0], edges[i, 1] = min(x0, x1), max(x0, x1)
        edges[i, 2], edges[i, 3] = min(y0, y1), max(y0, y1)
        edges[i, 4], edges[i, 5] = x0, y0
        dxs[i] = np.float32(0.0) if y0 == y1 else np.float32(x1 - x0) / np.float32(y1 - y0)
        ymin, ymax = min(ymin, edges[i, 2]), max(ymax, edges[i, 3])
        if edges[i, 2] == edges[i, 3]:  # a horizontal edge is drawn as it is
            _hline(canvas, edges[i, 0], edges[i, 2], edges[i, 1], fill)
            continue
        table[count] = i
        count += 1
    ymin, ymax = max(ymin, 0), min(ymax, size)
    for y in range(ymin, ymax + 1):
        n = 0
        for i in range(count):
            e = table[i]
            if y < edges[e, 2] or y > edges[e, 3]:
                continue
            xs[n] = _crossing(edges, dxs, e, y)
            n += 1
            if y == edges[e, 3] and y < ymax:
                xs[n] = xs[n - 1]
                n += 1
        for i in range(1, n):  # insertion sort of at most eight crossings
            v = xs[i]
            j = i - 1
            while j >= 0 and xs[j] > v:
                xs[j + 1] = xs[j]
                j -= 1
            xs[j + 1] = v
        for i in range(1, n, 2):
            _hline(canvas, _round_up_f32(xs[i - 1]), y, _round_down_f32(xs[i]), fill)


@njit(cache=True)
def _wide_segment(canvas, x0, y0, x1, y1, fill, vx, vy, edges, dxs, table, xs):  # pragma: no cover - compiled
    """Pillow's wide line from (x0, y0) to (x1, y1): a quadrilateral _WIDTH pixels across (a point if it has
    no length)."""
    dx, dy = x1 - x0, y1 - y0
    if dx == 0 and dy == 0:
        if 0 <= x0 < canvas.shape[2] and 0 <= y0 < canvas.shape[1]:
            for c in range(canvas.shape[0]):
                canvas[c, y0, x0] = fill[c]
        return
    length = math.hypot(dx, dy)
    far, near = _SIDE_FAR / length, _SIDE_NEAR / length
    dxmin, dxmax = _round_down_f64(near * dy), _round_down_f64(far * dy)
    dymin, dymax = _round_down_f64(near * dx), _round_down_f64(far * dx)
    vx[0], vy[0] = x0 - dxmin, y0 + dymax
    vx[1], vy[1] = x1 - dxmin, y1 + dymax
    vx[2], vy[2] = x1 + dxmax, y1 - dymin
    vx[3], vy[3] = x0 + dxmax, y0 - dymin
    _fill_quad(canvas, vx, vy, fill, edges, dxs, table, xs)


@njit(cache=True)
def _quarter_init(q, a, b):  # pragma: no cover - compiled
    """Pillow's quarter_init: q = (a, b, cx, cy, ex, ey, a2, b2, a2b2, finished)."""
    if a < 0 or b < 0:
        q[9] = 1
        return
    q[0], q[1], q[2], q[3], q[4], q[5] = a, b, a, b % 2, a % 2, b
    q[6], q[7] = a * a, b * b
    q[8] = q[6] * q[7]
    q[9] = 0


@njit(cache=True)
def _quarter_delta(q, x, y):  # pragma: no cover - compiled
    return abs(q[6] * y * y + q[7] * x * x - q[8])


@njit(cache=True)
def _quarter_next(q):  # pragma: no cover - compiled
    """Pillow's quarter_next: (False, 0, 0) once finished, else (True, x, y) of the next point."""
    if q[9]:
        return False, 0, 0
    x, y = q[2], q[3]
    if x == q[4] and y == q[5]:
        q[9] = 1
    else:
        nx, ny = x, y + 2
        best = _quarter_delta(q, nx, ny)
        if nx > 1:
            delta = _quarter_delta(q, x - 2, y + 2)
            if best > delta:
                nx, ny, best = x - 2, y + 2, delta
            delta = _quarter_delta(q, x - 2, y)
            if best > delta:
                nx, ny = x - 2, y
        q[2], q[3] = nx, ny
    return True, x, y


@njit(cache=True)
def _half(v):  # pragma: no cover - compiled
    """C's v / 2 on ints (towards zero)."""
    return v // 2 if v >= 0 else -((-v) // 2)


@njit(cache=True)
def _ellipse_span(canvas, x0, y0, a, b, left, y, right, fill):  # pragma: no cover - compiled
    _hline(canvas, x0 + _half(left + a), y0 + _half(y + b), x0 + _half(right + a), fill)


@njit(cache=True)
def _filled_ellipse(canvas, x0, y0, x1, y1, fill, outer, inner):  # pragma: no cover - compiled
    """Pillow's filled ellipse in the box (x0, y0)-(x1, y1), row spans by its integer quarter walk; outer and
    inner are scratch."""
    a, b = x1 - x0, y1 - y0
    if a < 0 or b < 0:
        return
    width = a + b  # filled: as thick as it gets
    leftmost = a % 2
    _quarter_init(outer, a, b)
    ok, pr, py = _quarter_next(outer)
    if width < 1 or not ok:
        return
    _quarter_init(inner, a - 2 * (width - 1), b - 2 * (width - 1))
    pl = leftmost
    finished = False
    while not finished:
        y, left, right = py, pl, pr
        ok, cx, cy = _quarter_next(outer)
        while ok and cy <= y:
            ok, cx, cy = _quarter_next(outer)
        if ok:
            pr, py = cx, cy
        else:
            finished = True
        ok, cx, cy = _quarter_next(inner)
        while ok and cy <= y:
            left = cx
            ok, cx, cy = _quarter_next(inner)
        pl = cx if ok else leftmost
        start = 2 if left == 0 else left
        if (left > 0 or left < right) and y > 0:
            _ellipse_span(canvas, x0, y0, a, b, start, y, right, fill)
        if y > 0:
            _ellipse_span(canvas, x0, y0, a, b, -right, y, -left, fill)
        if left > 0 or left < right:
            _ellipse_span(canvas, x0, y0, a, b, start, -y, right, fill)
        _ellipse_span(canvas, x0, y0, a, b, -right, -y, -left, fill)


@njit("uint8[:, :, :](float64[:, :], int64[:], int64)", cache=True)
def _rasterize_kernel(points, ends, channels):  # pragma: no cover - compiled
    """The strokes points[ends[s-1]:ends[s]] drawn on the supersampled canvas and box-reduced: (SIZE, SIZE,
    channels). A stroke without points is skipped (it takes no place in the order)."""
    out = np.zeros((SIZE, SIZE, channels), np.uint8)
    strokes = 0
    start = 0
    for s in range(ends.shape[0]):
        strokes += ends[s] > start
        start = ends[s]
    if strokes == 0:
        return out
    lo_x, lo_y, hi_x, hi_y = points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()
    limit = _COORDINATE_LIMIT
    if not (lo_x >= -limit and lo_y >= -limit and hi_x <= limit and hi_y <= limit):  # NaN fails too
        raise ValueError("stroke coordinates must be finite numbers within +-1e6")
    shift_x, shift_y = canvas_shift(lo_x, hi_x), canvas_shift(lo_y, hi_y)
    canvas = np.zeros((channels, CANVAS_SIZE, CANVAS_SIZE), np.uint8)  # a plane per channel: rows are runs
    fill = np.empty(channels, np.uint8)
    vx, vy, table = np.empty(4, np.int64), np.empty(4, np.int64), np.empty(4, np.int64)
    edges, dxs, xs = np.empty((4, 6), np.int64), np.empty(4, np.float32), np.empty(8, np.float32)
    outer, inner = np.empty(10, np.int64), np.empty(10, np.int64)
    rank = 0
    start = 0
    for s in range(ends.shape[0]):
        stop = ends[s]
        if stop == start:
            continue
        fill[0] = 255
        if channels == CHANNELS:
            fill[1], fill[2] = order_value(rank), order_value(strokes - 1 - rank)
        if stop - start == 1:
            x = points[start, 0] * CANVAS_SCALE + shift_x
            y = points[start, 1] * CANVAS_SCALE + shift_y
            box = (int(x - _RADIUS), int(y - _RADIUS), int(x + _RADIUS), int(y + _RADIUS))
            _filled_ellipse(canvas, box[0], box[1], box[2], box[3], fill, outer, inner)
        else:
            x1 = int(points[start, 0] * CANVAS_SCALE + shift_x)
            y1 = int(points[start, 1] * CANVAS_SCALE + shift_y)
            for p in range(start + 1, stop):
                x0, y0 = x1, y1
                x1 = int(points[p, 0] * CANVAS_SCALE + shift_x)
                y1 = int(points[p, 1] * CANVAS_SCALE + shift_y)
                _wide_segment(canvas, x0, y0, x1, y1, fill, vx, vy, edges, dxs, table, xs)
        rank += 1
        start = stop
    # Pillow's reduce: the mean of each 4x4 box, rounded half up.
    sums = np.empty(SIZE, np.int64)
    for c in range(channels):
        for y in range(SIZE):
            sums[:] = SUPERSAMPLE * SUPERSAMPLE // 2
            for yy in range(y * SUPERSAMPLE, (y + 1) * SUPERSAMPLE):
                row = canvas[c, yy]
                for x in range(SIZE):
                    xx = x * SUPERSAMPLE
                    sums[x] += np.int64(row[xx]) + row[xx + 1] + row[xx + 2] + row[xx + 3]
            for x in range(SIZE):
                out[y, x, c] = sums[x] // (SUPERSAMPLE * SUPERSAMPLE)
    return out


def rasterize(strokes: Sequence[np.ndarray], channels: int = 1) -> np.ndarray:
    """Render simplified strokes ((n, 2) arrays, coordinates 0-255), ink = 255.

    ``channels=1``: a (28, 28) uint8 ink image; ``channels=3``: (28, 28, 3), ink, order, recency.
    """
    if channels not in (1, CHANNELS):
        raise ValueError(f"channels must be 1 or {CHANNELS}, not {channels}")
    # simplify's strokes are views of one array: nothing to join (with caches cold, joining them again
    # cost as much as drawing them).
    points, ends = joined(strokes)
    image = _rasterize_kernel(points, ends, channels)
    return image[..., 0] if channels == 1 else image
