"""The embedded default's channel layer: Channels' in-memory layer without its per-message costs.

Channels' InMemoryChannelLayer sweeps every channel and group for expired
entries on each send and receive, deep-copies every message, and fans a group
send out through one task per member. With a few hundred sockets in one
process, that made the layer the busiest code in the server. Here the sweep
runs at most once a second, a message is copied shallowly (consumers never
mutate what they receive), a group send is a plain loop, and no queue is
built only to be thrown away.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

SWEEP_SECONDS = 1.0
# The alias of the layer that carries sockets' traffic (see CHANNEL_LAYERS in config/settings.py).
ROOM_LAYER = "rooms"


class FastInMemoryChannelLayer(InMemoryChannelLayer):
    _swept_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = now
            super()._clean_expired()

    def _queue(self, channel: str) -> asyncio.Queue:
        queue = self.channels.get(channel)
        if queue is None:  # (Channels builds a queue for every call and throws most of them away)
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        return queue

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self._queue(channel)
        try:
            _, message = await queue.get()
        finally:
            if queue.empty():  # as in Channels: a drained channel is forgotten, so closed sockets leave nothing
                self.channels.pop(channel, None)
        return message

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        try:
            self._queue(channel).put_nowait((time.time() + self.expiry, dict(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)
