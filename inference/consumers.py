"""The inference consumer, listening on the channel `inference`.

It receives drawings (room, drawing id, version counter, strokes) and answers
with the AI's top-3. Drawers send a new version after every stroke and every
~300 ms of a long one; when several versions of one drawing are waiting, only
the newest is classified, so a slow moment never builds a backlog.

It runs inside the web process with the in-memory layer (the embedded
default) and as `python manage.py runworker inference` processes with Redis;
the code is the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from inference.live import live_model
from inference.recognize import recognize
from inference.strokes import StrokeError

log = logging.getLogger(__name__)

INFERENCE_CHANNEL = "inference"
# Drawings whose newest classified version we remember (to drop stale ones).
REMEMBERED_DRAWINGS = 10_000


class InferenceConsumer(AsyncConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending: dict[int, dict] = {}
        self.done: OrderedDict[int, int] = OrderedDict()
        self.draining: asyncio.Task | None = None
        handler = import_string(settings.INFERENCE_RESULT_HANDLER)
        self.deliver = handler if asyncio.iscoroutinefunction(handler) else database_sync_to_async(handler)
        self.refresh = database_sync_to_async(live_model.refresh)

    async def classify(self, message: dict) -> None:
        key = int(message["drawing_id"])
        waiting = self.pending.get(key)
        if waiting is None or message["version"] > waiting["version"]:
            self.pending[key] = message
        if self.draining is None or self.draining.done():
            self.draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self.pending:
            key = next(iter(self.pending))
            message = self.pending.pop(key)
            if message["version"] <= self.done.get(key, -1):
                continue
            try:
                await self._classify_one(key, message)
            except Exception:  # one bad drawing must not stop the worker
                log.exception("inference failed for drawing %s", key)
            # Let newer versions that arrived meanwhile replace waiting ones.
            await asyncio.sleep(0)

    async def _classify_one(self, key: int, message: dict) -> None:
        if live_model.refresh_due():
            await self.refresh()
        try:
            guesses = recognize(message["strokes"], live_model.classifier())
        except StrokeError as exc:
            log.warning("unreadable drawing %s: %s", key, exc)
            return
        self.done[key] = message["version"]
        self.done.move_to_end(key)
        while len(self.done) > REMEMBERED_DRAWINGS:
            self.done.popitem(last=False)
        await self.deliver(
            room=message["room"],
            turn_id=key,
            version=message["version"],
            guesses=[(g.label, g.probability) for g in guesses],
            n_labels=len(live_model.classifier().labels),
        )


async def request_inference(channel_layer, *, room: str, drawing_id: int, version: int, strokes: list) -> None:
    await channel_layer.send(
        INFERENCE_CHANNEL,
        {"type": "classify", "room": room, "drawing_id": drawing_id, "version": version, "strokes": strokes},
    )
