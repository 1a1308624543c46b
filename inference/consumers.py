"""The inference consumer, listening on the channel `inference`.

It receives drawings (a key naming the drawing, a version counter, the strokes,
and a context it hands back untouched) and answers with the AI's top-3. Drawers send a new version after every stroke and every
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
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils.module_loading import import_string

from config.consumers import DirectDispatchMixin
from inference.live import SWAP_CHECK_SECONDS, live_model
from inference.recognize import recognize_many
from inference.strokes import GrowingDrawing

log = logging.getLogger(__name__)

INFERENCE_CHANNEL = "inference"
# Drawings whose newest classified version we remember (to drop stale ones).
REMEMBERED_DRAWINGS = 10_000
# Drawings whose simplified strokes we keep for their next version (a few kB each): those drawn lately.
REMEMBERED_GROWING = 1_000
# Drawings classified between two passes of the event loop (about 0.4 ms each).
# Classification runs on the event loop itself: in a thread of its own it had
# to win the interpreter lock back from the busy loop after every release
# (up to 5 ms each time), which made 3 ms of work take 100 ms and more.
CHUNK = 8


class InferenceConsumer(DirectDispatchMixin, AsyncConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending: dict[str, dict] = {}
        self.done: OrderedDict[str, int] = OrderedDict()
        # Each live drawing's simplified strokes, reused by its next version (it grows stroke by stroke).
        self.growing: OrderedDict[str, GrowingDrawing] = OrderedDict()
        self.draining: asyncio.Task | None = None
        self.watcher: asyncio.Task | None = None
        handler = import_string(settings.INFERENCE_RESULT_HANDLER)
        self.deliver = handler if asyncio.iscoroutinefunction(handler) else database_sync_to_async(handler)
        self.refresh = database_sync_to_async(live_model.refresh)

    async def _watch_model(self) -> None:
        """Follow model activations off the classification path: a slow database never delays a guess."""
        while True:
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - keep serving the model we have
                log.warning("could not check the active model", exc_info=True)
            await asyncio.sleep(SWAP_CHECK_SECONDS)

    async def classify(self, message: dict) -> None:
        if self.watcher is None:
            self.watcher = asyncio.ensure_future(self._watch_model())
        key = str(message["key"])
        waiting = self.pending.get(key)
        if waiting is None or message["version"] > waiting["version"]:
            self.pending[key] = message
        if self.draining is None or self.draining.done():
            self.draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        """Classify everything waiting, a chunk per pass of the event loop (its answers sent before the next).

        Versions that arrive meanwhile replace older waiting ones, so a busy
        moment never builds a backlog.
        """
        while self.pending:
            waiting = [(key, self.pending.pop(key)) for key in self._next_chunk()]
            batch = [(key, m) for key, m in waiting if m["version"] > self.done.get(key, -1)]
            if not batch:
                continue
            # The turned views (about a third of an unsure guess's work) only where the live budget allows:
            # with more drawings waiting behind this chunk, their answers come sooner without them.
            spare = not self.pending
            try:
                if not live_model.loaded:
                    await self.refresh()
                classifier = live_model.classifier()
                results = _recognize_batch(
                    [(m["strokes"], self._growing(key)) for key, m in batch], classifier, turned_views=spare
                )
            except Exception:  # no model to serve with right now: these versions are dropped, the worker lives
                log.exception("inference failed for %d drawings", len(batch))
                continue
            deliveries = []
            for (key, message), guesses in zip(batch, results, strict=True):
                if guesses is None:
                    continue
                self.done[key] = message["version"]
                self.done.move_to_end(key)
                deliveries.append(
                    self.deliver(
                        key=key,
                        context=message.get("context") or {},
                        version=message["version"],
                        guesses=[(g.label, g.probability) for g in guesses],
                        n_labels=len(classifier.labels),
                    )
                )
            while len(self.done) > REMEMBERED_DRAWINGS:
                self.done.popitem(last=False)
            while len(self.growing) > REMEMBERED_GROWING:
                self.growing.popitem(last=False)
            # Rooms are independent: their sends go out together, and one failure stops none of the others.
            for outcome in await asyncio.gather(*deliveries, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    log.error("delivering an AI guess failed", exc_info=outcome)
            await asyncio.sleep(0)  # sockets, and newer versions, get in before the next chunk

    def _next_chunk(self) -> list[str]:
        """Finished strokes first, then drawings in mid-stroke; within each, the longest-waiting first.

        A finished stroke is what the drawer meant; a mid-stroke version is a
        preview that the stroke's end replaces within the second. A version
        that arrives meanwhile takes its drawing's place in the queue.
        """
        finished = [key for key, m in self.pending.items() if not m.get("partial")][:CHUNK]
        if len(finished) < CHUNK:
            finished += [key for key, m in self.pending.items() if m.get("partial")][: CHUNK - len(finished)]
        return finished

    def _growing(self, key: str) -> GrowingDrawing:
        growing = self.growing.get(key)
        if growing is None:
            growing = self.growing[key] = GrowingDrawing()
        self.growing.move_to_end(key)
        return growing


def _recognize_batch(drawings: list[tuple[list, GrowingDrawing]], classifier, *, turned_views: bool) -> list:
    """Top-3 for each drawing (None for one that cannot be read), in one batched call of the model."""
    return recognize_many(
        [(strokes, growing.simplify) for strokes, growing in drawings], classifier, turned_views=turned_views
    )


async def request_inference(
    *, key: str, version: int, strokes: list, context: dict | None = None, partial: bool = False
) -> None:
    """Queue a drawing on the `inference` channel of the default layer, which the inference workers share.

    `key` names the drawing (a newer version replaces an older one still waiting); `context` comes
    back with the answer to settings.INFERENCE_RESULT_HANDLER; `partial`: the last stroke is still
    being drawn (classified after finished strokes).
    """
    await get_channel_layer().send(
        INFERENCE_CHANNEL,
        {
            "type": "classify",
            "key": key,
            "version": version,
            "strokes": strokes,
            "context": context or {},
            "partial": partial,
        },
    )
