"""Helpers for consumer tests: in-process WebSocket clients and the inference worker.

Every frame a Client receives is checked against its schema in game.protocol (tools.client.checked).
"""

from __future__ import annotations

import asyncio
import itertools
from contextlib import asynccontextmanager, suppress

from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.worker import Worker

from game.routing import websocket_urlpatterns
from tools.client import Closed, CommunicatorTransport, ProtocolClient
from tools.doodles import to_canvas_strokes

ws_app = URLRouter(websocket_urlpatterns)
_addresses = itertools.count(1)


class Client(ProtocolClient):
    """One player's socket in this process (Channels' communicator): sends dicts, collects what it receives.

    Each client comes from an address of its own (players on one machine share one: pass `address`).
    `comm` is the communicator itself, for tests that read its raw output.
    """

    def __init__(self, code: str, name: str = "", address: str | None = None):
        n = next(_addresses)
        self.address = address or f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        transport = CommunicatorTransport(ws_app, f"/ws/room/{code}/", address=self.address)
        super().__init__(transport, name)
        self.comm = transport.communicator

    async def connect(self) -> None:
        try:
            await super().connect()
        except Closed as exc:
            raise AssertionError(f"{self.name}: the connection was refused ({exc.code})") from exc

    async def wait_for(self, pred, timeout: float = 5.0) -> dict:
        """The first message (already received or arriving) that matches; consumed from the inbox."""
        try:
            return await super().wait_for(pred, timeout)
        except (TimeoutError, Closed) as exc:
            seen = [
                m if m["type"] in ("error", "chat") else (m["type"], m.get("state", {}).get("phase"))
                for m in self.inbox
            ]
            raise AssertionError(f"{self.name}: no matching message ({exc}); got {seen}") from None

    async def state(self, pred=lambda s: True, timeout: float = 5.0) -> dict:
        msg = await self.wait_for(lambda m: m["type"] in ("state", "welcome") and pred(m["state"]), timeout)
        return msg["state"]

    async def close(self) -> None:
        await self.comm.disconnect()


async def room_with(*names: str):
    """A new room and one joined client per name (the first one hosts)."""
    from asgiref.sync import sync_to_async

    from game import actions

    room = await sync_to_async(actions.do_create_room)()
    clients = []
    for name in names:
        c = Client(room.code, name)
        await c.connect()
        await c.join()
        clients.append(c)
    return room, clients


@asynccontextmanager
async def inference_worker():
    """The real inference consumer on the real (in-memory) channel layer, as runworker runs it."""
    from config.asgi import channel_routes
    from inference.consumers import INFERENCE_CHANNEL

    layer = get_channel_layer()
    # The in-memory layer lives as long as the test process: drop drawings earlier tests left queued.
    queue = getattr(layer, "channels", {}).get(INFERENCE_CHANNEL)
    while queue is not None and not queue.empty():
        queue.get_nowait()
    worker = Worker(application=channel_routes, channels=[INFERENCE_CHANNEL], channel_layer=layer)
    task = asyncio.ensure_future(worker.arun())
    try:
        yield worker
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task


def to_canvas(drawing: list) -> list[list[list[float]]]:
    """A simplified Quick, Draw! drawing (0-255) as canvas strokes of [x, y, t] points."""
    t = 0
    strokes = []
    for stroke in to_canvas_strokes(drawing):
        strokes.append([[x, y, t + 16 * i] for i, (x, y) in enumerate(stroke)])
        t += 16 * len(stroke) + 300
    return strokes
