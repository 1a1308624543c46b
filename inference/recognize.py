"""The live path: strokes in any format -> preprocessing -> the one rasterizer -> the live model."""

from __future__ import annotations

from inference.classifier import Classifier, Guess
from inference.raster import rasterize
from inference.strokes import simplify


def recognize(drawing, classifier: Classifier, k: int = 3, *, simplifier=simplify) -> list[Guess]:
    """`simplifier`: `simplify`, or a live drawing's `GrowingDrawing.simplify` (the same result, sooner)."""
    strokes = simplifier(drawing)
    if not strokes:
        return []
    return classifier.top_k(rasterize(strokes, classifier.channels), k)
