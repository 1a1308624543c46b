"""The live path: strokes in any format -> preprocessing -> the one rasterizer -> the live model."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from inference.classifier import Classifier, Guess
from inference.raster import rasterize
from inference.strokes import StrokeError, simplify

log = logging.getLogger(__name__)


def recognize(drawing, classifier: Classifier, k: int = 3, *, simplifier=simplify) -> list[Guess]:
    """`simplifier`: `simplify`, or a live drawing's `GrowingDrawing.simplify` (the same result, sooner)."""
    strokes = simplifier(drawing)
    if not strokes:
        return []
    return classifier.top_k(rasterize(strokes, classifier.channels), k)


def recognize_many(
    drawings: Sequence[tuple[object, Callable]], classifier: Classifier, k: int = 3
) -> list[list[Guess] | None]:
    """Top-k for several drawings, each `(strokes, simplifier)`, classified in one batched call.

    A drawing that cannot be read gets None (and a log line); the others are answered all the same.
    An empty drawing gets [] (nothing to guess yet).
    """
    images: list[np.ndarray] = []
    slots: list[int | None | str] = []  # index into images, None for unreadable, "" for empty
    for drawing, simplifier in drawings:
        try:
            strokes = simplifier(drawing)
        except StrokeError as exc:
            log.warning("unreadable drawing: %s", exc)
            slots.append(None)
            continue
        except Exception:  # one bad drawing must not stop the others
            log.exception("preprocessing failed for a drawing")
            slots.append(None)
            continue
        if not strokes:
            slots.append("")
            continue
        slots.append(len(images))
        images.append(rasterize(strokes, classifier.channels))
    probs = classifier.probabilities_many(images)
    return [None if slot is None else [] if slot == "" else classifier.guesses(probs[slot], k) for slot in slots]
