"""Abusive clients (issue 12): what one anonymous client might do to take more than a player's share.

Each pattern runs in rooms of its own, from ONE source address that every
abuser of a run shares (that is what the per-address limits are for), and
counts what it sent and how the server answered: refusals (`error` codes, a
room refused over HTTP), closes (the server's close codes), reconnects. The
load benchmark and the fuzzer run them beside normal rooms and report what it
cost those rooms.

Patterns:

* ``flood``: a drawer replaying doodles at `factor` times human pace, reconnecting
  (with its token) whenever closed;
* ``endless-stroke``: a drawer whose one stroke never ends (points batches at 30 a
  second, inside the points rate); its partner counts what is relayed of it;
* ``tabs``: one seat held by several sockets at once (its token in every "tab"), each
  sending guesses at twice the allowed rate and coming back when replaced; a watcher
  counts what the room was shown;
* ``seats``: more sockets than an address may hold seats, each asking for a seat
  again every few seconds and reconnecting when closed;
* ``slow-reader``: seated players that never read (a tiny receive buffer) and ask for
  the whole canvas every second, in a room whose drawer draws and takes back a
  3,000-point stroke four times a second; when the server drops one (its seat
  shows disconnected), it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from websockets.exceptions import WebSocketException

from game.protocol import (
    CANVAS_HEIGHT,
    CANVAS_WIDTH,
    MAX_POINTS_PER_BATCH,
    MAX_POINTS_PER_STROKE,
)
from tools.client import BadFrame, Closed, JoinRefused, Listener, ProtocolClient
from tools.doodles import HUMAN, DrawingLibrary, circle_stroke, replay
from tools.server import RoomRefused, create_room_over_http, room_client

PATTERNS = ("flood", "endless-stroke", "slow-reader", "tabs", "seats")  # heavier first: see run_patterns
# Long turns and games: an abuser keeps the pen (or the seat) for the whole run.
LONG_GAME = {"type": "settings", "rounds": 10, "draw_seconds": 240, "word_choices": 3}
RECONNECT_SECONDS = 0.2
START_STAGGER_SECONDS = 0.25  # between patterns: the heavier ones take the address's sockets first


@dataclass
class PatternStats:
    """What one pattern did and what the server answered."""

    connects: int = 0  # sockets opened (the handshake went through)
    joins: int = 0  # welcomes received
    reconnects: int = 0  # connection attempts after a client's first
    frames_sent: int = 0
    refusals: Counter = field(default_factory=Counter)  # error codes received; "http_429" for a refused room
    closes: Counter = field(default_factory=Counter)  # the server's close codes ("1006": dropped)
    bad_frames: int = 0  # clients that received a frame outside the protocol's schema (a server bug)
    extra: dict = field(default_factory=dict)  # the pattern's own figures

    def absorb(self, client: ProtocolClient) -> None:
        """Count a finished client's traffic (once)."""
        self.frames_sent += client.frames_sent
        self.refusals.update(client.errors)
        if client.close_code is not None:
            self.closes[str(client.close_code)] += 1
        if isinstance(client.failure, BadFrame):
            self.bad_frames += 1

    def to_json(self, seconds: float) -> dict:
        return {
            "connects": self.connects,
            "joins": self.joins,
            "reconnects": self.reconnects,
            "frames_sent": self.frames_sent,
            "frames_per_s": round(self.frames_sent / max(seconds, 1e-9), 1),
            "refusals": dict(self.refusals.most_common()),
            "closes": dict(self.closes.most_common()),
            "bad_frames": self.bad_frames,
            **self.extra,
        }


@dataclass
class AbuseContext:
    base: str  # http(s) base of the server
    address: str  # the one source address every abuser shares
    drawings: DrawingLibrary
    rng: random.Random
    stop: asyncio.Event


class Pattern:
    name = ""

    def __init__(self, ctx: AbuseContext):
        self.ctx = ctx
        self.stats = PatternStats()

    async def run(self) -> None:
        raise NotImplementedError

    # --- shared moves -------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.ctx.stop.is_set()

    async def room(self) -> str | None:
        """A room of this pattern's own, created from the abusers' address; None if refused."""
        try:
            return await asyncio.to_thread(create_room_over_http, self.ctx.base, source_address=self.ctx.address)
        except RoomRefused as exc:
            self.stats.refusals[f"http_{exc.status}"] += 1
        except OSError as exc:
            self.stats.refusals[f"http_{type(exc).__name__}"] += 1
        return None

    async def open(self, code: str, name: str, *, listen: bool = True, **transport) -> ProtocolClient | None:
        """A socket to room `code` from the abusers' address (not joined yet); None if the handshake failed."""
        client = room_client(
            self.ctx.base,
            code,
            name,
            local_address=self.ctx.address,
            keep_inbox=False,
            open_timeout=15,
            close_timeout=1,
            **transport,
        )
        try:
            await client.connect()
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.stats.refusals[f"handshake_{type(exc).__name__}"] += 1
            return None
        self.stats.connects += 1
        if listen:
            client.listen()
        return client

    async def session(
        self, code: str, name: str, token: str | None = None, *, listen: bool = True, **transport
    ) -> ProtocolClient | None:
        """A seated client (a welcome came), or None (refused: counted)."""
        client = await self.open(code, name, listen=listen, **transport)
        if client is None:
            return None
        try:
            await client.join(token, timeout=15)
        except (JoinRefused, TimeoutError, Closed):
            await self.finish(client)
            return None
        self.stats.joins += 1
        return client

    async def finish(self, client: ProtocolClient) -> None:
        await client.close()
        self.stats.absorb(client)

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.ctx.stop.wait()

    async def watch(
        self,
        code: str,
        name: str,
        listener: Listener | None = None,
        *,
        after: float = 0.0,
        seated: asyncio.Event | None = None,
    ) -> None:
        """A partner seated in `code` after `after` seconds, reading everything (the server never waits on it).

        `seated` is set once it has its seat (or could not get one)."""
        await self.pause(after)
        client = await self.session(code, name)
        if seated is not None:
            seated.set()
        if client is None:
            return
        if listener is not None:
            client.listeners.append(listener)
        await self.hold(client)
        await self.finish(client)

    async def keep_seated(self, code: str, name: str, play: Callable[[ProtocolClient], Awaitable[None]]) -> None:
        """Hold a seat in `code` until the run stops: play, and come back with the token whenever closed."""
        token: str | None = None
        attempts = 0
        while not self.stopping:
            self.stats.reconnects += attempts > 0
            attempts += 1
            client = await self.session(code, name, token)
            if client is not None:
                token = client.token
                with contextlib.suppress(Closed, OSError, WebSocketException):
                    await play(client)
                await self.finish(client)
            await self.pause(RECONNECT_SECONDS)

    async def host(self, client: ProtocolClient, *, humans: int = 2) -> None:
        """As the room's host: a long game, started once `humans` are seated (once per session)."""
        await client.until(lambda: client.connected_humans() >= humans or client.phase != "lobby", 30)
        if client.phase == "lobby" and client.me().get("is_host"):
            await client.send(LONG_GAME)
            await client.send({"type": "start"})

    async def choose_when_asked(self, client: ProtocolClient) -> bool:
        """Choose the first word when this client is to choose; True once it is drawing."""
        if client.phase == "choosing" and client.is_drawer() and client.snapshot.get("choices"):
            await client.send({"type": "choose_word", "word": client.snapshot["choices"][0]})
            await client.until(lambda: client.phase != "choosing", 5)
        return client.phase == "drawing" and client.is_drawer()

    def playing(self, client: ProtocolClient) -> bool:
        return not self.stopping and not client.closed

    async def hold(self, client: ProtocolClient) -> None:
        """Keep `client` seated (and reading, if it listens) until the run stops or the server closes it."""
        while self.playing(client):
            await client.next_message(0.5)


class Flood(Pattern):
    """Drawers at `factor` times human pace (points, strokes and pen lifts), each with a silent partner."""

    name = "flood"

    def __init__(self, ctx: AbuseContext, *, factor: float = 10.0, rooms: int = 1):
        super().__init__(ctx)
        self.factor, self.rooms = factor, rooms
        self.stats.extra.update(strokes_sent=0)

    async def run(self) -> None:
        codes = [await self.room() for _ in range(self.rooms)]
        await asyncio.gather(*(self._room(code) for code in codes if code))

    async def _room(self, code: str) -> None:
        # The flooder takes the first seat, and with it the host's; a partner makes the game startable.
        partner = asyncio.ensure_future(self.watch(code, "partner", after=0.5))
        try:
            await self.keep_seated(code, "flooder", self._flood)
        finally:
            await asyncio.gather(partner, return_exceptions=True)

    async def _flood(self, client: ProtocolClient) -> None:
        await self.host(client)
        pace = HUMAN.times(self.factor)
        while self.playing(client):
            if not await self.choose_when_asked(client):
                await client.next_message(0.2)
                continue
            turn = client.turn_id
            # Draw one whole doodle at `factor` x pace, then clear and start again.
            await client.send({"type": "clear"})
            await replay(
                client.send,
                self.ctx.drawings.strokes(client.snapshot["word"] or "", self.ctx.rng),
                pace=pace,
                still_drawing=lambda t=turn: self.playing(client) and client.turn_id == t,
                on_stroke=lambda *_: self._stroke_sent(),
            )

    def _stroke_sent(self) -> None:
        self.stats.extra["strokes_sent"] += 1

    def legacy_summary(self, seconds: float) -> dict:
        """The `flood` object `loadtest --flooders` has always reported, plus the common fields."""
        refusals = Counter(self.stats.refusals)
        refused = refusals.pop("rate_limited", 0)
        closes = Counter(self.stats.closes)
        abuse_closes = closes.pop("4008", 0)
        return {
            "flooders": self.rooms,
            "factor": self.factor,
            "frames_sent": self.stats.frames_sent,
            "strokes_sent": self.stats.extra["strokes_sent"],
            "refused": refused,
            "other_errors": dict(refusals),
            "abuse_closes": abuse_closes,
            "other_closes": sum(closes.values()),
            "connects": self.stats.connects,
            "frames_per_s": round(self.stats.frames_sent / seconds, 1),
            **self.stats.to_json(seconds),
        }


class EndlessStroke(Pattern):
    """One stroke that never ends; a partner counts how much of it the room was shown."""

    name = "endless-stroke"
    BATCHES_PER_SECOND = 30  # inside the points rate (40 a second): this is about size, not speed

    def __init__(self, ctx: AbuseContext):
        super().__init__(ctx)
        self.relayed: Counter = Counter()  # (turn, stroke) -> points the partner was shown
        self.stats.extra.update(points_sent=0)

    async def run(self) -> None:
        code = await self.room()
        if code is None:
            return
        partner = asyncio.ensure_future(self.watch(code, "watcher", self._seen, after=0.5))
        try:
            await self.keep_seated(code, "endless", self._draw)
        finally:
            await asyncio.gather(partner, return_exceptions=True)
        self.stats.extra.update(
            points_relayed=sum(self.relayed.values()),
            most_relayed_of_one_stroke=max(self.relayed.values(), default=0),
            stroke_limit=MAX_POINTS_PER_STROKE,
        )

    def _seen(self, message: dict, arrived: float) -> None:
        if message["type"] == "points":
            self.relayed[message["turn_id"], message["stroke"]] += len(message["points"])

    async def _draw(self, client: ProtocolClient) -> None:
        await self.host(client)
        x, y, t = CANVAS_WIDTH / 2, CANVAS_HEIGHT / 2, 0
        rng = self.ctx.rng
        while self.playing(client):
            if not await self.choose_when_asked(client):
                await client.next_message(0.2)
                continue
            points = []
            for _ in range(MAX_POINTS_PER_BATCH):  # a scribble that wanders and never lifts
                x = min(CANVAS_WIDTH, max(0.0, x + rng.uniform(-6, 6)))
                y = min(CANVAS_HEIGHT, max(0.0, y + rng.uniform(-6, 6)))
                t += 1
                points.append([round(x, 1), round(y, 1), t])
            await client.send({"type": "points", "stroke": 0, "points": points, "width": 10})
            self.stats.extra["points_sent"] += len(points)
            await asyncio.sleep(1 / self.BATCHES_PER_SECOND)


class Tabs(Pattern):
    """One seat, several sockets at once: each 'tab' joins with the seat's token and sends guesses."""

    name = "tabs"
    TABS = 4
    GUESSES_PER_SECOND = 10.0  # twice the allowed rate
    RECONNECT_SECONDS = 0.5

    def __init__(self, ctx: AbuseContext):
        super().__init__(ctx)
        self.seat_id: int | None = None
        self.stats.extra.update(guesses_sent=0, chat_relayed=0)

    async def run(self) -> None:
        code = await self.room()
        if code is None:
            return
        first = await self.session(code, "tabby")
        if first is None:
            return
        self.seat_id, token = first.player_id, first.token
        # The watcher takes its seat before the tabs take the address's sockets.
        seated = asyncio.Event()
        watcher = asyncio.ensure_future(self.watch(code, "watcher", self._seen, seated=seated))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(15):
                await seated.wait()
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.gather(
            self._tab(first, code, token), *(self._tab(None, code, token) for _ in range(self.TABS - 1))
        )
        await asyncio.gather(watcher, return_exceptions=True)
        self.stats.extra["chat_relayed_per_s"] = round(self.stats.extra["chat_relayed"] / (loop.time() - began), 2)

    def _seen(self, message: dict, arrived: float) -> None:
        if message["type"] == "chat" and message.get("player_id") == self.seat_id:
            self.stats.extra["chat_relayed"] += 1

    async def _tab(self, client: ProtocolClient | None, code: str, token: str) -> None:
        while not self.stopping:
            if client is None:
                self.stats.reconnects += 1
                client = await self.session(code, "tabby", token)
            if client is not None:
                n = 0
                with contextlib.suppress(Closed, OSError, WebSocketException):
                    while self.playing(client):
                        n += 1
                        await client.send({"type": "guess", "text": f"tab guess {n}"})
                        self.stats.extra["guesses_sent"] += 1
                        await asyncio.sleep(1 / self.GUESSES_PER_SECOND)
                await self.finish(client)
                client = None
            await self.pause(self.RECONNECT_SECONDS)


class Seats(Pattern):
    """More sockets from the address than it may hold seats in one room, each asking again and again."""

    name = "seats"
    SOCKETS = 6
    RETRY_SECONDS = 2.0

    def __init__(self, ctx: AbuseContext):
        super().__init__(ctx)
        self.held = 0
        self.stats.extra.update(seats_held_max=0)

    async def run(self) -> None:
        code = await self.room()
        if code is None:
            return
        await asyncio.gather(*(self._seat(code, i) for i in range(self.SOCKETS)))

    async def _seat(self, code: str, i: int) -> None:
        attempts = 0
        while not self.stopping:
            self.stats.reconnects += attempts > 0
            attempts += 1
            client = await self.open(code, f"seat{i}")
            if client is None:
                await self.pause(self.RETRY_SECONDS)
                continue
            while self.playing(client):
                try:
                    await client.join(client.token, timeout=10)
                except (JoinRefused, TimeoutError):
                    await self.pause(self.RETRY_SECONDS)
                    continue
                self.stats.joins += 1
                self.held += 1
                self.stats.extra["seats_held_max"] = max(self.stats.extra["seats_held_max"], self.held)
                await self.hold(client)
                self.held -= 1
            await self.finish(client)
            await self.pause(RECONNECT_SECONDS)


class SlowReaders(Pattern):
    """Seated players that never read, in a busy room, asking for the whole canvas every second.

    The drawer draws a 3,000-point stroke and takes it back, four times a second (inside both
    limits); each reader asks for the canvas again (`sync`, inside its limit) and reads nothing.
    What the server holds for them grows until it drops them.
    """

    name = "slow-reader"
    READERS = 2
    RECEIVE_BUFFER_BYTES = 4096
    STROKE_EVERY_SECONDS = 0.25  # a stroke and an undo: inside both limits
    SYNC_EVERY_SECONDS = 1.0

    def __init__(self, ctx: AbuseContext):
        super().__init__(ctx)
        self.dropped = {f"slow{i}": asyncio.Event() for i in range(self.READERS)}
        self.connected: dict[str, bool] = {}
        self.stats.extra.update(dropped=0, strokes_sent=0, syncs_sent=0)

    async def run(self) -> None:
        code = await self.room()
        if code is None:
            return
        drawer = asyncio.ensure_future(self.keep_seated(code, "busy", self._draw))
        await self.pause(0.5)
        await asyncio.gather(*(self._read_slowly(code, name) for name in self.dropped))
        await asyncio.gather(drawer, return_exceptions=True)

    async def _read_slowly(self, code: str, name: str) -> None:
        token: str | None = None
        attempts = 0
        while not self.stopping:
            self.stats.reconnects += attempts > 0
            attempts += 1
            # Joined by reading up to the welcome, then never read again (and no keepalive pings).
            client = await self.session(
                code,
                name,
                token,
                listen=False,
                receive_buffer=self.RECEIVE_BUFFER_BYTES,
                max_queue=1,
                ping_interval=None,
            )
            if client is None:
                await self.pause(RECONNECT_SECONDS)
                continue
            token = client.token
            self.dropped[name].clear()
            with contextlib.suppress(Closed, OSError, WebSocketException):  # a failed send: dropped too
                while not self.stopping and not self.dropped[name].is_set():
                    await client.send({"type": "sync"})
                    self.stats.extra["syncs_sent"] += 1
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.SYNC_EVERY_SECONDS):
                            await self.dropped[name].wait()
            if not self.stopping:
                self.stats.extra["dropped"] += 1
            client.abort()  # nothing it holds will ever be read
            self.stats.absorb(client)

    async def _draw(self, client: ProtocolClient) -> None:
        client.listeners.append(self._watch_seats)
        await self.host(client, humans=1 + self.READERS)
        while self.playing(client):
            if not await self.choose_when_asked(client):
                await client.next_message(0.5)
                continue
            await self._stroke(client, 0, MAX_POINTS_PER_STROKE)
            await asyncio.sleep(self.STROKE_EVERY_SECONDS)
            await client.send({"type": "undo"})

    async def _stroke(self, client: ProtocolClient, index: int, points: int) -> None:
        # Large to relay, cheap to classify: this pattern is about memory, not the AI's time.
        stroke = circle_stroke(points, self.stats.extra["strokes_sent"] / 10)
        await client.send({"type": "stroke", "stroke": index, "points": stroke, "width": 22})
        self.stats.extra["strokes_sent"] += 1

    def _watch_seats(self, message: dict, arrived: float) -> None:
        """The server dropped a slow reader when its seat shows disconnected."""
        if message["type"] not in ("state", "welcome"):
            return
        for player in message["state"]["players"]:
            name = player["name"]
            if name in self.dropped:
                if self.connected.get(name) and not player["connected"]:
                    self.dropped[name].set()
                self.connected[name] = player["connected"]


PATTERN_TYPES: dict[str, type[Pattern]] = {
    Flood.name: Flood,
    EndlessStroke.name: EndlessStroke,
    Tabs.name: Tabs,
    Seats.name: Seats,
    SlowReaders.name: SlowReaders,
}


def parse_patterns(text: str) -> list[str]:
    """`a,b,c` (or `all`, or `none`/empty) as pattern names; ValueError names what is unknown."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names in (["none"], []):
        return []
    if names == ["all"]:
        return list(PATTERNS)
    unknown = [n for n in names if n not in PATTERN_TYPES]
    if unknown:
        raise ValueError(f"unknown abuse pattern(s) {', '.join(unknown)}: choose from {', '.join(PATTERNS)}")
    return list(dict.fromkeys(names))


def make_patterns(
    names: list[str], ctx: AbuseContext, *, flood_factor: float = 10.0, flood_rooms: int = 1
) -> list[Pattern]:
    return [
        Flood(ctx, factor=flood_factor, rooms=flood_rooms) if name == Flood.name else PATTERN_TYPES[name](ctx)
        for name in names
    ]


async def run_patterns(patterns: list[Pattern]) -> None:
    """Start the patterns one after another (heavier first), then let them run until the context stops."""
    tasks = []
    for pattern in sorted(patterns, key=lambda p: PATTERNS.index(p.name)):
        tasks.append(asyncio.ensure_future(_run_one(pattern)))
        await asyncio.sleep(START_STAGGER_SECONDS)
    await asyncio.gather(*tasks)


async def _run_one(pattern: Pattern) -> None:
    """Run a pattern; should it fail, the report says how instead of the run ending."""
    try:
        await pattern.run()
    except Exception as exc:  # noqa: BLE001 - one abuser's bug must not hide the others' figures
        pattern.stats.extra["failed"] = repr(exc)


# --- in a process of their own -------------------------------------------------------------


@dataclass(frozen=True)
class AbuseRun:
    """What a separate abuse process does: these patterns against `base`, from `address`."""

    patterns: tuple[str, ...]
    base: str
    address: str
    drawings: str  # the Quick, Draw! folder
    seed: float
    flood_factor: float
    flood_rooms: int


class AbuseProcess:
    """The patterns in a process of their own: started (and ready) first, then told when to begin and end.

    The load benchmark measures its players' latencies on its own event loop; abusers in the same
    loop would slow that loop down and be counted as the server's doing. Apart, they cost the server
    what they would cost it from another machine (the two processes still share this machine's CPUs).
    """

    READY_SECONDS = 120.0  # a fresh interpreter importing the tools, on a busy machine

    def __init__(self, run: AbuseRun):
        context = multiprocessing.get_context("spawn")
        self.pipe, child_end = context.Pipe()
        self.process = context.Process(target=_abuse_process, args=(run, child_end), name="abusers", daemon=True)
        self.process.start()
        child_end.close()
        self.stop_at = 0.0

    async def ready(self) -> None:
        """Wait until the process has imported everything (so its start costs the measurement nothing)."""
        if not await asyncio.to_thread(self.pipe.poll, self.READY_SECONDS):
            raise RuntimeError(f"the abuse process was not ready within {self.READY_SECONDS:g} s")
        self.pipe.recv()

    def between(self, start_at: float, stop_at: float) -> None:
        """Abuse from `start_at` to `stop_at` (wall clock)."""
        self.stop_at = stop_at
        self.pipe.send((start_at, stop_at))

    async def figures(self) -> dict:
        """The patterns' figures, once they have stopped ({"failed": why} if none came)."""
        try:
            wait = max(0.0, self.stop_at - time.time()) + 60
            if await asyncio.to_thread(self.pipe.poll, wait):
                return self.pipe.recv()
            return {"failed": f"the abuse process sent nothing within {wait:.0f} s"}
        except EOFError:
            return {"failed": f"the abuse process ended with {self.process.exitcode}"}
        finally:
            await asyncio.to_thread(self.process.join, 10)
            if self.process.is_alive():
                self.process.terminate()


def _abuse_process(run: AbuseRun, pipe) -> None:
    pipe.send("ready")
    start_at, stop_at = pipe.recv()
    pipe.send(asyncio.run(_abuse_between(run, start_at, stop_at)))


async def _abuse_between(run: AbuseRun, start_at: float, stop_at: float) -> dict:
    stop = asyncio.Event()
    ctx = AbuseContext(
        base=run.base,
        address=run.address,
        drawings=DrawingLibrary(run.drawings),
        rng=random.Random(run.seed),
        stop=stop,
    )
    patterns = make_patterns(list(run.patterns), ctx, flood_factor=run.flood_factor, flood_rooms=run.flood_rooms)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    task = asyncio.ensure_future(run_patterns(patterns))
    await asyncio.sleep(max(0.0, stop_at - time.time()))
    stop.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(task, 30)
    seconds = max(1e-9, time.time() - began)
    flood = next((p for p in patterns if isinstance(p, Flood)), None)
    return {
        "seconds": round(seconds, 1),
        "patterns": {p.name: p.stats.to_json(seconds) for p in patterns},
        "flood": flood.legacy_summary(seconds) if flood else None,
    }
