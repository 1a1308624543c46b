"""Helpers for consumer tests: in-process WebSocket clients and the inference worker."""

from __future__ import annotations

import asyncio
import itertools
import json
from contextlib import asynccontextmanager, suppress

from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from channels.worker import Worker

from game import protocol
from game.routing import websocket_urlpatterns

ws_app = URLRouter(websocket_urlpatterns)


def _checked(raw: str) -> dict:
    """A frame the server sent, held to its schema in game.protocol (and to the frame limit) before use."""
    protocol.parse_server_message(raw)
    return json.loads(raw)
_addresses = itertools.count(1)


def from_address(address: str):
    """The game's WebSocket app as reached from `address` (the communicator gives every socket the same one)."""

    async def app(scope, receive, send):
        return await ws_app({**scope, "client": (address, 40000)}, receive, send)

    return app


class Client:
    """One player's socket: sends dicts, collects every message it receives.

    Each client comes from an address of its own (players on one machine share one: pass `address`).
    """

    def __init__(self, code: str, name: str = "", address: str | None = None):
        n = next(_addresses)
        self.address = address or f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        self.comm = WebsocketCommunicator(from_address(self.address), f"/ws/room/{code}/")
        self.name = name
        self.inbox: list[dict] = []
        self.player_id: int | None = None
        self.token: str | None = None

    async def connect(self) -> None:
        connected, _ = await self.comm.connect()
        assert connected

    async def send(self, message: dict | str) -> None:
        await self.comm.send_to(text_data=message if isinstance(message, str) else json.dumps(message))

    async def join(self, token: str | None = None) -> dict:
        await self.send({"type": "join", "name": self.name, "token": token})
        welcome = await self.wait_for(lambda m: m["type"] == "welcome")
        self.player_id, self.token = welcome["player_id"], welcome["token"]
        return welcome

    async def wait_for(self, pred, timeout: float = 5.0) -> dict:
        """The first message (already received or arriving) that matches; consumed from the inbox."""
        for i, m in enumerate(self.inbox):
            if pred(m):
                return self.inbox.pop(i)
        # receive_from's own timeout would cancel the application, so poll instead.
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            if await self.comm.receive_nothing(timeout=0.02, interval=0.005):
                if loop.time() > end:
                    seen = [m if m["type"] in ("error", "chat") else (m["type"], m.get("state", {}).get("phase")) for m in self.inbox]
                    raise AssertionError(f"{self.name}: no matching message; got {seen}")
                continue
            m = _checked(await self.comm.receive_from())
            if pred(m):
                return m
            self.inbox.append(m)

    async def state(self, pred=lambda s: True, timeout: float = 5.0) -> dict:
        msg = await self.wait_for(lambda m: m["type"] in ("state", "welcome") and pred(m["state"]), timeout)
        return msg["state"]

    async def drain(self, seconds: float = 0.2) -> list[dict]:
        """Everything that arrives within `seconds` (plus what is in the inbox)."""
        while not await self.comm.receive_nothing(timeout=seconds, interval=0.01):
            self.inbox.append(_checked(await self.comm.receive_from()))
        got, self.inbox = self.inbox, []
        return got

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


def to_canvas(drawing: list, width: int = 800, height: int = 600) -> list[list[list[float]]]:
    """A simplified Quick, Draw! drawing (0-255) as canvas strokes of [x, y, t] points."""
    scale = min(width, height) / 300
    t = 0
    strokes = []
    for xs, ys in drawing:
        pts = []
        for x, y in zip(xs, ys, strict=True):
            pts.append([round(20 + x * scale, 1), round(20 + y * scale, 1), t])
            t += 16
        strokes.append(pts)
        t += 300
    return strokes
