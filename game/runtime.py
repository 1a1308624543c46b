"""What one web (or inference) process keeps in memory beside the database: one object, bound to its event loop.

Everything here is a cache or a queue of work in flight; the database holds
the truth, so a process that dies loses nothing a player needs. Keeping it in
one object bound to the running event loop (instead of module globals each
keyed by loop) means a new loop (a test, a restarted server) starts clean.

* `outbox`: events the database thread publishes, sent in order by one task on the loop
  (waiting in the database thread for each send would hold every other player's work);
* `open_seats`: the seats this process holds sockets for (one presence write per beat for all);
* `reading`: the room reads in flight, shared by the room's sockets here;
* `ai_writes`: the AI's answers being kept, one write per canvas at a time (game.ai);
* `sockets_by_address`: open game sockets per address (the per-address limit).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Canvases whose last kept AI answer is remembered (a few per room in play).
KEPT_REMEMBERED = 10_000


@dataclass
class AIWrites:
    """The AI's answers on their way to the database, per canvas key (see game.ai)."""

    waiting: dict = field(default_factory=dict)  # the newest answer not yet written
    writing: dict = field(default_factory=dict)  # the task writing (or waiting to write) it
    resting: set = field(default_factory=set)  # keys whose writer waits for the time to keep a nudge
    kept: OrderedDict = field(default_factory=OrderedDict)  # key -> (the word the last one kept was sure of, when)

    def keep(self, key: str, sure_of: str | None, when: float) -> None:
        self.kept[key] = (sure_of, when)
        self.kept.move_to_end(key)
        while len(self.kept) > KEPT_REMEMBERED:
            self.kept.popitem(last=False)


@dataclass
class Runtime:
    loop: asyncio.AbstractEventLoop
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    open_seats: Counter = field(default_factory=Counter)
    beat: asyncio.Task | None = None
    reading: dict = field(default_factory=dict)
    ai_writes: AIWrites = field(default_factory=AIWrites)
    sockets_by_address: Counter = field(default_factory=Counter)

    @property
    def running(self) -> bool:
        return self.loop.is_running() and not self.loop.is_closed()


_current: Runtime | None = None
_lock = threading.Lock()


def current() -> Runtime:
    """This process's runtime (call on its event loop): made, with its sender, on first use on a new loop."""
    global _current
    loop = asyncio.get_running_loop()
    with _lock:
        if _current is None or _current.loop is not loop:
            _current = Runtime(loop=loop)
            loop.create_task(_send_outbox(_current.outbox))
        return _current


def bound() -> Runtime | None:
    """The runtime of the process's event loop, from any thread (None before a loop took it up)."""
    return _current


async def _send_outbox(queue: asyncio.Queue) -> None:
    from channels.layers import get_channel_layer

    from config.layers import ROOM_LAYER

    layer = get_channel_layer(ROOM_LAYER)
    while True:
        group, message = await queue.get()
        try:
            await layer.group_send(group, message)
        except Exception:  # noqa: BLE001 - one failed send must not stop the others
            log.exception("group_send to %s failed", group)
