"""Which seats this web process holds open, kept fresh in the database by one write per beat.

A seat's `last_seen` tells other processes that its sockets live (a count not
refreshed for rules.PRESENCE_STALE_SECONDS was left by a dead process). One
timer per process writes every open seat at once, instead of a timer and a
write per socket queued behind the game's moves in the database thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from channels.db import database_sync_to_async

from game import actions, rules

log = logging.getLogger(__name__)

_open: Counter[int] = Counter()  # player id -> sockets open here
_beat: asyncio.Task | None = None


def opened(player_id: int) -> None:
    """A socket of this process took `player_id`'s seat (call on the event loop)."""
    global _beat
    _open[player_id] += 1
    loop = asyncio.get_running_loop()
    if _beat is None or _beat.done() or _beat.get_loop() is not loop:
        _beat = loop.create_task(_beat_forever())


def closed(player_id: int) -> None:
    """That socket is gone."""
    _open[player_id] -= 1
    if _open[player_id] <= 0:
        del _open[player_id]


def open_seats() -> list[int]:
    return list(_open)


async def beat() -> None:
    """Refresh every seat open here, in one write."""
    if _open:
        await database_sync_to_async(actions.do_touch)(player_ids=open_seats())


async def _beat_forever() -> None:
    while True:
        await asyncio.sleep(rules.PRESENCE_SECONDS)
        try:
            await beat()
        except Exception:  # noqa: BLE001 - a missed beat is retried; only a long silence counts
            log.warning("presence heartbeat failed for %d seats", len(_open), exc_info=True)
