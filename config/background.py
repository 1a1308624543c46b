"""Work a web process does besides answering requests: the game clock, model swaps, training jobs' watch and, embedded, the AI.

Daphne has no start-up hook, so the ASGI application starts these tasks on
the event loop the first time it is called. The clock runs in every web
process (room locking makes each timer fire once however many run); the
inference consumer runs here only in the embedded default (no Redis), where
the in-memory channel layer cannot reach another process.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

CLOCK_SECONDS = 0.25
HOUSEKEEPING_SECONDS = 2.0


async def run_clock() -> None:
    from game.actions import fire_due_timers, housekeeping

    fire = database_sync_to_async(fire_due_timers)
    tidy = database_sync_to_async(housekeeping)
    loop = asyncio.get_running_loop()
    next_tidy = loop.time()
    while True:
        try:
            await fire()
            if loop.time() >= next_tidy:
                next_tidy = loop.time() + HOUSEKEEPING_SECONDS
                await tidy()
        except Exception:
            log.exception("game clock tick failed; retrying")
        await asyncio.sleep(CLOCK_SECONDS)


async def run_embedded_inference() -> None:
    """The inference consumer, fed straight from the in-memory layer's `inference` channel.

    Channels' Worker hands each message to its consumer through a queue and a
    new task: two or three passes of the web process's event loop per drawing.
    Under load a pass takes milliseconds, which held the embedded AI to about
    130 drawings a second and let requests wait seconds. Read here, every
    drawing already waiting is taken in the same pass.
    """
    from inference.consumers import INFERENCE_CHANNEL, InferenceConsumer

    layer = get_channel_layer()
    consumer = InferenceConsumer()
    while True:
        message = await layer.receive(INFERENCE_CHANNEL)
        try:
            await consumer.dispatch(message)
        except Exception:
            log.exception("the inference consumer failed on a message")


# A pending model activation goes live within this long of the last turn that held it up ending.
MODEL_SWAP_SECONDS = 1.0
# A training job whose worker died is marked failed within TRAINING_JOB_STALE_SECONDS plus this.
TRAINING_WATCH_SECONDS = 5.0


async def run_every(seconds: float, work, what: str) -> None:
    """`work` (sync, run in the database thread) every `seconds`, for the life of the process."""
    call = database_sync_to_async(work)
    while True:
        try:
            await call()
        except Exception:
            log.exception("%s failed; retrying", what)
        await asyncio.sleep(seconds)


def start_background_services() -> list[asyncio.Task]:
    from game.events import bind_event_loop
    from inference.services import complete_pending_activation
    from training.jobs import fail_orphaned_jobs

    bind_event_loop()
    tasks = [
        asyncio.ensure_future(run_clock()),
        asyncio.ensure_future(run_every(MODEL_SWAP_SECONDS, complete_pending_activation, "model swap")),
        asyncio.ensure_future(run_every(TRAINING_WATCH_SECONDS, fail_orphaned_jobs, "training jobs' watch")),
    ]
    if settings.EMBEDDED_SERVICES:
        tasks.append(asyncio.ensure_future(run_embedded_inference()))
    log.info("background services started: clock%s", " + inference" if settings.EMBEDDED_SERVICES else "")
    return tasks


def with_background_services(application):
    tasks: list[asyncio.Task] = []

    async def app(scope, receive, send):
        if not tasks and scope["type"] in ("http", "websocket") and settings.GAME_CLOCK_IN_WEB:
            tasks.extend(start_background_services())
        return await application(scope, receive, send)

    app.background_tasks = tasks  # type: ignore[attr-defined]
    return app
