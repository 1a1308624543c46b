"""A model file's serving settings: kept in the file, and a second view for the drawings the model is unsure of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.classifier import Classifier, ModelFileError, Turned
from inference.raster import CHANNELS, rasterize
from inference.recognize import live_input, recognize, recognize_many
from inference.serving import (
    ServingSettingsError,
    read_second_network,
    read_serving_settings,
    with_second_network,
    with_serving_settings,
)
from inference.strokes import SimplifiedDrawing, simplify, turned
from tests.conftest import read_drawings, with_moved_biases
from tests.test_inference import SHIPPED

CATEGORIES = ("cat", "airplane", "The Eiffel Tower", "snowflake", "bicycle", "apple", "moon", "hand")


def labels() -> list[str]:
    return [x for x in (SHIPPED / "labels.txt").read_text().splitlines() if x]


def first_network() -> bytes:
    """The shipped file's first network alone: no serving settings, no second network."""
    return with_second_network(with_serving_settings((SHIPPED / "model.tflite").read_bytes(), {}), None)


def served(tmp_path: Path, name: str, settings: dict) -> Classifier:
    """The shipped file's first network in a file carrying `settings` (none: served as one view)."""
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(with_serving_settings(first_network(), settings))
    return Classifier(path, labels())


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    drawings = [d["drawing"] for c in CATEGORIES for d in read_drawings(c, 5)]
    images = [rasterize(simplify(d), CHANNELS) for d in drawings]
    return images + [rasterize(simplify(d[: max(1, len(d) // 3)]), CHANNELS) for d in drawings]  # unfinished ones


def test_the_settings_live_in_the_file_and_leave_the_network_as_it_was(tmp_path, images):
    shipped = first_network()
    marked = with_serving_settings(shipped, {"mirror_below": 0.3})
    assert read_serving_settings(marked) == {"mirror_below": 0.3}
    assert read_serving_settings(with_serving_settings(marked, {"mirror_below": 0.6})) == {"mirror_below": 0.6}
    plain = with_serving_settings(marked, {})
    assert read_serving_settings(plain) == {}
    (tmp_path / "plain.tflite").write_bytes(plain)
    one = Classifier(tmp_path / "plain.tflite", labels())
    assert one.mirror_below is None
    never = served(tmp_path, "never", {"mirror_below": 1e-9})  # every drawing is surer than that: one view
    for image in images[:10]:
        np.testing.assert_array_equal(never.probabilities(image), one.probabilities(image))
    for bad in ({"mirror_below": 0}, {"mirror_below": 1.5}, {"mirror_below": float("nan")}, {"colour": 1}):
        with pytest.raises(ServingSettingsError):
            with_serving_settings(shipped, bad)
    turning = with_serving_settings(shipped, {"mirror_below": 0.5, "turns": [10, -10]})
    assert read_serving_settings(turning) == {"mirror_below": 0.5, "turns": [10.0, -10.0]}
    for turns in ([0], [50], [-45.5], [float("inf")], "10", [], [5, 10, 15, 20, 25], ["10"]):
        with pytest.raises(ServingSettingsError, match="turns must be 1 to 4 angles"):
            with_serving_settings(shipped, {"mirror_below": 0.5, "turns": turns})
    with pytest.raises(ServingSettingsError, match="set mirror_below too"):
        with_serving_settings(shipped, {"turns": [10]})


def test_an_unsure_drawing_gets_the_mean_of_it_and_its_mirror_and_a_sure_one_its_own_answer(tmp_path, images):
    one = served(tmp_path, "one", {})
    threshold = float(np.median([one.probabilities(image).max() for image in images]))
    adaptive = served(tmp_path, "adaptive", {"mirror_below": threshold})
    assert adaptive.mirror_below == threshold
    assert_second_opinion_only_where_unsure(
        adaptive,
        images,
        threshold,
        own_of=one.probabilities,
        asked_of=lambda image: (one.probabilities(image) + one.probabilities(image[:, ::-1])) / 2,
        atol=1e-7,
    )


def assert_second_opinion_only_where_unsure(served, images, threshold, *, own_of, asked_of, atol) -> None:
    """Every image whose own answer is below `threshold` gets `asked_of(image)`, every other its own answer (both
    kinds present); batched, the same answers row by row (the unsure rows are asked again as batches)."""
    asked = 0
    for image in images:
        own = own_of(image)
        asked += own.max() < threshold
        expected = asked_of(image) if own.max() < threshold else own
        np.testing.assert_allclose(served.probabilities(image), expected, rtol=0, atol=atol)
    assert 0 < asked < len(images), "both kinds of drawing were asked"
    np.testing.assert_allclose(
        served.probabilities_many(images), np.stack([served.probabilities(i) for i in images]), atol=1e-6
    )


def test_a_file_with_settings_that_make_no_sense_is_refused_at_load(tmp_path):
    """A file written by something other than with_serving_settings (which refuses such settings)."""
    sane = with_serving_settings((SHIPPED / "model.tflite").read_bytes(), {"mirror_below": 0.5})
    assert sane.count(b'"mirror_below": 0.5') == 1
    (tmp_path / "odd.tflite").write_bytes(sane.replace(b'"mirror_below": 0.5', b'"mirror_below": 7.5'))
    with pytest.raises(ModelFileError, match="mirror_below"):
        Classifier(tmp_path / "odd.tflite", labels())


def another_network() -> bytes:
    """The shipped network with its last layer's biases moved: reads and answers alike, but not the same answers."""
    return with_moved_biases(first_network(), len(labels()))


def test_a_second_network_travels_in_the_file_and_is_replaced_not_piled_up():
    shipped = with_serving_settings(first_network(), {"mirror_below": 0.5})
    second = another_network()
    both = with_second_network(shipped, second)
    assert read_second_network(both) == second and read_serving_settings(both) == {"mirror_below": 0.5}
    again = with_second_network(both, second)
    assert read_second_network(again) == second and len(again) < len(both) + 1024, "the old copy is dropped"
    alone = with_second_network(again, None)
    assert read_second_network(alone) is None and len(alone) < len(shipped) + 1024
    assert read_second_network(shipped) is None
    for bad in (b"not a model at all", b"0000TFL3" + bytes(64), both):  # the last: a network carrying another
        with pytest.raises(ServingSettingsError):
            with_second_network(shipped, bad)


def test_an_unsure_drawing_asks_both_networks_for_both_views_and_a_sure_one_the_first_alone(tmp_path, images):
    first = served(tmp_path, "first", {})
    (tmp_path / "second.tflite").write_bytes(another_network())
    second = Classifier(tmp_path / "second.tflite", labels())
    threshold = float(np.median([first.probabilities(image).max() for image in images]))
    path = tmp_path / "pair.tflite"
    path.write_bytes(
        with_second_network(with_serving_settings(first_network(), {"mirror_below": threshold}), another_network())
    )
    pair = Classifier(path, labels())
    assert pair.has_second_network and not first.has_second_network

    def four_views(image):
        views = [clf.probabilities(view) for clf in (first, second) for view in (image, image[:, ::-1])]
        assert not np.allclose(views[0], views[2], atol=1e-3), "the second network answers otherwise"
        return np.mean(views, axis=0)

    assert_second_opinion_only_where_unsure(
        pair, images, threshold, own_of=first.probabilities, asked_of=four_views, atol=1e-6
    )


@pytest.fixture(scope="module")
def drawn() -> list[tuple[np.ndarray, Turned, SimplifiedDrawing]]:
    """The drawings of `images` as the live path holds them: image, how to draw it turned, the strokes."""
    drawings = [d["drawing"] for c in CATEGORIES for d in read_drawings(c, 5)]
    strokes = [simplify(d) for d in drawings] + [simplify(d[: max(1, len(d) // 3)]) for d in drawings]
    return [(*live_input(s, CHANNELS), s) for s in strokes]


def test_turned_views_are_drawn_from_the_strokes_and_asked_of_the_second_network(tmp_path, drawn):
    first = served(tmp_path, "first", {})
    (tmp_path / "second.tflite").write_bytes(another_network())
    second = Classifier(tmp_path / "second.tflite", labels())
    threshold = float(np.median([first.probabilities(image).max() for image, _, _ in drawn]))
    turns = {"mirror_below": threshold, "turns": [10, -10]}
    path = tmp_path / "turning_pair.tflite"
    path.write_bytes(with_second_network(with_serving_settings(first_network(), turns), another_network()))
    pair, alone = Classifier(path, labels()), served(tmp_path, "turning", turns)
    assert pair.turns == alone.turns == (10.0, -10.0)

    def views(strokes):
        image = rasterize(strokes, CHANNELS)
        turned_images = [rasterize(turned(strokes, angle), CHANNELS) for angle in (10, -10)]
        assert not any(np.array_equal(image, t) for t in turned_images), "a turned drawing is another image"
        return image, image[:, ::-1], *turned_images

    asked = 0
    for image, turn, strokes in drawn:
        own = first.probabilities(image)
        o, m, t1, t2 = views(strokes)
        pair_views = [own, first.probabilities(m), *(second.probabilities(v) for v in (o, m, t1, t2))]
        one_views = [own, *(first.probabilities(v) for v in (m, t1, t2))]
        unsure = own.max() < threshold
        asked += unsure
        for clf, expected in ((pair, np.mean(pair_views, axis=0)), (alone, np.mean(one_views, axis=0))):
            np.testing.assert_allclose(clf.probabilities(image, turn), expected if unsure else own, atol=1e-6)
        if unsure:  # a bare image (no strokes to turn) is asked without its turned views
            np.testing.assert_allclose(pair.probabilities(image), np.mean(pair_views[:4], axis=0), atol=1e-6)
    assert 0 < asked < len(drawn), "both kinds of drawing were asked"
    images, turns_of = [d[0] for d in drawn], [d[1] for d in drawn]
    for clf in (pair, alone):  # batched: the same answers row by row
        np.testing.assert_allclose(
            clf.probabilities_many(images, turns_of),
            np.stack([clf.probabilities(i, t) for i, t in zip(images, turns_of, strict=True)]),
            atol=1e-6,
        )
    # The live path hands the classifier its turned views: recognize and recognize_many answer as above.
    live = [(strokes, lambda s: s) for _, _, strokes in drawn]
    for (image, turn, strokes), many in zip(drawn, recognize_many(live, pair), strict=True):
        assert recognize(strokes, pair, simplifier=lambda s: s) == many == pair.guesses(pair.probabilities(image, turn))


def test_a_file_whose_second_network_cannot_be_read_is_refused_at_load(tmp_path):
    both = with_second_network(first_network(), another_network())
    second = read_second_network(both)
    (tmp_path / "sound.tflite").write_bytes(both)
    assert Classifier(tmp_path / "sound.tflite", labels()).has_second_network
    assert both.count(second) == 1
    at = both.index(second)
    damaged = both[:at] + bytes(4096) + both[at + 4096 :]  # its header and first tables zeroed
    (tmp_path / "damaged.tflite").write_bytes(damaged)
    with pytest.raises(ModelFileError):
        Classifier(tmp_path / "damaged.tflite", labels())


def test_whatever_is_drawn_one_guess_costs_at_most_both_networks_on_every_view(drawn, monkeypatch):
    """One player's share of the AI: a guess is one invoke of the first network when it is sure, and at most its
    mirror and one batch of the second network (the drawing, its mirror, its turned views) when it is not: never
    more, for any drawing (the shipped file)."""
    shipped = Classifier(SHIPPED / "model.tflite", labels())
    assert shipped.has_second_network
    calls: list[tuple[int, int]] = []
    real = Classifier._invoke_on

    def counted(self, network, batch):
        calls.append((network, len(batch)))
        return real(self, network, batch)

    monkeypatch.setattr(Classifier, "_invoke_on", counted)
    blank = np.zeros_like(drawn[0][0])
    odd = [blank, np.full_like(blank, 255), np.eye(28, dtype=np.uint8)[..., None].repeat(3, 2) * 255]
    inputs = [(image, turn) for image, turn, _ in drawn] + [(image, lambda _angle, i=image: i) for image in odd]
    seen = set()
    for image, turn in inputs:
        calls.clear()
        shipped.probabilities(image, turn)
        assert sorted(calls) in ([(0, 1)], [(0, 1), (0, 1), (1, 2 + len(shipped.turns))])
        seen.add(len(calls))
    assert seen == {1, 3}, "sure and unsure guesses both seen"
