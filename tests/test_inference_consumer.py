"""The inference consumer: newest-version-only classification, delivery to the room, hot swap safety."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from inference.consumers import InferenceConsumer, request_inference
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
        await consumer.classify({"type": "classify", "room": "R", "drawing_id": 7, "version": version,
                                 "strokes": strokes[:version]})
    await consumer.classify({"type": "classify", "room": "R", "drawing_id": 8, "version": 1, "strokes": strokes})
    await consumer.draining
    assert [(d["turn_id"], d["version"]) for d in recorder] == [(7, 5), (8, 1)]
    assert len(recorder[0]["guesses"]) == 3
    # A late, older version is dropped too.
    await consumer.classify({"type": "classify", "room": "R", "drawing_id": 7, "version": 3, "strokes": strokes})
    await consumer.draining
    assert len(recorder) == 2


@pytest.mark.django_db(transaction=True)
async def test_worker_on_the_inference_channel_answers_and_survives_bad_drawings(recorder):
    layer = get_channel_layer()
    async with inference_worker():
        await request_inference(layer, room="R", drawing_id=1, version=1, strokes=[[[1, 2], [3]]])  # unreadable
        await request_inference(layer, room="R", drawing_id=2, version=1, strokes=drawing("airplane"))
        for _ in range(200):
            if recorder:
                break
            await asyncio.sleep(0.02)
    assert [d["turn_id"] for d in recorder] == [2]
    labels = [g[0] for g in recorder[0]["guesses"]]
    assert len(labels) == 3 and len(set(labels)) == 3
