"""Which seats this web process holds open, kept fresh in the database by one write per beat.

A seat's `last_seen` tells other processes that its sockets live (a count not
refreshed for rules.PRESENCE_STALE_SECONDS was left by a dead process). One
timer per process writes every open seat at once, instead of a timer and a
write per socket queued behind the game's moves in the database thread.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from game import actions, rules, runtime

log = logging.getLogger(__name__)


def opened(player_id: int) -> None:
    """A socket of this process took `player_id`'s seat (call on the event loop)."""
    here = runtime.current()
    here.open_seats[player_id] += 1
    if here.beat is None or here.beat.done():
        here.beat = here.loop.create_task(_beat_forever())


def closed(player_id: int) -> None:
    """That socket is gone."""
    seats = runtime.current().open_seats
    seats[player_id] -= 1
    if seats[player_id] <= 0:
        del seats[player_id]


def open_seats() -> list[int]:
    here = runtime.bound()
    return list(here.open_seats) if here is not None else []


async def beat() -> None:
    """Refresh every seat open here, in one write."""
    seats = open_seats()
    if seats:
        await database_sync_to_async(actions.do_touch)(player_ids=seats)


async def _beat_forever() -> None:
    while True:
        await asyncio.sleep(rules.PRESENCE_SECONDS)
        try:
            await beat()
        except Exception:  # noqa: BLE001 - a missed beat is retried; only a long silence counts
            log.warning("presence heartbeat failed for %d seats", len(open_seats()), exc_info=True)
