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

from game.selectors import RoomRead, read_room

# room id -> (event loop, read in flight); a read belongs to the loop that started it.
_reading: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[RoomRead]]] = {}
_read = database_sync_to_async(read_room)
# Reads in a row that may come back older than wanted (each began before the change committed).
_ATTEMPTS = 3


async def room_read(room_id: int, *, version: int) -> RoomRead:
    """The room at `version` or newer, read once for all the callers in this process that wait for it."""
    loop = asyncio.get_running_loop()
    for _ in range(_ATTEMPTS):
        entry = _reading.get(room_id)
        if entry is None or entry[0] is not loop:
            future = asyncio.ensure_future(_read(room_id=room_id))
            _reading[room_id] = (loop, future)
            future.add_done_callback(lambda done, room_id=room_id: _forget(room_id, done))
        else:
            future = entry[1]
        read = await asyncio.shield(future)  # one caller going away does not cancel the others' read
        if read.version >= version:
            return read
    return read


def _forget(room_id: int, done: asyncio.Future) -> None:
    entry = _reading.get(room_id)
    if entry is not None and entry[1] is done:
        del _reading[room_id]
