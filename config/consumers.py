"""A consumer base behaviour shared by the game and inference consumers."""

from __future__ import annotations

from channels.consumer import get_handler_name


class DirectDispatchMixin:
    """Dispatch without Channels' per-message `aclose_old_connections`.

    Channels (4.2+) hops into the database thread before every handler to close
    stale connections: one thread round trip per message, points and relayed
    events included, all queued behind real database work. Our handlers reach
    the database only through `database_sync_to_async`, which closes stale
    connections itself, in that thread, around each call.
    """

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
