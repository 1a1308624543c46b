"""The load benchmark: many rooms of simulated players over real WebSockets, with latency figures.

Every room: one drawer replaying real Quick, Draw! drawings at human pace
(points every 50 ms, about one stroke a second), the others chatting wrong
guesses now and then, so turns run their full length and the server carries
a steady load. The generator runs in one process and on the same machine's
clock as the server, so it can time:

* ``points_ms``: a drawer's points batch leaving -> arriving at each other player;
* ``stroke_to_guess_ms``: a drawer's stroke end -> the AI's top-3 for it (an
  ``ai`` message whose version, the server's wall-clock ms when it asked the
  AI, is not older than the stroke) arriving at *every* player of the room.

Anything expected and not received by the end (plus a grace period) counts as
``lost``. It stops by itself after ``duration`` seconds.

With ``flooders``, that many extra rooms each hold a client drawing at
``flood_factor`` times human pace (points, strokes and pen lifts all that much
faster), reconnecting at once whenever the server closes it, while the normal
rooms are measured as usual: their figures against a run without flooders say
what one abuser costs everyone else. The flooders' own counts go to ``flood``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import asdict, dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from game.bots import (
    BATCH_SECONDS,
    BATCHES_PER_STROKE,
    BRUSH_WIDTH,
    PEN_UP_SECONDS,
    DrawingLibrary,
    batches,
    create_room_over_http,
    densify,
    origin_for,
    to_canvas_strokes,
    ws_url_for,
)
from game.protocol import compact_points
from game.ratelimit import ABUSE_CLOSE_CODE

GRACE_SECONDS = 3.0
CHAT_EVERY_SECONDS = 5.0
CHATTER = ("hmm", "is it a house?", "no idea", "a potato?", "looks like a tree", "lol", "nice one", "a cloud??")


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    s = sorted(values)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


@dataclass
class Stats:
    started: float = 0.0
    measuring_from: float = 0.0
    measuring_until: float = 0.0
    sent: int = 0
    received: int = 0
    strokes: int = 0
    errors: list[str] = field(default_factory=list)
    points_ms: list[float] = field(default_factory=list)
    stroke_to_guess_ms: list[float] = field(default_factory=list)
    lost: int = 0
    connected: int = 0
    last_join: float = 0.0  # wall time the last player's welcome arrived

    def measuring(self, now: float) -> bool:
        return self.measuring_from <= now <= self.measuring_until


def _points_key(turn_id: int, stroke: int, points: list) -> tuple:
    """A points batch as sent and as relayed ([x, y], compact): its turn, stroke and first point."""
    return turn_id, stroke, tuple(compact_points(points[:1])[0])


class LoadPlayer:
    def __init__(self, base: str, code: str, name: str, room: LoadRoom, stats: Stats):
        self.url = ws_url_for(base, code)
        self.origin = origin_for(base)
        self.name = name
        self.room = room
        self.stats = stats
        self.ws: ClientConnection | None = None
        self.player_id: int | None = None
        self.state: dict | None = None
        self.changed = asyncio.Event()
        self.joined = asyncio.Event()
        # Arrival times (wall clock) of AI updates: (version, arrived).
        self.ai: list[tuple[int, float]] = []
        # Arrival times per (turn, stroke, first point), in order: a drawer that draws the same doodle
        # twice in one turn sends the same key twice, and each send is matched with its own arrival.
        self.points_seen: dict[tuple, list[float]] = {}
        self.drawn: dict[int, int] = {}  # turn id -> strokes this player has drawn in it

    async def send(self, msg: dict) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(msg))
        if self.stats.measuring(time.time()):
            self.stats.sent += 1

    async def run(self, stop: asyncio.Event) -> None:
        async with connect(self.url, origin=Origin(self.origin), open_timeout=30, max_queue=None) as ws:
            self.ws = ws
            self.stats.connected += 1
            await self.send({"type": "join", "name": self.name})
            receiver = asyncio.ensure_future(self._receive())
            await stop.wait()
            receiver.cancel()

    async def _receive(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                now = time.time()
                if self.stats.measuring(now):
                    self.stats.received += 1
                m = json.loads(raw)
                kind = m.get("type")
                if kind in ("welcome", "state"):
                    if kind == "welcome":
                        self.player_id = m["player_id"]
                        self.joined.set()
                        self.stats.last_join = max(self.stats.last_join, now)
                    if self.state is None or m["state"]["version"] >= self.state["version"]:
                        self.state = m["state"]
                        self.changed.set()
                elif kind == "ai":
                    self.ai.append((m["version"], now))
                elif kind == "points":
                    self.points_seen.setdefault(_points_key(m["turn_id"], m["stroke"], m["points"]), []).append(now)
                elif kind == "error" and m.get("code") not in ("not_drawer", "rate_limited"):
                    self.stats.errors.append(f"{self.name}: {m.get('code')}: {m.get('message')}")
        except ConnectionClosed as exc:
            if not self.room.stopping:
                self.stats.errors.append(f"{self.name}: connection closed: {exc}")


@dataclass
class FloodStats:
    frames_sent: int = 0
    strokes_sent: int = 0
    refused: int = 0  # "rate_limited" errors back
    other_errors: dict[str, int] = field(default_factory=dict)  # error code -> count
    abuse_closes: int = 0  # closed with the documented abuse code
    other_closes: int = 0
    connects: int = 0


class FloodRoom:
    """A room whose drawer sends at `factor` times human pace and comes straight back when closed.

    The flooder creates the room, so it hosts and draws first; a silent partner
    makes the game startable. Turns last the maximum 240 s, so within a run the
    flooder keeps the pen.
    """

    RECONNECT_SECONDS = 0.2

    def __init__(self, base: str, code: str, factor: float, drawings: DrawingLibrary, rng: random.Random):
        self.url, self.origin = ws_url_for(base, code), origin_for(base)
        self.code, self.factor, self.drawings, self.rng = code, factor, drawings, rng
        self.stats = FloodStats()
        self.token: str | None = None
        self.player_id: int | None = None
        self.state: dict | None = None

    async def play(self, stop: asyncio.Event) -> None:
        partner = asyncio.ensure_future(self._partner(stop))
        try:
            while not stop.is_set():
                with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
                    await self._session(stop)
                if not stop.is_set():
                    await asyncio.sleep(self.RECONNECT_SECONDS)
        finally:
            partner.cancel()
            await asyncio.gather(partner, return_exceptions=True)

    async def _partner(self, stop: asyncio.Event) -> None:
        await asyncio.sleep(0.5)  # the flooder takes the first seat, and with it the host's
        async with connect(self.url, origin=Origin(self.origin), open_timeout=30, max_queue=None) as ws:
            await ws.send(json.dumps({"type": "join", "name": "partner"}))
            async for _ in ws:  # reads and ignores, so the server never waits on this socket
                if stop.is_set():
                    return

    async def _session(self, stop: asyncio.Event) -> None:
        async with connect(self.url, origin=Origin(self.origin), open_timeout=30, max_queue=None) as ws:
            self.stats.connects += 1
            join = {"type": "join", "name": "flooder"} | ({"token": self.token} if self.token else {})
            await ws.send(json.dumps(join))
            receiver = asyncio.ensure_future(self._receive(ws))
            try:
                while not stop.is_set() and not receiver.done():
                    await self._act(ws)
            finally:
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
                if ws.close_code is not None and not stop.is_set():
                    if ws.close_code == ABUSE_CLOSE_CODE:
                        self.stats.abuse_closes += 1
                    else:
                        self.stats.other_closes += 1

    async def _receive(self, ws: ClientConnection) -> None:
        async for raw in ws:
            m = json.loads(raw)
            kind = m.get("type")
            if kind == "welcome":
                self.token, self.player_id = m["token"], m["player_id"]
            if kind in ("welcome", "state"):
                self.state = m["state"]
            elif kind == "error":
                if m.get("code") == "rate_limited":
                    self.stats.refused += 1
                else:
                    code = str(m.get("code"))
                    self.stats.other_errors[code] = self.stats.other_errors.get(code, 0) + 1

    async def _send(self, ws: ClientConnection, msg: dict) -> None:
        await ws.send(json.dumps(msg))
        self.stats.frames_sent += 1

    async def _act(self, ws: ClientConnection) -> None:
        s = self.state
        if s is None or s["drawer_id"] is None or s["drawer_id"] != self.player_id:
            humans = s and sum(1 for p in s["players"] if p["connected"] and not p["is_ai"])
            if s is not None and s["phase"] == "lobby" and humans >= 2:
                await self._send(ws, {"type": "start"})
            await asyncio.sleep(0.2)
            return
        if s["phase"] == "choosing" and s.get("choices"):
            await self._send(ws, {"type": "choose_word", "word": s["choices"][0]})
            await asyncio.sleep(0.2)
            return
        if s["phase"] != "drawing":
            await asyncio.sleep(0.2)
            return
        # Draw one whole doodle at `factor` x pace, then clear and start again.
        await self._send(ws, {"type": "clear"})
        for index, stroke in enumerate(to_canvas_strokes(self.drawings.pick(s["word"] or "", self.rng))):
            timed = [[x, y, i * 8] for i, (x, y) in enumerate(densify(stroke))]
            for batch in batches(timed, BATCHES_PER_STROKE):
                await self._send(ws, {"type": "points", "stroke": index, "points": batch, "width": BRUSH_WIDTH})
                await asyncio.sleep(BATCH_SECONDS / self.factor)
            await self._send(ws, {"type": "stroke", "stroke": index, "points": timed, "width": BRUSH_WIDTH})
            self.stats.strokes_sent += 1
            await asyncio.sleep(PEN_UP_SECONDS / self.factor)


class LoadRoom:
    def __init__(self, bases: list[str], code: str, n: int, stats: Stats, drawings: DrawingLibrary,
                 rng: random.Random, offset: int = 0):
        self.code = code
        self.stats = stats
        self.drawings = drawings
        self.rng = rng
        # With several web processes, a room's players are spread over them.
        self.players = [LoadPlayer(bases[(offset + i) % len(bases)], code, f"{code[:3]}{i}", self, stats)
                        for i in range(n)]
        self.stopping = False
        # (turn_id, stroke) -> (sent wall time, sender) for points batches and stroke ends.
        self.sent_points: list[tuple[tuple, float, LoadPlayer]] = []
        self.sent_strokes: list[tuple[float, LoadPlayer]] = []

    async def play(self, stop: asyncio.Event) -> None:
        # The host joins first (the first seat hosts), then the others.
        runners = [asyncio.ensure_future(self.players[0].run(stop))]
        try:
            await asyncio.wait_for(self.players[0].joined.wait(), 60)
            runners += [asyncio.ensure_future(p.run(stop)) for p in self.players[1:]]
            await asyncio.wait_for(asyncio.gather(*(p.joined.wait() for p in self.players)), 60)
            host = self.players[0]
            await host.send({"type": "settings", "rounds": 10, "draw_seconds": 240, "word_choices": 3})
            await host.send({"type": "start"})
            await asyncio.gather(*(self._act(p, stop) for p in self.players))
        except (TimeoutError, ConnectionClosed) as exc:
            if not stop.is_set():
                self.stats.errors.append(f"room {self.code}: {exc!r}")
        finally:
            self.stopping = True
            await asyncio.gather(*runners, return_exceptions=True)

    async def _act(self, me: LoadPlayer, stop: asyncio.Event) -> None:
        next_chat = time.monotonic() + self.rng.uniform(1, CHAT_EVERY_SECONDS)
        while not stop.is_set():
            s = me.state
            if s and s["drawer_id"] == me.player_id and s["phase"] == "choosing" and s.get("choices"):
                await me.send({"type": "choose_word", "word": s["choices"][0]})
                await asyncio.sleep(0.5)
            elif s and s["drawer_id"] == me.player_id and s["phase"] == "drawing":
                await self._draw(me, s, stop)
            else:
                if s and s["phase"] == "drawing" and time.monotonic() >= next_chat:
                    next_chat = time.monotonic() + CHAT_EVERY_SECONDS
                    await me.send({"type": "guess", "text": self.rng.choice(CHATTER)})
                me.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(me.changed.wait(), 0.5)

    async def _draw(self, me: LoadPlayer, s: dict, stop: asyncio.Event) -> None:
        turn = s["turn_id"]
        begun = time.monotonic()
        drawing = to_canvas_strokes(self.drawings.pick(s["word"] or "", self.rng))
        # One drawing per "turn": turns here last the maximum 240 s, far longer than
        # a drawing, so the canvas is cleared between drawings as a new turn would.
        if me.drawn.get(turn):
            await me.send({"type": "clear"})
        index = 0
        for stroke in drawing:
            if stop.is_set() or me.state["turn_id"] != turn or me.state["phase"] != "drawing":
                return
            pts = densify(stroke)
            t0 = int((time.monotonic() - begun) * 1000)
            timed = [[x, y, t0 + i * 8] for i, (x, y) in enumerate(pts)]
            for batch in batches(timed, BATCHES_PER_STROKE):
                now = time.time()
                await me.send({"type": "points", "stroke": index, "points": batch, "width": BRUSH_WIDTH})
                if self.stats.measuring(now):
                    self.sent_points.append((_points_key(turn, index, batch), now, me))
                await asyncio.sleep(BATCH_SECONDS)
            now = time.time()
            await me.send({"type": "stroke", "stroke": index, "points": timed, "width": BRUSH_WIDTH})
            if self.stats.measuring(now):
                self.stats.strokes += 1
                self.sent_strokes.append((now, me))
            index += 1
            await asyncio.sleep(PEN_UP_SECONDS)
        me.drawn[turn] = index  # what the server holds now, without waiting for it to say so

    def score(self) -> None:
        """Match what was sent with what arrived, for the measuring window."""
        for key, sent, sender in self.sent_points:
            for p in self.players:
                if p is sender:
                    continue
                arrivals = p.points_seen.get(key, [])
                # Arrivals of earlier sends of the same key (before the measuring window) go first.
                while arrivals and arrivals[0] < sent:
                    arrivals.pop(0)
                arrived = arrivals.pop(0) if arrivals else None
                if arrived is None:
                    self.stats.lost += 1
                else:
                    self.stats.points_ms.append((arrived - sent) * 1000)
        for sent, _sender in self.sent_strokes:
            sent_ms = sent * 1000
            worst = 0.0
            for p in self.players:
                arrival = next((at for version, at in p.ai if version >= sent_ms - 1 and at >= sent), None)
                if arrival is None:
                    worst = -1
                    break
                worst = max(worst, arrival - sent)
            if worst < 0:
                self.stats.lost += 1
            else:
                self.stats.stroke_to_guess_ms.append(worst * 1000)


async def run_load(bases: list[str], *, rooms: int, players_per_room: int, duration: float, warmup: float = 5.0,
                   drawings: DrawingLibrary, seed: int = 1, flooders: int = 0, flood_factor: float = 10.0) -> dict:
    stats = Stats(started=time.time())
    rng = random.Random(seed)
    codes = await asyncio.gather(*(asyncio.to_thread(create_room_over_http, bases[i % len(bases)])
                                   for i in range(rooms)))
    all_rooms = [LoadRoom(bases, code, players_per_room, stats, drawings, random.Random(rng.random()), offset=i)
                 for i, code in enumerate(codes)]
    stop = asyncio.Event()
    stats.measuring_from = time.time() + warmup
    stats.measuring_until = stats.measuring_from + duration
    flood_codes = await asyncio.gather(*(asyncio.to_thread(create_room_over_http, bases[i % len(bases)])
                                         for i in range(flooders)))
    flood_rooms = [FloodRoom(bases[i % len(bases)], code, flood_factor, drawings, random.Random(rng.random()))
                   for i, code in enumerate(flood_codes)]
    tasks = [asyncio.ensure_future(r.play(stop)) for r in [*all_rooms, *flood_rooms]]
    await asyncio.sleep(warmup + duration + GRACE_SECONDS)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for r in all_rooms:
        r.score()
    return {
        "urls": bases,
        "rooms": rooms,
        "players_per_room": players_per_room,
        "duration_s": duration,
        "players_connected": stats.connected,
        # Seconds from the start until every player was seated: the measuring starts `warmup` seconds in.
        "all_joined_s": round(stats.last_join - stats.started, 2),
        "strokes_per_s": round(stats.strokes / duration, 2),
        "messages_in_per_s": round(stats.sent / duration, 1),
        "messages_out_per_s": round(stats.received / duration, 1),
        "stroke_to_guess_ms": percentiles(stats.stroke_to_guess_ms),
        "points_ms": percentiles(stats.points_ms),
        "strokes_measured": len(stats.stroke_to_guess_ms),
        "lost": stats.lost,
        "errors": stats.errors[:50],
        "error_count": len(stats.errors),
        **({"flood": _flood_summary(flood_rooms, flood_factor, warmup + duration)} if flood_rooms else {}),
    }


def _flood_summary(rooms: list[FloodRoom], factor: float, seconds: float) -> dict:
    total = FloodStats()
    for room in rooms:
        for name, value in asdict(room.stats).items():
            if isinstance(value, dict):
                for key, count in value.items():
                    getattr(total, name)[key] = getattr(total, name).get(key, 0) + count
            else:
                setattr(total, name, getattr(total, name) + value)
    return {"flooders": len(rooms), "factor": factor, **asdict(total),
            "frames_per_s": round(total.frames_sent / seconds, 1)}
