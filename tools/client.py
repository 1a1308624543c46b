"""One client of the game's WebSocket protocol (docs/protocol.md), over a pluggable transport.

Every tool that speaks to a room uses it: the bots (`simulate_game`), the load
benchmark, the abusers and the fuzzer, and the tests (in process through
Channels' communicator, `tests/wsclient.py`, or over real sockets against Daphne).
It joins and waits for the welcome, keeps the newest state and the canvases,
counts what it sent and received (and every frame's size when asked), and lets
a caller wait for a message or for a condition. Every frame it receives is held
to its schema (game.protocol.parse_server_message) before anything reads it: a
frame that is not one of the server's messages raises BadFrame.

Two ways to read, never both at once on one client:

* pull (the default): `wait_for`, `until` and `drain` read frames themselves, as
  long as they wait. Nothing is read otherwise, so a client nobody waits on is a
  slow reader, and the communicator stays free for tests that inspect it directly.
* push: `listen()` starts a task that reads every frame as it comes (bots, load
  players); `wait_for` and `until` then wait for that task to see what they want.

Transports: :class:`WebSocketTransport` (the `websockets` library, optionally from
a local source address) and :class:`CommunicatorTransport` (Channels' in-process
WebsocketCommunicator, for consumer tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from game.protocol import parse_server_message

try:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Origin
except ImportError as exc:  # the runtime image installs no tools
    raise ImportError("the tools need their packages: pip install -r requirements-tools.txt") from exc

Frame = str | bytes
Listener = Callable[[dict, float], None]
# What a close without a close frame (a dropped TCP connection) is reported as, as browsers do.
ABNORMAL_CLOSE = 1006


class Closed(Exception):
    """The connection is closed; `code` is the close code (1006 when it was dropped).

    `by_server`: the server closed (or dropped) it, rather than answering this side's close.
    """

    def __init__(self, code: int | None, reason: str = "", by_server: bool = True):
        super().__init__(f"connection closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason
        self.by_server = by_server


class BadFrame(ValueError):
    """The server sent a frame that is not one of its documented messages (docs/protocol.md)."""


class JoinRefused(Exception):
    """No welcome: the server answered the join with an error (`code`) or closed (`close_code`)."""

    def __init__(self, code: str, message: str = "", close_code: int | None = None):
        super().__init__(f"join refused: {code}{': ' + message if message else ''}")
        self.code = code
        self.message = message
        self.close_code = close_code


# --- transports ---------------------------------------------------------------------------


class Transport(Protocol):
    """Frames in and out of one socket."""

    async def open(self) -> None: ...

    async def send(self, frame: Frame) -> None: ...

    async def receive(self, timeout: float | None) -> Frame | None:
        """The next frame; None when none came within `timeout`; raises Closed once the socket is closed."""

    async def close(self, code: int = 1000) -> None: ...

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake."""


class WebSocketTransport:
    """A real WebSocket (`websockets`), optionally from a given local address and with a small receive buffer.

    `receive_buffer` sets SO_RCVBUF before connecting (a client that stops reading fills it at once);
    `max_queue` is how many frames the library reads ahead of the caller (None: unbounded).
    """

    def __init__(
        self,
        url: str,
        *,
        origin: str,
        local_address: str | None = None,
        open_timeout: float = 30.0,
        close_timeout: float = 5.0,
        max_queue: int | None = None,
        receive_buffer: int | None = None,
        max_size: int | None = None,
        ping_interval: float | None = 20.0,
    ):
        self.url, self.origin, self.local_address = url, origin, local_address
        self.open_timeout, self.close_timeout = open_timeout, close_timeout
        self.max_queue, self.receive_buffer, self.max_size = max_queue, receive_buffer, max_size
        self.ping_interval = ping_interval  # None: no keepalive pings (a client that never reads)
        self.ws: ClientConnection | None = None

    async def open(self) -> None:
        options: dict[str, Any] = {}
        if self.receive_buffer is not None:
            options["sock"] = await self._small_socket()
        elif self.local_address:
            options["local_addr"] = (self.local_address, 0)
        self.ws = await connect(
            self.url,
            origin=Origin(self.origin),
            proxy=None,
            open_timeout=self.open_timeout,
            close_timeout=self.close_timeout,
            max_queue=self.max_queue,
            max_size=self.max_size,
            ping_interval=self.ping_interval,
            **options,
        )

    async def _small_socket(self) -> socket.socket:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            sock.setblocking(False)
            if self.local_address:
                sock.bind((self.local_address, 0))
            async with asyncio.timeout(self.open_timeout):
                await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port or 80))
        except BaseException:
            sock.close()
            raise
        return sock

    async def send(self, frame: Frame) -> None:
        assert self.ws is not None, "open() first"
        try:
            await self.ws.send(frame)
        except ConnectionClosed as exc:
            raise Closed(*_close_of(exc)) from exc

    async def receive(self, timeout: float | None) -> Frame | None:
        assert self.ws is not None, "open() first"
        try:
            async with asyncio.timeout(timeout):
                return await self.ws.recv()  # cancelling recv() loses nothing (websockets' documentation)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise Closed(*_close_of(exc)) from exc

    async def close(self, code: int = 1000) -> None:
        if self.ws is not None:
            await self.ws.close(code)

    def abort(self) -> None:
        if self.ws is not None:
            self.ws.transport.abort()


def _close_of(exc: ConnectionClosed) -> tuple[int, str, bool]:
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason, exc.sent is None or bool(exc.rcvd_then_sent)
    return ABNORMAL_CLOSE, "", True


class CommunicatorTransport:
    """Channels' in-process WebsocketCommunicator around an ASGI app, as reached from `address`."""

    POLL_SECONDS = 0.02

    def __init__(self, application, path: str, *, address: str = "127.0.0.1", port: int = 40000):
        from channels.testing import WebsocketCommunicator

        async def from_address(scope, receive, send):
            return await application({**scope, "client": (address, port)}, receive, send)

        self.communicator = WebsocketCommunicator(from_address, path)

    async def open(self) -> None:
        connected, code = await self.communicator.connect()
        if not connected:
            raise Closed(code)

    async def send(self, frame: Frame) -> None:
        if isinstance(frame, bytes):
            await self.communicator.send_to(bytes_data=frame)
        else:
            await self.communicator.send_to(text_data=frame)

    async def receive(self, timeout: float | None) -> Frame | None:
        # receive_output's own timeout would cancel the application, so poll for output first.
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while True:
            wait = self.POLL_SECONDS if end is None else max(0.0, min(self.POLL_SECONDS, end - loop.time()))
            if not await self.communicator.receive_nothing(timeout=wait, interval=0.005):
                break
            if end is not None and loop.time() >= end:
                return None
        output = await self.communicator.receive_output()
        if output["type"] == "websocket.close":
            raise Closed(output.get("code", 1000), output.get("reason") or "")
        return output["text"] if output.get("text") is not None else output["bytes"]

    async def close(self, code: int = 1000) -> None:
        await self.communicator.disconnect(code)

    def abort(self) -> None:
        self.communicator.future.cancel()


# --- what a client knows ------------------------------------------------------------------


@dataclass
class Canvas:
    """The drawing of the current turn as this client was shown it: finished strokes by index."""

    turn_id: int | None = None
    strokes: list[dict] = field(default_factory=list)  # {"points": [[x, y], ...], "width": w}

    def start_turn(self, turn_id: int | None) -> None:
        if turn_id != self.turn_id:
            self.turn_id, self.strokes = turn_id, []

    def apply(self, message: dict) -> None:
        """A `stroke` (one finished stroke) or `canvas` chunk (strokes start.., and the new total)."""
        self.start_turn(message["turn_id"])
        if message["type"] == "stroke":
            index = message["stroke"]
            self.strokes.extend({} for _ in range(index + 1 - len(self.strokes)))
            self.strokes[index] = {"points": message["points"], "width": message["width"]}
        else:
            start, chunk = message["start"], message["strokes"]
            self.strokes.extend({} for _ in range(start + len(chunk) - len(self.strokes)))
            self.strokes[start : start + len(chunk)] = chunk
            del self.strokes[message["total"] :]

    @property
    def points(self) -> int:
        return sum(len(s.get("points", ())) for s in self.strokes)


def checked(frame: Frame) -> dict:
    """A frame the server sent, held to its schema in game.protocol (and to the frame limit), as a dict."""
    try:
        parse_server_message(frame)
    except ValueError as exc:  # pydantic's ValidationError is one
        raise BadFrame(f"not a server message ({exc}): {frame[:300]!r}") from exc
    return json.loads(frame)


@dataclass
class _Matcher:
    predicate: Callable[[dict], bool]
    found: asyncio.Future


class ProtocolClient:
    """One player's socket: join, keep the newest state and the canvas, wait for messages, send, close."""

    def __init__(
        self,
        transport: Transport,
        name: str = "",
        *,
        keep_inbox: bool = True,
        record_sizes: bool = False,
        check_frames: bool = True,
    ):
        self.transport = transport
        # Every frame held to its schema (the tests, the bots, fuzz). The load generator may leave that to
        # them: at 2,500 frames a second the checks took a fifth of its one core, and a busy generator reads
        # its frames late, which its latencies would blame on the server.
        self.check_frames = check_frames
        self.name = name
        self.keep_inbox = keep_inbox
        self.inbox: list[dict] = []  # received messages nobody waited for (when keep_inbox)
        self.player_id: int | None = None
        self.token: str | None = None
        self.snapshot: dict | None = None  # the newest `state` (by version) this client was sent
        self.canvases: dict[int | None, Canvas] = {}  # by owner, where frames name one (else under None)
        self.listeners: list[Listener] = []  # called with (message, wall-clock arrival) for every message
        self.errors: Counter[str] = Counter()  # `error` messages received, by code
        self.close_code: int | None = None  # the server's close code (1006: dropped); None while open
        self.closed = False
        self.failure: BaseException | None = None  # what ended the listening task, if not a close
        self.frames_sent = self.frames_received = self.bytes_received = self.max_frame_bytes = 0
        self.sizes: list[int] | None = [] if record_sizes else None  # every received frame's size in bytes
        self._closing = False
        self._reader: asyncio.Task | None = None
        self._matchers: list[_Matcher] = []
        self._wakers: list[asyncio.Future] = []
        self._pulling = asyncio.Lock()  # in pull mode one waiter reads at a time (the others see what it read)

    # --- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.transport.open()

    async def join(self, token: str | None = None, timeout: float = 15.0) -> dict:
        """Take a seat (or, with a token, take one's seat back); returns the welcome.

        Raises JoinRefused when the server answers with an error or closes instead."""
        try:
            await self.send({"type": "join", "name": self.name, "token": token})
            answer = await self.wait_for(lambda m: m["type"] in ("welcome", "error"), timeout)
        except Closed as exc:
            raise JoinRefused("closed", close_code=exc.code) from exc
        if answer["type"] == "error":
            raise JoinRefused(answer.get("code", ""), answer.get("message", ""))
        return answer

    async def send(self, message: dict | Frame) -> None:
        frame = message if isinstance(message, str | bytes) else json.dumps(message, separators=(",", ":"))
        try:
            await self.transport.send(frame)
        except Closed as exc:
            self._ended(exc)
            raise
        self.frames_sent += 1

    def listen(self) -> None:
        """Read every frame from now on in a task of its own (push mode)."""
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read_forever())

    @property
    def listening(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def close(self, code: int = 1000) -> None:
        """Close from this side (not counted as the server's close)."""
        self._closing = True
        with contextlib.suppress(Closed, OSError):
            await self.transport.close(code)
        await self._stop_reading()
        self.closed = True

    def abort(self) -> None:
        self._closing = True
        self.transport.abort()
        if self._reader is not None:
            self._reader.cancel()
        self.closed = True

    async def _stop_reading(self) -> None:
        if self._reader is not None:
            if not self._reader.done():
                self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    # --- reading ---------------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        try:
            while True:
                await self._read_one(None)
        except Closed:
            pass
        except Exception as exc:  # noqa: BLE001 - a bad frame must not end a listener silently
            self.failure = exc
        finally:
            self._wake_all()

    async def _read_one(self, timeout: float | None) -> bool:
        """Read and handle one frame; False when none came within `timeout`."""
        if self.closed:
            raise Closed(self.close_code)
        try:
            frame = await self.transport.receive(timeout)
        except Closed as exc:
            self._ended(exc)
            raise
        if frame is None:
            return False
        self._handle(frame)
        return True

    def _ended(self, exc: Closed) -> None:
        """The socket closed under a read or a send: note the server's close code, wake every waiter."""
        self.closed = True
        if exc.by_server and not (self._closing and exc.code == ABNORMAL_CLOSE):
            self.close_code = exc.code
        self._wake_all()

    def _handle(self, frame: Frame) -> None:
        arrived = time.time()  # before the checks: their cost is this client's, not the server's latency
        size = len(frame.encode()) if isinstance(frame, str) else len(frame)
        self.frames_received += 1
        self.bytes_received += size
        self.max_frame_bytes = max(self.max_frame_bytes, size)
        if self.sizes is not None:
            self.sizes.append(size)
        message = checked(frame) if self.check_frames else json.loads(frame)
        self._learn(message)
        for listener in self.listeners:
            listener(message, arrived)
        for matcher in self._matchers:
            if not matcher.found.done() and matcher.predicate(message):
                matcher.found.set_result(message)
                break
        else:
            if self.keep_inbox:
                self.inbox.append(message)
        self._wake_all(closed=False)

    def _learn(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "welcome":
            self.player_id, self.token = message["player_id"], message["token"]
        if kind in ("welcome", "state"):
            state = message["state"]
            if self.snapshot is None or state["version"] >= self.snapshot["version"]:
                self.snapshot = state
                for canvas in self.canvases.values():
                    canvas.start_turn(state["turn_id"])
        elif kind in ("stroke", "canvas"):
            self.canvases.setdefault(message.get("owner"), Canvas()).apply(message)
        elif kind == "error":
            self.errors[str(message.get("code"))] += 1

    def _wake_all(self, closed: bool = True) -> None:
        for waker in self._wakers:
            if not waker.done():
                waker.set_result(None)
        self._wakers.clear()
        if closed and self.closed:
            for matcher in self._matchers:
                if not matcher.found.done():
                    matcher.found.set_exception(Closed(self.close_code))

    async def _next(self, timeout: float, done: Callable[[], bool]) -> None:
        """Return after the next message (or the close), or after `timeout`; at once if `done()` meanwhile."""
        loop = asyncio.get_running_loop()
        if self.listening:
            waker = loop.create_future()
            self._wakers.append(waker)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await waker
            return
        end = loop.time() + timeout
        try:
            async with asyncio.timeout(timeout):
                await self._pulling.acquire()
        except TimeoutError:
            return
        try:
            if not done():  # another waiter may have read it while this one waited to read
                await self._read_one(max(0.0, end - loop.time()))
        finally:
            self._pulling.release()

    # --- waiting ----------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        """The first message (already received or arriving) that matches; taken out of the inbox.

        Raises TimeoutError after `timeout`, Closed if the socket closes first."""
        for i, message in enumerate(self.inbox):
            if predicate(message):
                return self.inbox.pop(i)
        loop = asyncio.get_running_loop()
        matcher = _Matcher(predicate, loop.create_future())
        self._matchers.append(matcher)
        end = loop.time() + timeout
        try:
            while not matcher.found.done():
                if self.closed:
                    raise Closed(self.close_code)
                remaining = end - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: no matching message within {timeout:g} s")
                await self._next(remaining, matcher.found.done)
            return matcher.found.result()
        finally:
            self._matchers.remove(matcher)
            if matcher.found.done() and not matcher.found.cancelled():
                matcher.found.exception()  # retrieved, so asyncio does not log it

    async def wait_state(self, predicate: Callable[[dict], bool] = lambda s: True, timeout: float = 10.0) -> dict:
        """The state of the first `welcome` or `state` message whose state matches."""
        message = await self.wait_for(lambda m: m["type"] in ("state", "welcome") and predicate(m["state"]), timeout)
        return message["state"]

    async def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until `condition()` holds (checked after every message); its value at the end (False on timeout)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not condition():
            remaining = end - loop.time()
            if remaining <= 0 or self.closed or (self._reader is not None and self._reader.done()):
                return condition()
            try:
                await self._next(remaining, condition)
            except Closed:
                return condition()
        return True

    async def next_message(self, timeout: float, since: int | None = None) -> None:
        """Return once a message arrives (at once if any came after the `since`-th), at the latest after `timeout`."""
        if since is not None and self.frames_received > since:
            return
        with contextlib.suppress(Closed):
            await self._next(timeout, lambda: since is not None and self.frames_received > since)

    async def drain(self, quiet: float = 0.2) -> list[dict]:
        """Everything in the inbox plus what arrives until nothing has for `quiet` seconds; empties the inbox."""
        with contextlib.suppress(Closed):
            if self.listening:
                seen = -1
                while seen != self.frames_received:
                    seen = self.frames_received
                    await asyncio.sleep(quiet)
            else:
                async with self._pulling:
                    while await self._read_one(quiet):
                        pass
        got, self.inbox = self.inbox, []
        return got

    # --- the state, read -----------------------------------------------------------------------

    @property
    def canvas(self) -> Canvas:
        """The drawing this client watches: the drawer's canvas, in a race its own (or the only one)."""
        drawer = self.snapshot["drawer_id"] if self.snapshot else None
        owner = drawer if drawer is not None else self.player_id
        found = self.canvases.get(owner) or self.canvases.get(None)
        if found is None and len(self.canvases) == 1:
            found = next(iter(self.canvases.values()))
        return found or Canvas(turn_id=self.turn_id)

    @property
    def phase(self) -> str:
        return self.snapshot["phase"] if self.snapshot else ""

    @property
    def turn_id(self) -> int | None:
        return self.snapshot["turn_id"] if self.snapshot else None

    def is_drawer(self) -> bool:
        """The classic drawer (or the solo player); in a race there is none: see can_draw."""
        return bool(self.snapshot) and self.player_id is not None and self.snapshot["drawer_id"] == self.player_id

    def can_draw(self) -> bool:
        """This client draws now: the drawer, the solo player, every racer."""
        return bool(self.snapshot) and self.snapshot["can_draw"]

    @property
    def mode(self) -> str:
        return self.snapshot["mode"] if self.snapshot else ""

    def me(self) -> dict:
        players = self.snapshot["players"] if self.snapshot else []
        return next((p for p in players if p["id"] == self.player_id), {})

    def connected_humans(self) -> int:
        players = self.snapshot["players"] if self.snapshot else []
        return sum(1 for p in players if p["connected"] and not p["is_ai"])
