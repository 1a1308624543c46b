"""The inference consumer: newest-version-only classification, delivery to the room, hot swap safety."""

from __future__ import annotations

import asyncio

import pytest

import inference.consumers
from inference.consumers import InferenceConsumer, request_inference
from inference.consumers import _recognize_batch as recognize_batch
from inference.raster import rasterize
from inference.strokes import simplify
from tests.conftest import read_drawings
from tests.wsclient import inference_worker

DELIVERED: list[dict] = []


def record(**kwargs) -> None:
    DELIVERED.append(kwargs)


@pytest.fixture
def recorder(settings):
    settings.INFERENCE_RESULT_HANDLER = "tests.test_inference_consumer.record"
    DELIVERED.clear()
    yield DELIVERED
    DELIVERED.clear()


def drawing(category: str = "cat") -> list:
    return read_drawings(category, 1)[0]["drawing"]


@pytest.mark.django_db(transaction=True)
async def test_only_the_newest_waiting_version_of_a_drawing_is_classified(recorder):
    consumer = InferenceConsumer()
    strokes = drawing()
    for version in range(1, 6):
        await consumer.classify(
            {
                "type": "classify",
                "key": str(7),
                "context": {"room": "R"},
                "version": version,
                "strokes": strokes[:version],
            }
        )
    await consumer.classify(
        {"type": "classify", "key": str(8), "context": {"room": "R"}, "version": 1, "strokes": strokes}
    )
    await consumer.draining
    assert [(d["key"], d["version"]) for d in recorder] == [("7", 5), ("8", 1)]
    assert len(recorder[0]["guesses"]) == 3
    # A late, older version is dropped too.
    await consumer.classify(
        {"type": "classify", "key": str(7), "context": {"room": "R"}, "version": 3, "strokes": strokes}
    )
    await consumer.draining
    assert len(recorder) == 2


@pytest.mark.django_db(transaction=True)
async def test_finished_strokes_are_classified_before_drawings_in_mid_stroke(recorder):
    consumer = InferenceConsumer()
    strokes = drawing()
    for key in range(1, 11):  # ten drawings in mid-stroke waiting first
        await consumer.classify(
            {
                "type": "classify",
                "key": str(key),
                "context": {"room": "R"},
                "version": 1,
                "strokes": strokes,
                "partial": True,
            }
        )
    await consumer.classify(
        {
            "type": "classify",
            "key": str(11),
            "context": {"room": "R"},
            "version": 1,
            "strokes": strokes,
            "partial": False,
        }
    )
    await consumer.draining
    order = [int(d["key"]) for d in recorder]
    assert order[0] == 11, "the finished stroke went first"
    assert order[1:] == list(range(1, 11)), "then the others, longest-waiting first"


@pytest.mark.django_db(transaction=True)
async def test_worker_on_the_inference_channel_answers_and_survives_bad_drawings(recorder):
    async with inference_worker():
        await request_inference(key="1", context={"room": "R"}, version=1, strokes=[[[1, 2], [3]]])  # unreadable
        await request_inference(key="2", context={"room": "R"}, version=1, strokes=drawing("airplane"))
        for _ in range(200):
            if recorder:
                break
            await asyncio.sleep(0.02)
    assert [d["key"] for d in recorder] == ["2"]
    labels = [g[0] for g in recorder[0]["guesses"]]
    assert len(labels) == 3 and len(set(labels)) == 3


def record_or_fail(**kwargs) -> None:
    if kwargs["context"]["room"] == "BROKEN":
        raise RuntimeError("this room's delivery fails")
    DELIVERED.append(kwargs)


@pytest.mark.django_db(transaction=True)
async def test_drawings_waiting_together_are_classified_as_one_batch_and_one_failed_delivery_spares_the_rest(
    settings, monkeypatch
):
    settings.INFERENCE_RESULT_HANDLER = "tests.test_inference_consumer.record_or_fail"
    DELIVERED.clear()
    batches = []

    def counting(drawings, classifier, *, turned_views):
        batches.append(len(drawings))
        return recognize_batch(drawings, classifier, turned_views=turned_views)

    monkeypatch.setattr(inference.consumers, "_recognize_batch", counting)
    consumer = InferenceConsumer()
    rooms = ["BROKEN", "A", "B", "C"]
    for key, room in enumerate(rooms, start=1):
        await consumer.classify(
            {
                "type": "classify",
                "key": str(key),
                "context": {"room": room},
                "version": 1,
                "strokes": drawing("airplane"),
            }
        )
    await consumer.draining
    assert batches == [4], "one trip to the classification thread for the four waiting drawings"
    assert sorted(d["context"]["room"] for d in DELIVERED) == ["A", "B", "C"]
    assert set(consumer.done) == {"1", "2", "3", "4"}, "every drawing was classified, the failed delivery's too"
    # The worker lives on after the failure.
    await consumer.classify(
        {"type": "classify", "key": str(9), "context": {"room": "D"}, "version": 1, "strokes": drawing()}
    )
    await consumer.draining
    assert DELIVERED[-1]["context"]["room"] == "D"
    DELIVERED.clear()


@pytest.mark.django_db(transaction=True)
async def test_a_worker_with_a_backlog_answers_without_the_turned_views(recorder, monkeypatch):
    """Turned views only where the live budget allows: a chunk with drawings waiting behind it goes without."""
    asked = []

    def recording(drawings, classifier, *, turned_views):
        asked.append((len(drawings), turned_views))
        return recognize_batch(drawings, classifier, turned_views=turned_views)

    monkeypatch.setattr(inference.consumers, "_recognize_batch", recording)
    consumer = InferenceConsumer()
    for key in range(1, inference.consumers.CHUNK + 3):
        await consumer.classify(
            {"type": "classify", "key": str(key), "context": {"room": "R"}, "version": 1, "strokes": drawing("cat")}
        )
    await consumer.draining
    assert asked == [(inference.consumers.CHUNK, False), (2, True)]
    assert len(recorder) == inference.consumers.CHUNK + 2


def test_without_turned_views_unsure_drawings_are_answered_by_the_mirror_and_the_second_network_alone():
    from django.conf import settings

    from inference.classifier import Classifier
    from inference.model_store import read_labels
    from inference.recognize import recognize_many

    shipped = settings.SHIPPED_MODEL_DIR
    classifier = Classifier(shipped / "model.tflite", read_labels(shipped / "labels.txt"))
    assert classifier.turns, "the shipped file asks for turned views"
    strokes = [d["drawing"] for c in ("cat", "moon", "hand", "bicycle") for d in read_drawings(c, 4)]
    halves = [s[: max(1, len(s) // 3)] for s in strokes]  # unfinished: many unsure
    drawings = [(s, simplify) for s in strokes + halves]
    full, quick = recognize_many(drawings, classifier), recognize_many(drawings, classifier, turned_views=False)
    bare = [
        classifier.guesses(classifier.probabilities(rasterize(simplify(s), classifier.channels))) for s, _ in drawings
    ]
    assert quick == bare and full != quick, "with a backlog: the bare images' answers; without: other ones"
