"""The one rasterizer: simplified strokes (0-255) to a 28x28 antialiased uint8 image.

Training and live inference both call :func:`rasterize`, so the model sees in
play exactly what it saw in training. The drawing arrives top-left aligned;
it is centred (worth about 15 points of accuracy for 28x28 models) inside a
2-pixel margin and drawn with a line 16 units wide on the 256 scale (near the
width that suits 28x28 models, about 14/256; much thinner or thicker loses
half the accuracy). Antialiasing is 4x4 supersampling: each stroke is one
C-level polyline call into a 112x112 in-memory buffer, then a box reduction.
No PNG, no files, deterministic to the bit.

With ``channels=3`` the same pass also records the order of the strokes, which
a plain ink image throws away: channel 0 is the ink image (identical to the
one-channel image), channel 1 the stroke's place from the first stroke
(brightest first), channel 2 its place from the last one (brightest latest).
Each stroke is drawn once with an (ink, order, recency) colour; where strokes
cross, the later one is on top. A model reads the channels it was trained on
(``Classifier.channels``), so models of either kind take the same image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

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


def canvas_shift(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Where a drawing whose points span lo..hi (0-255 units) lands: canvas = point * CANVAS_SCALE + shift.

    The bounding box is centred in the 256 square, then mapped inside the margin."""
    return ((256.0 - (hi - lo)) / 2.0 - lo) * CANVAS_SCALE + MARGIN * SUPERSAMPLE


def order_value(rank: int) -> int:
    """The intensity of a stroke `rank` strokes away from the first (or the last): 255, 235, ... 75."""
    return max(255 - ORDER_STEP * rank, ORDER_FLOOR)


def rasterize(strokes: Sequence[np.ndarray], channels: int = 1) -> np.ndarray:
    """Render simplified strokes ((n, 2) arrays, coordinates 0-255), ink = 255.

    ``channels=1``: a (28, 28) uint8 ink image; ``channels=3``: (28, 28, 3), ink, order, recency.
    """
    if channels not in (1, CHANNELS):
        raise ValueError(f"channels must be 1 or {CHANNELS}, not {channels}")
    strokes = [s for s in strokes if len(s)]
    shape = (SIZE, SIZE) if channels == 1 else (SIZE, SIZE, channels)
    if not strokes:
        return np.zeros(shape, dtype=np.uint8)
    allpts = np.concatenate(strokes)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    shift = canvas_shift(lo, hi)
    img = Image.new("L" if channels == 1 else "RGB", (CANVAS_SIZE, CANVAS_SIZE), 0)
    draw = ImageDraw.Draw(img)
    # One scale-and-shift for the whole drawing, then each stroke is a slice of it.
    flat = (allpts * CANVAS_SCALE + shift).ravel().tolist()
    last = len(strokes) - 1
    at = 0
    for i, stroke in enumerate(strokes):
        end = at + 2 * len(stroke)
        fill = 255 if channels == 1 else (255, order_value(i), order_value(last - i))
        if len(stroke) == 1:
            x, y = flat[at], flat[at + 1]
            draw.ellipse((x - _RADIUS, y - _RADIUS, x + _RADIUS, y + _RADIUS), fill=fill)
        else:
            draw.line(flat[at:end], fill=fill, width=_WIDTH)
        at = end
    return np.asarray(img.reduce(SUPERSAMPLE))
