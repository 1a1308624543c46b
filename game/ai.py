"""Where the AI's answers enter the game.

The inference consumer calls :func:`on_ai_guess` for every classified
drawing. The top-3 goes to the room at once, straight over the channel layer;
the database hears about it only when it matters to the game: the top-1
changed (the reveal's timeline, and the only moment the AI can score) or the
stored "latest" is getting old. That keeps a busy server's single database
thread for the moves that change the game.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from config.layers import ROOM_LAYER
from game import events, rules, services

# Refresh the stored latest top-3 (gallery, reloads) at least this often.
RECORD_EVERY_SECONDS = 2.0
_REMEMBERED = 10_000
# turn id -> (top-1 label last recorded, when)
_recorded: OrderedDict[int, tuple[str, float]] = OrderedDict()
_record = database_sync_to_async(services.record_ai_guess)
# Recording runs beside the inference loop, one write per turn at a time: while
# one is in flight, only the newest answer for that turn waits (an older one
# would be dropped by record_ai_guess anyway), so a busy database thread never
# holds up the next classification or builds a backlog.
_writing: dict[int, asyncio.Task] = {}
_waiting: dict[int, dict] = {}


def confident(guesses: list[tuple[str, float]], n_labels: int | None = None) -> bool:
    return bool(guesses) and guesses[0][1] >= rules.ai_threshold(n_labels)


async def on_ai_guess(*, room: str, turn_id: int, version: int, guesses: list[tuple[str, float]],
                      n_labels: int | None = None) -> None:
    payload = {
        "type": "ai",
        "turn_id": turn_id,
        "version": version,
        "guesses": [{"label": label, "p": round(p, 4)} for label, p in guesses],
        "confident": confident(guesses, n_labels),
    }
    await get_channel_layer(ROOM_LAYER).group_send(events.room_group(room), events.room_event(payload))
    top = guesses[0][0] if guesses else ""
    last = _recorded.get(turn_id)
    now = time.monotonic()
    if last is None or last[0] != top or now - last[1] >= RECORD_EVERY_SECONDS:
        _recorded[turn_id] = (top, now)
        _recorded.move_to_end(turn_id)
        while len(_recorded) > _REMEMBERED:
            _recorded.popitem(last=False)
        _schedule(turn_id, {"turn_id": turn_id, "version": version, "guesses": guesses, "n_labels": n_labels})


def _schedule(turn_id: int, kwargs: dict) -> None:
    if turn_id in _writing:
        _waiting[turn_id] = kwargs
        return
    _writing[turn_id] = asyncio.ensure_future(_write(turn_id, kwargs))


async def _write(turn_id: int, kwargs: dict) -> None:
    try:
        while kwargs is not None:
            await _record(**kwargs)
            kwargs = _waiting.pop(turn_id, None)
    finally:
        _writing.pop(turn_id, None)
