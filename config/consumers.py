"""Consumer plumbing shared by the game and inference consumers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


async def dispatch_from(
    sources: list[Callable[[], Awaitable[dict]]], dispatch: Callable[[dict], Awaitable[None]]
) -> None:
    """Channels' `await_many_dispatch`, without a new task and an `asyncio.wait` for every message.

    Each source (the socket, the channel layer) is read by one long-lived task
    that dispatches what it reads itself, one message at a time across sources
    (a fair lock: in the order they came in). Handing messages to one more task
    through a queue cost every message an extra pass of the event loop, which
    under load is milliseconds. A source or handler that fails ends the
    consumer, as in Channels.
    """
    turn = asyncio.Lock()
    failed: asyncio.Future = asyncio.get_running_loop().create_future()

    async def pump(source: Callable[[], Awaitable[dict]]) -> None:
        try:
            while True:
                message = await source()
                async with turn:
                    await dispatch(message)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - raised by dispatch_from
            if not failed.done():
                failed.set_exception(exc)

    pumps = [asyncio.ensure_future(pump(source)) for source in sources]
    try:
        await failed
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


class DirectDispatchMixin:
    """An async consumer's message loop without Channels' per-message costs.

    Messages are read through `dispatch_from` (no task per message), and handled
    without `aclose_old_connections`: Channels (4.2+) hops into the database thread before every handler to close
    stale connections: one thread round trip per message, points and relayed
    events included, all queued behind real database work. Our handlers reach
    the database only through `database_sync_to_async`, which closes stale
    connections itself, in that thread, around each call.
    """

    async def __call__(self, scope, receive, send):
        # AsyncConsumer.__call__ (Channels 4.3), reading its sources through dispatch_from.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        self.base_send = send
        try:
            await dispatch_from(sources, self.dispatch)
        except StopConsumer:
            pass
        except Exception as exc:
            # Daphne closes the socket (1011) and sends no disconnect to a consumer that died: whatever
            # the socket held (a seat, group memberships) must be let go here, or it stays for ever.
            log.exception("%s crashed", type(self).__name__)
            with contextlib.suppress(Exception):
                await self.crashed(exc)
            raise

    async def crashed(self, exc: BaseException) -> None:
        """Let go of what this consumer holds after an unexpected exception (override)."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class SerialLane:
    """One socket's database work, run one call at a time in arrival order, beside the socket's dispatch.

    Channels runs every database call in one thread per process. A consumer that
    awaited those calls in its dispatch loop delivered nothing meanwhile: a guesser
    whose chat line waited for the busy database thread also held back every point,
    stroke and AI answer for them, and a drawer's stored stroke held back the AI's
    answer to it. Work in a lane keeps its order; the socket keeps delivering.
    """

    def __init__(self, *, on_failure: Callable[[BaseException], Awaitable[None]], limit: int = 256):
        # What an unexpected exception does (the calls still queued are dropped): a consumer closes its
        # socket, as it did when such an exception ended its dispatch loop, and the client reconnects.
        self.on_failure = on_failure
        self.limit = limit  # queued calls at most: a stalled database must not grow memory without end
        self._queue: deque[tuple[Callable[..., Awaitable[object]], tuple, dict]] = deque()
        self._task: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def full(self) -> bool:
        return len(self._queue) >= self.limit

    def submit(self, fn: Callable[..., Awaitable[object]], *args: object, **kwargs: object) -> None:
        self._queue.append((fn, args, kwargs))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._queue:
            fn, args, kwargs = self._queue.popleft()
            try:
                await fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - handed to on_failure
                log.exception("queued work of a socket failed")
                self._queue.clear()
                await self.on_failure(exc)

    async def drain(self) -> None:
        """Wait until everything submitted so far (and anything it submits) has run."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
