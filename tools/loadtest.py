"""The load benchmark: many rooms of simulated players over real WebSockets, with latency figures.

Every classic room: one drawer replaying real Quick, Draw! drawings at human pace
(points every 50 ms, about one stroke a second), the others chatting wrong
guesses now and then, so turns run their full length and the server carries
a steady load. Every race room (``mode="race"``): every player draws the
round's word on its own canvas the same way, and the AI judges each canvas
(a recognised racer draws on: the load stays steady). Each player connects from a loopback address of its own, and
each room is created over HTTP from its host's address, as real players would
(tools/addresses.py): the server's per-address limits apply as deployed. The
generator runs in one process and on the same machine's clock as the server,
so it can time:

* ``points_ms``: what the others see of a drawing as it is drawn, leaving -> arriving
  at each other player: a drawer's points batches in classic, each finished stroke
  in a race (racers see each other's strokes, not their live points);
* ``stroke_to_guess_ms``: a stroke's end -> the AI's top-3 for that canvas (an
  ``ai`` message for the stroke's owner whose version, the server's wall-clock
  ms when it asked the AI, is not older than the stroke) arriving at *every*
  player of the room.

Anything expected and not received by the end (plus a grace period) counts as
``lost``, except what was sent in the last CROSSING_SECONDS of a turn that ended
(a race round everyone won ends at once): the server refuses strokes after a turn
and drops the AI's answers for it, by design; those count as ``crossed_turn_end``.
It stops by itself after its measuring windows.

Abuse (tools/abuse.py) runs beside the normal rooms from one shared address:
``flooders`` rooms of a drawer at ``flood_factor`` times human pace (reported
under ``flood``, as always), and any of the patterns in ``abuse`` (under
``abuse``). With ``baseline``, the normal rooms are first measured quietly for
``duration`` seconds and then, with the abusers started, for another
``duration``: ``baseline`` reports both windows' p99s and their ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from websockets.exceptions import WebSocketException

from game.protocol import compact_points
from game.rules import Mode
from tools.abuse import LONG_GAME, AbuseProcess, AbuseRun
from tools.addresses import LoopbackAddresses
from tools.client import Closed, JoinRefused
from tools.doodles import DrawingLibrary, replay
from tools.server import create_room_over_http, room_client

# After the last window, what was sent has this long to arrive (less if everything has) before it counts as lost.
GRACE_SECONDS = 3.0
# Sent this close to its turn's end (as the server timed it) and never answered or relayed: crossed the end.
CROSSING_SECONDS = 10.0
CHAT_EVERY_SECONDS = 5.0
CHATTER = ("hmm", "is it a house?", "no idea", "a potato?", "looks like a tree", "lol", "nice one", "a cloud??")
# Errors a player may get in ordinary play under load (a guess crossing the turn's end, a burst refused).
EXPECTED_ERRORS = frozenset({"not_drawer", "rate_limited"})
LOAD_MODES = (Mode.CLASSIC.value, Mode.RACE.value)
# Long turns and games, so that the load is steady (a game that ends anyway is started again).
LONG_GAMES = {Mode.CLASSIC: LONG_GAME, Mode.RACE: {k: v for k, v in LONG_GAME.items() if k != "word_choices"}}


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    s = sorted(values)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


@dataclass
class Window:
    """A measuring window (wall clock) and what was measured in it."""

    name: str
    start: float
    end: float
    sent: int = 0
    received: int = 0
    strokes: int = 0
    points_ms: list[float] = field(default_factory=list)
    stroke_to_guess_ms: list[float] = field(default_factory=list)
    lost: int = 0
    crossed: int = 0
    canvases: set[tuple[str, str]] = field(default_factory=set)  # (room, player) that finished a stroke here

    def holds(self, t: float) -> bool:
        return self.start <= t <= self.end

    def figures(self) -> dict:
        return {
            "stroke_to_guess_ms": percentiles(self.stroke_to_guess_ms),
            "points_ms": percentiles(self.points_ms),
            "strokes_measured": len(self.stroke_to_guess_ms),
            "lost": self.lost,
            "crossed_turn_end": self.crossed,
        }


@dataclass
class Run:
    started: float
    windows: list[Window] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connected: int = 0
    last_join: float = 0.0  # wall time the last player's welcome arrived

    def window_at(self, t: float) -> Window | None:
        return next((w for w in self.windows if w.holds(t)), None)


def _points_key(kind: str, turn_id: int, owner: int | None, stroke: int, points: list) -> tuple:
    """A `points` batch or a `stroke` as sent and as relayed ([x, y], compact): its turn, canvas, stroke and
    first point."""
    return kind, turn_id, owner, stroke, tuple(compact_points(points[:1])[0])


class LoadPlayer:
    def __init__(self, base: str, code: str, name: str, run: Run, address: str | None, check_frames: bool = False):
        self.run, self.address = run, address
        self.client = room_client(base, code, name, local_address=address, keep_inbox=False, check_frames=check_frames)
        self.client.listeners.append(self._arrived)
        # Arrival times (wall clock) of AI updates: (turn, canvas owner, version, arrived).
        self.ai: list[tuple[int, int, int, float]] = []
        self.turn_ends: dict[int, float] = {}  # turn id -> when the server ended it (wall clock, seconds)
        # Arrival times per (turn, stroke, first point), in order: a drawer that draws the same doodle
        # twice in one turn sends the same key twice, and each send is matched with its own arrival.
        self.points_seen: dict[tuple, list[float]] = {}
        self.drawn: dict[int, int] = {}  # turn id -> strokes this player has drawn in it

    @property
    def name(self) -> str:
        return self.client.name

    async def send(self, message: dict) -> None:
        await self.client.send(message)
        window = self.run.window_at(time.time())
        if window is not None:
            window.sent += 1

    async def join(self) -> None:
        await self.client.connect()
        self.run.connected += 1
        self.client.listen()
        await self.client.join(timeout=60)
        self.run.last_join = max(self.run.last_join, time.time())

    def _arrived(self, m: dict, now: float) -> None:
        window = self.run.window_at(now)
        if window is not None:
            window.received += 1
        kind = m.get("type")
        if kind == "ai":
            self.ai.append((m["turn_id"], m["owner"], m["version"], now))
        elif kind in ("state", "welcome") and m["state"]["phase"] == "turn_end" and m["state"]["turn_id"] is not None:
            state = m["state"]  # the reveal's deadline is the end plus the reveal's length (one clock: this machine's)
            self.turn_ends[state["turn_id"]] = (state["deadline_ms"] - state["phase_seconds"] * 1000) / 1000
        elif kind in ("points", "stroke"):
            self.points_seen.setdefault(
                _points_key(kind, m["turn_id"], m["owner"], m["stroke"], m["points"]), []
            ).append(now)
        elif kind == "error" and m.get("code") not in EXPECTED_ERRORS:
            self.run.errors.append(f"{self.name}: {m.get('code')}: {m.get('message')}")

    def check_closed(self) -> None:
        """A close this side did not ask for (the run closes its own sockets only after this check), or a frame
        the server should not have sent (the client holds every frame to the protocol's schema)."""
        if self.client.close_code is not None:
            self.run.errors.append(f"{self.name}: connection closed: {self.client.close_code}")
        if self.client.failure is not None:
            self.run.errors.append(f"{self.name}: {self.client.failure!r}")

    def heard_ai(self, turn: int, owner: int | None, sent: float) -> float | None:
        """When the AI's top-3 for `owner`'s canvas in `turn`, asked for at `sent` or later, arrived (None: never)."""
        return next(
            (
                at
                for t, who, version, at in self.ai
                if t == turn and who == owner and version >= sent * 1000 - 1 and at >= sent
            ),
            None,
        )


class LoadRoom:
    def __init__(
        self,
        bases: list[str],
        code: str,
        n: int,
        run: Run,
        drawings: DrawingLibrary,
        rng: random.Random,
        addresses: list[str | None],
        offset: int = 0,
        mode: str = Mode.CLASSIC,
        check_frames: bool = False,
    ):
        self.code, self.run, self.drawings, self.rng, self.mode = code, run, drawings, rng, Mode(mode)
        # With several web processes, a room's players are spread over them.
        self.players = [
            LoadPlayer(bases[(offset + i) % len(bases)], code, f"{code[:3]}{i}", run, addresses[i], check_frames)
            for i in range(n)
        ]
        # What others see live (key, sent wall time, sender: points batches, or in a race finished strokes) and
        # stroke ends (sent wall time, sender), in windows: the sender's player id names the canvas.
        self.sent_points: list[tuple[tuple, float, LoadPlayer, Window]] = []
        self.sent_strokes: list[tuple[float, LoadPlayer, Window, int]] = []  # ..., and the turn

    async def play(self, stop: asyncio.Event) -> None:
        try:
            # The host joins first (the first seat hosts), then the others.
            await self.players[0].join()
            await asyncio.gather(*(p.join() for p in self.players[1:]))
            host = self.players[0]
            await host.send(LONG_GAMES[self.mode])
            await host.send({"type": "start"})
            await asyncio.gather(*(self._act(p, stop) for p in self.players))
        except (TimeoutError, Closed, JoinRefused, OSError, WebSocketException) as exc:
            if not stop.is_set():
                self.run.errors.append(f"room {self.code}: {exc!r}")
        finally:
            for p in self.players:
                p.check_closed()
            await asyncio.gather(*(p.client.close() for p in self.players), return_exceptions=True)

    async def _act(self, me: LoadPlayer, stop: asyncio.Event) -> None:
        next_chat = time.monotonic() + self.rng.uniform(1, CHAT_EVERY_SECONDS)
        client = me.client
        while not stop.is_set() and not client.closed:
            s = client.snapshot
            if s and client.is_drawer() and s["phase"] == "choosing" and s.get("choices"):
                await me.send({"type": "choose_word", "word": s["choices"][0]})
                await client.until(lambda: client.phase != "choosing", 0.5)
            elif s and client.can_draw():
                await self._draw(me, s, stop)
            elif s and s["phase"] == "game_over" and me is self.players[0]:  # ten long rounds are over: again
                await me.send({"type": "start"})
                await client.until(lambda: client.phase != "game_over", 2)
            else:
                if s and s["phase"] == "drawing" and self.mode == Mode.CLASSIC and time.monotonic() >= next_chat:
                    next_chat = time.monotonic() + CHAT_EVERY_SECONDS
                    await me.send({"type": "guess", "text": self.rng.choice(CHATTER)})
                await client.next_message(0.5)

    async def _draw(self, me: LoadPlayer, s: dict, stop: asyncio.Event) -> None:
        turn = s["turn_id"]
        client = me.client
        # One drawing per "turn": turns here last the maximum 240 s, far longer than
        # a drawing, so the canvas is cleared between drawings as a new turn would.
        if me.drawn.get(turn):
            await me.send({"type": "clear"})

        live = "stroke" if self.mode == Mode.RACE else "points"  # what the others are shown as it is drawn

        def points_sent(index: int, points: list, sent: float) -> None:
            window = self.run.window_at(sent)
            if window is not None and live == "points":
                self.sent_points.append((_points_key(live, turn, client.player_id, index, points), sent, me, window))

        def stroke_sent(index: int, points: list, sent: float) -> None:
            window = self.run.window_at(sent)
            if window is not None:
                window.strokes += 1
                window.canvases.add((self.code, me.name))
                self.sent_strokes.append((sent, me, window, turn))
                if live == "stroke":
                    self.sent_points.append(
                        (_points_key(live, turn, client.player_id, index, points), sent, me, window)
                    )

        drawn = await replay(
            me.send,
            self.drawings.strokes(s["word"] or "", self.rng),
            still_drawing=lambda: not stop.is_set() and client.turn_id == turn and client.can_draw(),
            on_points=points_sent,
            on_stroke=stroke_sent,
        )
        me.drawn[turn] = drawn  # what the server holds now, without waiting for it to say so

    def crossed(self, turn: int, sent: float) -> bool:
        """Sent in the last CROSSING_SECONDS of a turn that has ended (it may have reached the server after)."""
        ends = [p.turn_ends[turn] for p in self.players if turn in p.turn_ends]
        return bool(ends) and sent >= min(ends) - CROSSING_SECONDS

    def settled(self) -> bool:
        """The last points batch and the AI's answer to the last stroke reached everyone (per socket, in order)."""
        if self.sent_points:
            key, sent, sender, _ = self.sent_points[-1]
            if not self.crossed(key[1], sent) and any(
                not any(at >= sent for at in p.points_seen.get(key, ())) for p in self.players if p is not sender
            ):
                return False
        if self.sent_strokes:
            sent, sender, _, turn = self.sent_strokes[-1]
            if not self.crossed(turn, sent) and any(
                p.heard_ai(turn, sender.client.player_id, sent) is None for p in self.players
            ):
                return False
        return True

    def score(self) -> None:
        """Match what was sent with what arrived, per window."""
        for key, sent, sender, window in self.sent_points:
            for p in self.players:
                if p is sender:
                    continue
                arrivals = p.points_seen.get(key, [])
                # Arrivals of earlier sends of the same key (before the measuring window) go first.
                while arrivals and arrivals[0] < sent:
                    arrivals.pop(0)
                arrived = arrivals.pop(0) if arrivals else None
                if arrived is None and self.crossed(key[1], sent):
                    window.crossed += 1
                elif arrived is None:
                    window.lost += 1
                else:
                    window.points_ms.append((arrived - sent) * 1000)
        for sent, sender, window, turn in self.sent_strokes:
            worst = 0.0
            for p in self.players:
                arrival = p.heard_ai(turn, sender.client.player_id, sent)
                if arrival is None:
                    worst = -1
                    break
                worst = max(worst, arrival - sent)
            if worst < 0 and self.crossed(turn, sent):
                window.crossed += 1
            elif worst < 0:
                window.lost += 1
            else:
                window.stroke_to_guess_ms.append(worst * 1000)


def _ratio(abused: float | None, quiet: float | None) -> float | None:
    return round(abused / quiet, 2) if abused is not None and quiet else None


def _baseline(quiet: Window, abused: Window) -> dict:
    q, a = quiet.figures(), abused.figures()
    ratio = {
        "stroke_to_guess_p99": _ratio(a["stroke_to_guess_ms"]["p99"], q["stroke_to_guess_ms"]["p99"]),
        "points_p99": _ratio(a["points_ms"]["p99"], q["points_ms"]["p99"]),
    }
    known = [r for r in ratio.values() if r is not None]
    return {"quiet": q, "abused": a, "ratio": ratio, "within_2x": bool(known) and max(known) <= 2.0}


# Young-object collections while the load runs: about one per this many allocations (Python's default: 700).
LOAD_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def _collecting_seldom() -> Iterator[None]:
    """The generator's own pauses are timed as the server's latency: while the load runs, what was set up
    is frozen out of the cyclic collector (for good: it lives as long as the run) and young objects are
    collected seldom (cycles still are).

    Collecting at the default pace cost the generator about 6 s of CPU in a 200-player minute (44 s
    against 38 s), sharing the machine with the server it measures, and it drew 12 % fewer strokes."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(LOAD_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


async def run_load(
    bases: list[str],
    *,
    rooms: int,
    players_per_room: int,
    duration: float,
    warmup: float = 5.0,
    drawings: DrawingLibrary,
    seed: int = 1,
    flooders: int = 0,
    flood_factor: float = 10.0,
    abuse: list[str] | None = None,
    baseline: bool = False,
    grace: float = GRACE_SECONDS,
    addresses: LoopbackAddresses | None = None,
    mode: str = Mode.CLASSIC,
    check_frames: bool = False,
) -> dict:
    abuse = list(abuse or [])
    addresses = addresses or LoopbackAddresses()
    rng = random.Random(seed)
    # The abusers get a process of their own, ready before anything is timed.
    names = [*abuse, *(["flood"] if flooders and "flood" not in abuse else [])]
    abusers = (
        AbuseProcess(
            AbuseRun(
                patterns=tuple(names),
                base=bases[0],
                address=addresses.abuser(),
                drawings=str(drawings.folder),
                seed=rng.random(),
                flood_factor=flood_factor,
                flood_rooms=max(flooders, 1),
            )
        )
        if names
        else None
    )
    if abusers is not None:
        await abusers.ready()
    run = Run(started=time.time())
    seats = [[addresses.take() for _ in range(players_per_room)] for _ in range(rooms)]
    # Each room is created by its host, from the host's address.
    codes = await asyncio.gather(
        *(
            asyncio.to_thread(create_room_over_http, bases[i % len(bases)], source_address=seats[i][0], mode=mode)
            for i in range(rooms)
        )
    )
    normal_rooms = [
        LoadRoom(
            bases,
            code,
            players_per_room,
            run,
            drawings,
            random.Random(rng.random()),
            seats[i],
            offset=i,
            mode=mode,
            check_frames=check_frames,
        )
        for i, code in enumerate(codes)
    ]
    stop = asyncio.Event()
    first = time.time() + warmup
    if baseline:
        run.windows = [
            Window("quiet", first, first + duration),
            Window("abused", first + duration, first + 2 * duration),
        ]
    else:
        run.windows = [Window("measured", first, first + duration)]
    measured = run.windows[-1]
    with _collecting_seldom():
        tasks = [asyncio.ensure_future(r.play(stop)) for r in normal_rooms]
        if abusers is not None:  # they arrive with everyone, or, with a baseline, after the quiet window
            abusers.between(measured.start if baseline else time.time(), measured.end)
        await asyncio.sleep(max(0.0, measured.end - time.time()))
        settle_by = time.monotonic() + grace
        while time.monotonic() < settle_by and not all(r.settled() for r in normal_rooms):
            await asyncio.sleep(0.25)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    abused = await abusers.figures() if abusers is not None else {}
    for r in normal_rooms:
        r.score()
    result = {
        "urls": bases,
        "mode": Mode(mode).value,
        "rooms": rooms,
        "players_per_room": players_per_room,
        "duration_s": duration,
        "players_connected": run.connected,
        # Whether every frame the players received was held to its schema (--check-frames).
        "frames_checked": check_frames,
        # Seconds from the start until every player was seated: the measuring starts `warmup` seconds in.
        "all_joined_s": round(run.last_join - run.started, 2),
        "strokes_per_s": round(measured.strokes / duration, 2),
        # Canvases drawn on in the measured window: a room's drawer in classic, every racer in a race.
        "canvases_drawn": len(measured.canvases),
        "messages_in_per_s": round(measured.sent / duration, 1),
        "messages_out_per_s": round(measured.received / duration, 1),
        **measured.figures(),
        "errors": run.errors[:50],
        "error_count": len(run.errors),
        "addresses": {
            "block": addresses.network,
            "players": rooms * players_per_room,
            "abusers": addresses.abuser() if names else None,
        },
    }
    if "failed" in abused:
        result["errors"].append(f"abusers: {abused['failed']}")
        result["error_count"] += 1
    if flooders:
        result["flood"] = abused.get("flood")
    if abuse:
        result["abuse"] = {
            "address": addresses.abuser(),
            "seconds": abused.get("seconds"),
            "patterns": {n: s for n, s in abused.get("patterns", {}).items() if n in abuse},
        }
    if baseline:
        result["baseline"] = _baseline(run.windows[0], run.windows[1])
    return result
