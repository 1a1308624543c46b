"""The live path: strokes in any format -> preprocessing -> the one rasterizer -> the live model."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from inference.classifier import Classifier, Guess, Turned
from inference.raster import rasterize
from inference.strokes import StrokeError, simplify, turned

log = logging.getLogger(__name__)


def recognize(drawing, classifier: Classifier, k: int = 3, *, simplifier=simplify) -> list[Guess]:
    """`simplifier`: `simplify`, or a live drawing's `GrowingDrawing.simplify` (the same result, sooner)."""
    strokes = simplifier(drawing)
    if not strokes:
        return []
    return classifier.guesses(classifier.probabilities(*live_input(strokes, classifier.channels)), k)


def live_input(strokes: Sequence[np.ndarray], channels: int) -> tuple[np.ndarray, Turned]:
    """A simplified drawing's image, and how to draw it turned (for a model file that asks: inference.serving),
    both through the one rasterizer."""
    return rasterize(strokes, channels), lambda degrees: rasterize(turned(strokes, degrees), channels)


def recognize_many(
    drawings: Sequence[tuple[object, Callable]], classifier: Classifier, k: int = 3, *, turned_views: bool = True
) -> list[list[Guess] | None]:
    """Top-k for several drawings, each `(strokes, simplifier)`, classified in one batched call.

    A drawing that cannot be read gets None (and a log line); the others are answered all the same.
    An empty drawing gets [] (nothing to guess yet). Without `turned_views`, the drawings are answered
    without the turned views a model file may ask for (inference.serving): for a worker with a backlog.
    """
    results: list[list[Guess] | None] = [[] for _ in drawings]
    images: list[np.ndarray] = []
    turns: list[Turned] = []
    classified: list[int] = []  # which drawing each image is
    for index, (drawing, simplifier) in enumerate(drawings):
        try:
            strokes = simplifier(drawing)
        except StrokeError as exc:
            log.warning("unreadable drawing: %s", exc)
            results[index] = None
            continue
        except Exception:  # one bad drawing must not stop the others
            log.exception("preprocessing failed for a drawing")
            results[index] = None
            continue
        if strokes:
            classified.append(index)
            image, turn = live_input(strokes, classifier.channels)
            images.append(image)
            turns.append(turn)
    answers = classifier.probabilities_many(images, turns if turned_views else None)
    for index, probs in zip(classified, answers, strict=True):
        results[index] = classifier.guesses(probs, k)
    return results
