"""The AI classifies waiting drawings in one batched call (a race room's canvases, many rooms' strokes)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.classifier import BATCH_SIZES, Classifier
from inference.raster import CHANNELS, rasterize
from inference.recognize import recognize, recognize_many
from inference.strokes import GrowingDrawing, simplify
from tests.conftest import read_drawings
from tests.test_inference import SHIPPED

CATEGORIES = ("cat", "airplane", "The Eiffel Tower", "snowflake", "bicycle", "apple")


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    labels = [x for x in (SHIPPED / "labels.txt").read_text().splitlines() if x]
    return Classifier(SHIPPED / "model.tflite", labels)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    drawings = [d["drawing"] for c in CATEGORIES for d in read_drawings(c, 6)]
    return [rasterize(simplify(d), CHANNELS) for d in drawings]  # the richest image: models of any kind read it


@pytest.mark.parametrize("n", [1, 3, 8, BATCH_SIZES[-1] + 5])
def test_a_batch_gives_each_image_the_probabilities_it_gets_alone(classifier, images, n):
    batch = classifier.probabilities_many(images[:n])
    assert batch.shape == (n, len(classifier.labels))
    alone = np.stack([classifier.probabilities(image) for image in images[:n]])
    np.testing.assert_allclose(batch, alone, atol=1e-6)
    assert classifier.probabilities_many([]).shape == (0, len(classifier.labels))


def test_recognize_many_answers_each_drawing_and_survives_an_unreadable_one(classifier):
    drawings = [d["drawing"] for c in CATEGORIES[:3] for d in read_drawings(c, 2)]
    unreadable = [[[1, 2, 3], [4, 5]]]  # x and y of different lengths
    inputs = [(d, simplify) for d in drawings] + [(unreadable, simplify), ([], simplify)]
    growing = GrowingDrawing()
    inputs.append((drawings[0], growing.simplify))
    answers = recognize_many(inputs, classifier)
    assert len(answers) == len(inputs)
    expected = [recognize(d, classifier) for d in drawings]
    assert answers[: len(drawings)] == expected
    assert answers[len(drawings)] is None and answers[len(drawings) + 1] == []
    assert answers[-1] == expected[0]
