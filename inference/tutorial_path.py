"""The "tutorial path" from drawing to guess. It exists ONLY as a benchmark baseline for `manage.py bench_inference`.

Nothing live may use it. It is the route most Quick, Draw! tutorials take, kept
here so that the speed of our own path (`inference.strokes.simplify` ->
`inference.raster.rasterize` -> `Classifier.probabilities`) is measured
against something concrete instead of a guess: draw the raw strokes with PIL
onto a white canvas cropped to the drawing's bounding box plus a margin, with
a line width proportional to the drawing's size, invert to white ink on black,
resize to 28x28 with LANCZOS, round-trip through a PNG in memory (as an
uploaded image would), normalise to float and classify.

It also does not match training (no Quick, Draw! simplification, no centring,
aspect ratio lost), so its guesses can differ from the live ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from inference.classifier import Classifier

SIZE = 28
MARGIN_FRACTION = 0.05
LINE_WIDTH_FRACTION = 0.04


def tutorial_image(drawing: Sequence[Sequence[Sequence[float]]]) -> np.ndarray:
    """The tutorial's (28, 28) float32 image in 0-1, ink = 1.0, from strokes as given (raw or simplified)."""
    xs = [float(x) for stroke in drawing for x in stroke[0]]
    ys = [float(y) for stroke in drawing for y in stroke[1]]
    if not xs:
        return np.zeros((SIZE, SIZE), dtype=np.float32)
    min_x, min_y = min(xs), min(ys)
    side = max(max(xs) - min_x, max(ys) - min_y, 1.0)
    margin = side * MARGIN_FRACTION
    width = int(max(xs) - min_x + 2 * margin) + 1
    height = int(max(ys) - min_y + 2 * margin) + 1
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    line_width = max(1, round(side * LINE_WIDTH_FRACTION))
    for stroke in drawing:
        points = [(x - min_x + margin, y - min_y + margin) for x, y in zip(stroke[0], stroke[1], strict=True)]
        if len(points) == 1:
            points = points * 2
        draw.line(points, fill=0, width=line_width, joint="curve")
    small = ImageOps.invert(canvas).resize((SIZE, SIZE), Image.LANCZOS)
    buffer = BytesIO()
    small.save(buffer, format="PNG")
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("L"), dtype=np.float32) / 255.0


def tutorial_probabilities(drawing: Sequence[Sequence[Sequence[float]]], classifier: Classifier) -> np.ndarray:
    """Class probabilities along the tutorial path.

    `Classifier.probabilities` takes 0-255 intensities and scales them itself,
    so the tutorial's 0-1 floats are scaled back up for it; that multiply costs
    about a microsecond and keeps the model call identical to the live one.
    The tutorial knows no stroke order: a model reading more channels than ink
    gets the tutorial's image in each of them.
    """
    image = tutorial_image(drawing) * 255.0
    if classifier.channels > 1:
        image = np.repeat(image[..., None], classifier.channels, axis=-1)
    return classifier.probabilities(image)
