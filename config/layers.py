"""Channel layers: the embedded default's in-memory layer without its per-message costs, and the
Redis layers (RedisWorkQueueLayer, PipelinedPubSubChannelLayer).

Channels' InMemoryChannelLayer sweeps every channel and group for expired
entries on each send and receive, deep-copies every message, and fans a group
send out through one task per member. With a few hundred sockets in one
process, that made the layer the busiest code in the server. Here the sweep
runs at most once a second, a message is copied shallowly (consumers never
mutate what they receive), a group send is a plain loop that skips the
socket the event came from, and a channel's queue is a deque.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import deque
from collections.abc import Awaitable, Callable

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

SWEEP_SECONDS = 1.0
# The alias of the layer that carries sockets' traffic (see CHANNEL_LAYERS in config/settings.py).
ROOM_LAYER = "rooms"


class _Inbox:
    """One channel's waiting messages, and its receiver's wake-up.

    An asyncio.Queue looked up its event loop on every wait, and a drained
    channel is forgotten (as in Channels), so that was every message. The
    methods Channels' expiry sweep uses (`empty`, `_queue`, `get_nowait`) are here.
    """

    __slots__ = ("_queue", "waiter")

    def __init__(self) -> None:
        self._queue: deque[tuple[float, dict]] = deque()
        self.waiter: asyncio.Future | None = None

    def empty(self) -> bool:
        return not self._queue

    def get_nowait(self) -> tuple[float, dict]:
        return self._queue.popleft()


class FastInMemoryChannelLayer(InMemoryChannelLayer):
    _swept_at = 0.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._valid_names: set[str] = set()

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = now
            super()._clean_expired()

    def _checked(self, channel: str) -> None:
        if channel not in self._valid_names:  # a socket's channel is checked once, not on every message
            self.require_valid_channel_name(channel)
            if len(self._valid_names) > 100_000:
                self._valid_names.clear()
            self._valid_names.add(channel)

    async def receive(self, channel):
        self._checked(channel)
        self._clean_expired()
        inbox = self.channels.get(channel)
        if inbox is None:
            inbox = self.channels[channel] = _Inbox()
        try:
            while not inbox._queue:
                inbox.waiter = asyncio.get_running_loop().create_future()
                await inbox.waiter
            _, message = inbox._queue.popleft()
        finally:
            inbox.waiter = None
            if not inbox._queue and self.channels.get(channel) is inbox:
                # As in Channels: a drained channel is forgotten, so closed sockets leave nothing.
                del self.channels[channel]
        return message

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self._checked(channel)
        assert "__asgi_channel__" not in message
        self._deliver(channel, message)

    def _deliver(self, channel: str, message: dict) -> None:
        inbox = self.channels.get(channel)
        if inbox is None:
            inbox = self.channels[channel] = _Inbox()
        if len(inbox._queue) >= self.get_capacity(channel):
            raise ChannelFull(channel)
        inbox._queue.append((time.time() + self.expiry, dict(message)))
        if inbox.waiter is not None and not inbox.waiter.done():
            inbox.waiter.set_result(None)

    async def group_send(self, group, message):
        """To every member, except the `sender` a room event may name (game.events.room_event: it would drop it)."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        sender = message.get("sender")
        for channel in list(self.groups.get(group, ())):
            if channel != sender:
                with contextlib.suppress(ChannelFull):
                    self._deliver(channel, message)


class RedisWorkQueueLayer(RedisChannelLayer):
    """channels_redis' layer, with named channels (work queues such as `inference`) as plain Redis lists.

    channels_redis delivers every message at least once: a send is four round
    trips to Redis, and a receive is four more, one message at a time, behind
    a lock. On a busy machine each round trip waits for the CPU, so one
    inference worker took at most a couple of hundred drawings a second and
    the queue grew without end. Here a send is one round trip, and a receive
    takes up to TAKE messages in one (BLMPOP, Redis 7); sends made while one
    is out go together in the next. Delivery is at most
    once: a worker that dies loses the few drawings it had taken, and their
    next versions follow within a second. A full queue drops its oldest
    messages (the newest drawings matter most), and a message older than the
    layer's expiry is skipped.

    Process-specific channels (with "!") keep channels_redis' own behaviour.
    """

    TAKE = 16

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._taken: dict[str, deque] = {}
        # Per event loop, as channels_redis' connections are.
        self._pushers: dict[tuple[asyncio.AbstractEventLoop, int, str], _Batched] = {}

    def _queue_key(self, channel: str) -> str:
        return f"{self.prefix}queue:{channel}"

    async def send(self, channel, message):
        if "!" in channel:
            return await super().send(channel, message)
        assert isinstance(message, dict), "message is not a dict"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        body = self.serialize({**message, "__expires__": time.time() + self.expiry})
        index = next(self._send_index_generator)
        key = (asyncio.get_running_loop(), index, channel)
        pusher = self._pushers.get(key)
        if pusher is None:
            pusher = self._pushers[key] = _Batched(functools.partial(self._push_all, index, channel))
        await pusher(body)

    async def _push_all(self, index: int, channel: str, bodies: list[bytes]) -> None:
        key = self._queue_key(channel)
        async with self.connection(index).pipeline(transaction=False) as pipe:
            pipe.lpush(key, *bodies)
            pipe.ltrim(key, 0, self.get_capacity(channel) - 1)  # the oldest go first
            pipe.expire(key, int(self.expiry))
            await pipe.execute()

    async def receive(self, channel):
        if "!" in channel:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        taken = self._taken.setdefault(channel, deque())
        while True:
            while not taken:
                connection = self.connection(next(self._receive_index_generator))
                popped = await connection.blmpop(
                    self.brpop_timeout, 1, self._queue_key(channel), direction="RIGHT", count=self.TAKE
                )
                if popped:
                    taken.extend(popped[1])
            message = self.deserialize(taken.popleft())
            if message.pop("__expires__", 0) >= time.time():
                return message


class PipelinedPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels_redis' pub/sub layer, whose publishes share round trips to Redis.

    channels_redis publishes one message at a time under a lock per Redis
    connection, each waiting for Redis's answer: at a few hundred room events a
    second the web process's sockets queued behind that lock (points p99 over
    half a second at 200 players). Here everything published while a round
    trip is out goes in the next one, as one pipeline; each sender still waits
    for its own message to be published, so order and errors reach it as before.

    (It reaches into channels_redis 4.3's per-loop layer and shard objects; an
    upgrade must re-check `_get_layer`, `_get_shard`, `_get_group_channel_name`
    and the shard's `_lock`, `_redis` and `_ensure_redis`.)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._publishers: dict[int, tuple[object, _Batched]] = {}

    async def send(self, channel, message):
        layer = self._get_layer()
        await self._publisher(layer._get_shard(channel))((channel, self.serialize(message)))

    async def group_send(self, group, message):
        layer = self._get_layer()
        channel = layer._get_group_channel_name(group)
        await self._publisher(layer._get_shard(channel))((channel, self.serialize(message)))

    def _publisher(self, shard) -> _Batched:
        known = self._publishers.get(id(shard))
        if known is None or known[0] is not shard:
            known = self._publishers[id(shard)] = (shard, _Batched(functools.partial(_publish_all, shard)))
        return known[1]


async def _publish_all(shard, messages: list[tuple[str, bytes]]) -> None:
    async with shard._lock:  # as channels_redis' own publish: not beside a (re)connect or flush
        shard._ensure_redis()
        async with shard._redis.pipeline(transaction=False) as pipe:
            for channel, body in messages:
                pipe.publish(channel, body)
            await pipe.execute()


class _Batched:
    """Items handed in while one batch is out go together in the next; each caller waits for its own."""

    def __init__(self, send_batch: Callable[[list], Awaitable[None]]) -> None:
        self.send_batch = send_batch
        self.waiting: list[tuple[object, asyncio.Future]] = []
        self.sending: asyncio.Task | None = None

    async def __call__(self, item: object) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((item, done))
        if self.sending is None or self.sending.done():
            self.sending = asyncio.ensure_future(self._send())
        await done

    async def _send(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            try:
                await self.send_batch([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - each caller gets it, as from its own call
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
