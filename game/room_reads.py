"""One database read of a room per change and web process, shared by the process's sockets in that room.

Every change to a room reaches each of its sockets as `room.changed` with the
room's new state version; each socket then needs its own view (only the drawer
sees the word). The views differ, the rows behind them do not: the sockets of
one process await a single read and each makes its view from it
(`selectors.view_of`). A read that began before the change was committed can
show an older version; whoever needs the newer one reads again.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async

from game import runtime
from game.selectors import RoomRead, read_room

_read = database_sync_to_async(read_room)
# Reads in a row that may come back older than wanted (each began before the change committed).
_ATTEMPTS = 3


async def room_read(room_id: int, *, version: int) -> RoomRead:
    """The room at `version` or newer, read once for all the callers in this process that wait for it."""
    reading = runtime.current().reading  # room id -> the read in flight
    for _ in range(_ATTEMPTS):
        future = reading.get(room_id)
        if future is None:
            future = reading[room_id] = asyncio.ensure_future(_read(room_id=room_id))
            future.add_done_callback(lambda done, room_id=room_id: _forget(reading, room_id, done))
        read = await asyncio.shield(future)  # one caller going away does not cancel the others' read
        if read.version >= version:
            return read
    return read


def _forget(reading: dict, room_id: int, done: asyncio.Future) -> None:
    if reading.get(room_id) is done:
        del reading[room_id]
