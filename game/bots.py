"""Bot players: real WebSocket clients that play a whole game the way people do.

They exist to test the running server end to end (``manage.py simulate_game``)
and to put realistic load on it (the load benchmark reuses :func:`run_game`).
So they speak only the public protocol (``game/protocol.py``) over real
sockets, draw real Quick, Draw! doodles at human pace, and guess from what a
person can see: the AI's top-3 chart. Nothing here imports the database; a bot
knows only what the server tells it.

Usage::

    code = create_room_over_http("http://127.0.0.1:8000")
    result = asyncio.run(run_game("http://127.0.0.1:8000", code, players=3, rounds=1))
    print(result.to_json())
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Origin

from game.protocol import CANVAS_HEIGHT, CANVAS_WIDTH, MAX_POINTS_PER_BATCH

log = logging.getLogger(__name__)

# Human pace: a batch of points every 50 ms (what browsers send), about one stroke a second.
BATCH_SECONDS = 0.05
BATCHES_PER_STROKE = 16  # 0.8 s of pen-down ...
PEN_UP_SECONDS = 0.2  # ... and a short lift before the next stroke.
# Resampled strokes keep points this close, like a browser's pointer events.
POINT_SPACING_PX = 6.0
MAX_POINTS_PER_DRAWN_STROKE = BATCHES_PER_STROKE * MAX_POINTS_PER_BATCH
BRUSH_WIDTH = 10

# Guessers read the chart like people do: a first wild guess, then the AI's labels.
FIRST_GUESS_AFTER_SECONDS = 3.0
INFORMED_AFTER_AI_UPDATES = 2
INFORMED_AFTER_SECONDS = 10.0
GUESS_INTERVAL_SECONDS = 1.0
# Phrases no category is named like, so the first guess is wrong whatever the word.
WILD_GUESSES = ("is it a blob?", "hmm, no idea", "a weird potato thing?", "abstract art", "some kind of squiggly shape")

# Errors the protocol produces legitimately when a message crosses a turn change
# in flight (the drawer's last points arrive just after everyone guessed).
RACE_CODES = frozenset({"not_drawer"})
RACE_WINDOW_SECONDS = 3.0

# --- drawings -----------------------------------------------------------------------


class DrawingLibrary:
    """Real Quick, Draw! drawings per word, read lazily from ``<folder>/<word>.ndjson``.

    A bot draws what a person drew for that word, so the AI sees realistic
    input; words without a file fall back to any category, which still makes a
    drawing (just not a recognisable one).
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._cache: dict[str, list[str]] = {}

    def _lines(self, word: str) -> list[str]:
        if word not in self._cache:
            path = self.folder / f"{word}.ndjson"
            self._cache[word] = path.read_text().splitlines() if path.is_file() else []
        return self._cache[word]

    def pick(self, word: str, rng: random.Random) -> list[list[list[int]]]:
        """One random simplified drawing (strokes of [xs, ys]) of `word`, or of any category."""
        lines = [ln for ln in self._lines(word) if ln.strip()]
        if not lines:
            files = sorted(self.folder.glob("*.ndjson"))
            if not files:
                raise FileNotFoundError(f"no Quick, Draw! drawings in {self.folder}")
            lines = [ln for ln in self._lines(rng.choice(files).stem) if ln.strip()]
        return json.loads(rng.choice(lines))["drawing"]


def to_canvas_strokes(drawing: list[list[list[int]]]) -> list[list[tuple[float, float]]]:
    """A 0-255 simplified drawing centred on the logical canvas, as (x, y) strokes."""
    scale = (min(CANVAS_WIDTH, CANVAS_HEIGHT) - 100) / 255
    dx, dy = (CANVAS_WIDTH - 255 * scale) / 2, (CANVAS_HEIGHT - 255 * scale) / 2
    return [[(round(dx + x * scale, 1), round(dy + y * scale, 1)) for x, y in zip(xs, ys, strict=False)]
            for xs, ys, *_ in drawing]


def densify(stroke: list[tuple[float, float]], spacing: float = POINT_SPACING_PX,
            limit: int = MAX_POINTS_PER_DRAWN_STROKE) -> list[tuple[float, float]]:
    """Points every `spacing` px along the stroke: simplified data has few, a pointer many."""
    if len(stroke) < 2:
        return list(stroke)
    length = sum(math.dist(a, b) for a, b in zip(stroke, stroke[1:], strict=False))
    spacing = max(spacing, length / max(1, limit - 1))
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        steps = max(1, int(math.dist((x0, y0), (x1, y1)) // spacing))
        out.extend((round(x0 + (x1 - x0) * i / steps, 1), round(y0 + (y1 - y0) * i / steps, 1))
                   for i in range(1, steps + 1))
    return out[:limit]


def batches(points: list, n: int) -> list[list]:
    """Split points into at most `n` consecutive, non-empty, similar-sized batches."""
    n = max(1, min(n, len(points)))
    size = math.ceil(len(points) / n)
    return [points[i:i + size] for i in range(0, len(points), size)]


# --- one bot --------------------------------------------------------------------------


@dataclass
class BotError:
    """Something that went wrong for one bot; `at` is monotonic time, for race checks."""

    bot: str
    what: str
    at: float = field(default_factory=time.monotonic)
    code: str = ""

    def __str__(self) -> str:
        return f"{self.bot}: {self.what}"


class Bot:
    """One player: joins, reacts to the room's state, draws when drawing, guesses otherwise.

    A receive loop records every message and keeps the newest ``state``; the
    play loop only looks at that state, so the bot behaves like a browser that
    re-renders on every snapshot. No reconnects: a closed socket before
    ``game_over`` is an error.
    """

    def __init__(self, ws_url: str, name: str, *, origin: str, drawings: DrawingLibrary,
                 expect_players: int = 2, rounds: int = 1, draw_seconds: int = 30, word_choices: int = 3,
                 seed: int | None = None):
        self.ws_url = ws_url
        self.name = name
        self.origin = origin
        self.drawings = drawings
        self.expect_players = expect_players
        self.game_settings = {"rounds": rounds, "draw_seconds": draw_seconds, "word_choices": word_choices}
        self.rng = random.Random(seed)
        self.ws: ClientConnection | None = None
        self.player_id: int | None = None
        self.state: dict | None = None
        self.messages: list[dict] = []
        self.ai_updates = 0
        self.ai_by_turn: Counter[int] = Counter()
        self.latest_ai: dict[int, list[str]] = {}
        self.turns_ended: dict[int, float] = {}  # turn id -> when this bot saw it end
        self.errors: list[BotError] = []
        self.done = False
        self._closing = False
        self._changed = asyncio.Event()
        self._receiver: asyncio.Task | None = None
        self._started = False
        self._chosen: set[int] = set()
        self._drawn: set[int] = set()
        self._guessed_turns: set[int] = set()

    # --- connection ---------------------------------------------------------------------

    async def connect(self, timeout: float = 15.0) -> None:
        """Open the socket and join; returns once the welcome arrived."""
        self.ws = await connect(self.ws_url, origin=Origin(self.origin), proxy=None, open_timeout=timeout,
                                max_size=16 * 2**20)
        self._receiver = asyncio.ensure_future(self._receive_loop())
        await self.send({"type": "join", "name": self.name})
        welcome = await self.wait_for(lambda: self.player_id is not None, timeout)
        if not welcome:
            raise TimeoutError(f"{self.name}: no welcome within {timeout} s")

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._receiver is not None:
            await asyncio.gather(self._receiver, return_exceptions=True)

    async def send(self, message: dict) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def _receive_loop(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self._on_message(json.loads(raw))
        except ConnectionClosed as exc:
            if not (self.done or self._closing):
                self.error(f"connection closed unexpectedly ({exc})")
        except Exception as exc:  # a bad frame must not end the bot silently
            self.error(f"receive loop failed: {exc!r}")
        else:
            if not (self.done or self._closing):
                self.error("the server closed the connection before the game ended")
        finally:
            self._changed.set()

    def _on_message(self, message: dict) -> None:
        self.messages.append(message)
        kind = message.get("type")
        if kind == "welcome":
            self.player_id = message["player_id"]
            self._on_state(message["state"])
        elif kind == "state":
            self._on_state(message["state"])
        elif kind == "ai":
            self.ai_updates += 1
            self.ai_by_turn[message["turn_id"]] += 1
            self.latest_ai[message["turn_id"]] = [g["label"] for g in message["guesses"]]
        elif kind == "error":
            self.errors.append(BotError(self.name, f"error {message.get('code')}: {message.get('message')}",
                                        code=message.get("code", "")))
        self._changed.set()

    def _on_state(self, state: dict) -> None:
        old = self.state
        if old is not None and state["version"] < old["version"]:
            return  # an older snapshot overtaken by a newer one
        if old and old["phase"] == "drawing" and (state["phase"] != "drawing" or state["turn_id"] != old["turn_id"]):
            self.turns_ended.setdefault(old["turn_id"], time.monotonic())
        self.state = state
        if state["phase"] == "game_over":
            self.done = True

    def error(self, what: str) -> None:
        self.errors.append(BotError(self.name, what))
        log.warning("%s: %s", self.name, what)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds (checked after every message); False on timeout."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            remaining = end - loop.time()
            if remaining <= 0 or (self._receiver is not None and self._receiver.done()):
                return predicate()
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    # --- what the state says ------------------------------------------------------------

    @property
    def phase(self) -> str:
        return self.state["phase"] if self.state else ""

    @property
    def turn_id(self) -> int | None:
        return self.state["turn_id"] if self.state else None

    def is_drawer(self) -> bool:
        return bool(self.state) and self.state["drawer_id"] == self.player_id

    def me(self) -> dict:
        assert self.state is not None
        return next((p for p in self.state["players"] if p["id"] == self.player_id), {})

    def connected_humans(self) -> int:
        assert self.state is not None
        return sum(1 for p in self.state["players"] if p["connected"] and not p["is_ai"])

    def still_drawing(self, turn_id: int) -> bool:
        return self.phase == "drawing" and self.turn_id == turn_id and self.is_drawer() and not self.done

    def still_guessing(self, turn_id: int) -> bool:
        return (self.phase == "drawing" and self.turn_id == turn_id and not self.is_drawer()
                and not self.me().get("guessed") and not self.done)

    # --- playing --------------------------------------------------------------------------

    async def play(self) -> None:
        """React to each new state until the game is over (or the socket is gone)."""
        while not self.done and not (self._receiver is not None and self._receiver.done()):
            await self._act()
            await self._next_change(0.25)

    async def _next_change(self, timeout: float) -> None:
        """Return at the next message (or one that came meanwhile), at the latest after `timeout`."""
        if not self._changed.is_set():
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                return
        self._changed.clear()

    async def _act(self) -> None:
        turn = self.turn_id
        if self.phase == "lobby" and self.me().get("is_host"):
            await self._host_start()
        elif self.phase == "choosing" and self.is_drawer() and turn not in self._chosen:
            self._chosen.add(turn)
            await self.send({"type": "choose_word", "word": self.state["choices"][0]})
        elif self.phase == "drawing" and self.is_drawer() and turn not in self._drawn:
            self._drawn.add(turn)
            await self._draw(turn, self.state["word"])
        elif self.phase == "drawing" and not self.is_drawer() and turn not in self._guessed_turns:
            self._guessed_turns.add(turn)
            await self._guess(turn)

    async def _host_start(self) -> None:
        """The host waits for everyone, sets the game up and starts it (once)."""
        if self._started or self.connected_humans() < self.expect_players:
            return
        self._started = True
        log.info("%s: %d players here, starting %s", self.name, self.connected_humans(), self.game_settings)
        await self.send({"type": "settings", **self.game_settings})
        await self.send({"type": "start"})

    async def _draw(self, turn_id: int, word: str) -> None:
        """Replay a real drawing of `word`: points every 50 ms, a stroke message at each stroke end."""
        strokes = [densify(s) for s in to_canvas_strokes(self.drawings.pick(word, self.rng)) if s]
        log.info("%s draws %r in %d strokes", self.name, word, len(strokes))
        began = time.monotonic()
        for index, stroke in enumerate(strokes):
            done: list[list[float]] = []
            for batch in batches(stroke, BATCHES_PER_STROKE):
                if not self.still_drawing(turn_id):
                    return
                t = int((time.monotonic() - began) * 1000)
                points = [[x, y, t + int(BATCH_SECONDS * 1000 * i / len(batch))] for i, (x, y) in enumerate(batch)]
                done.extend(points)
                await self.send({"type": "points", "stroke": index, "points": points, "width": BRUSH_WIDTH})
                await asyncio.sleep(BATCH_SECONDS)
            if not self.still_drawing(turn_id):
                return
            await self.send({"type": "stroke", "stroke": index, "points": done, "width": BRUSH_WIDTH})
            await asyncio.sleep(PEN_UP_SECONDS)

    async def _guess(self, turn_id: int) -> None:
        """One wild guess first, then the AI's top labels in order, one a second; never a text twice."""
        began = time.monotonic()
        said: set[str] = set()
        await asyncio.sleep(self.rng.uniform(0, 0.5))  # people do not all type at once
        while self.still_guessing(turn_id):
            elapsed = time.monotonic() - began
            seen = self.ai_by_turn[turn_id]
            text: str | None = None
            if not said and (seen >= 1 or elapsed >= FIRST_GUESS_AFTER_SECONDS):
                text = self.rng.choice(WILD_GUESSES)
            elif said and (seen >= INFORMED_AFTER_AI_UPDATES or elapsed >= INFORMED_AFTER_SECONDS):
                text = next((label for label in self.latest_ai.get(turn_id, []) if label not in said), None)
            if text is None:
                await self.wait_for(lambda: not self.still_guessing(turn_id), 0.25)
                continue
            said.add(text)
            await self.send({"type": "guess", "text": text})
            await self.wait_for(lambda: not self.still_guessing(turn_id), GUESS_INTERVAL_SECONDS)

    # --- results ----------------------------------------------------------------------------

    def unexpected_errors(self) -> list[BotError]:
        """Every error, except the turn-change races the protocol allows (see RACE_CODES)."""
        ends = list(self.turns_ended.values())
        return [e for e in self.errors
                if not (e.code in RACE_CODES and any(abs(e.at - t) <= RACE_WINDOW_SECONDS for t in ends))]


# --- a whole game ---------------------------------------------------------------------


@dataclass
class GameResult:
    room: str
    turns_played: int
    ai_guesses_received: dict[str, int]
    scores: dict[str, int]
    errors: list[str]
    seconds: float

    def problems(self) -> list[str]:
        """Why this run does not count as a whole, healthy game (empty when it does)."""
        found = list(self.errors)
        if self.turns_played == 0:
            found.append("no turns were played")
        found += [f"{name} received no AI guesses" for name, n in self.ai_guesses_received.items() if n == 0]
        return found

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=False)


def ws_url_for(base_url: str, code: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/ws/room/{code}/"


def origin_for(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def create_room_over_http(base_url: str, timeout: float = 15.0) -> str:
    """Create a room as a browser does (CSRF cookie, token field, header, Referer); returns its code."""
    home = base_url.rstrip("/") + "/"
    with requests.Session() as http:
        http.trust_env = urlsplit(base_url).hostname not in ("127.0.0.1", "localhost", "::1")
        http.get(home, timeout=timeout).raise_for_status()
        token = http.cookies.get("csrftoken")
        if not token:
            raise RuntimeError(f"GET {home} set no csrftoken cookie")
        response = http.post(urljoin(home, "rooms/new"), data={"csrfmiddlewaretoken": token},
                             headers={"X-CSRFToken": token, "Referer": home}, allow_redirects=False, timeout=timeout)
    location = response.headers.get("Location", "")
    if response.status_code == 429:
        raise RuntimeError("the server refused more rooms from this address (429): start it with a higher "
                           "ROOMS_PER_ADDRESS for load tests")
    if response.status_code not in (301, 302, 303) or "/r/" not in location:
        raise RuntimeError(f"POST /rooms/new answered {response.status_code} {location!r}: {response.text[:200]}")
    return location.rstrip("/").rsplit("/", 1)[-1]


def make_bots(base_url: str, code: str, players: int, *, rounds: int = 1, drawings: DrawingLibrary | None = None,
              names: Iterable[str] | None = None, seed: int | None = None) -> list[Bot]:
    drawings = drawings or DrawingLibrary(settings.QUICKDRAW_SAMPLE_DIR)
    names = list(names or (f"Bot{i + 1}" for i in range(players)))
    return [Bot(ws_url_for(base_url, code), name, origin=origin_for(base_url), drawings=drawings,
                expect_players=players, rounds=rounds, seed=None if seed is None else seed + i)
            for i, name in enumerate(names)]


def _turns_played(bots: list[Bot]) -> int:
    """Turns that reached their reveal, as any bot saw them."""
    ended: set[int] = set()
    for bot in bots:
        for m in bot.messages:
            state = m.get("state") if m.get("type") in ("state", "welcome") else None
            if state and state["phase"] == "turn_end" and state["reveal"] and state["turn_id"] is not None:
                ended.add(state["turn_id"])
    return len(ended)


def summarize(code: str, bots: list[Bot], seconds: float, extra_errors: Iterable[str] = ()) -> GameResult:
    errors = [*extra_errors, *(str(e) for bot in bots for e in bot.unexpected_errors())]
    errors += [f"{bot.name}: never saw game_over (last phase {bot.phase or 'none'})" for bot in bots if not bot.done]
    final = next((b.state for b in bots if b.done and b.state), None) or next((b.state for b in bots if b.state), None)
    scores = {p["name"]: p["score"] for p in final["players"]} if final else {}
    return GameResult(room=code, turns_played=_turns_played(bots),
                      ai_guesses_received={b.name: b.ai_updates for b in bots}, scores=scores, errors=errors,
                      seconds=round(seconds, 1))


async def run_game(base_url: str, code: str, *, players: int = 3, rounds: int = 1, timeout: float = 120.0,
                   drawings: DrawingLibrary | None = None, seed: int | None = None) -> GameResult:
    """Seat `players` bots in room `code` (the first becomes host) and play to game over."""
    began = time.monotonic()
    bots = make_bots(base_url, code, players, rounds=rounds, drawings=drawings, seed=seed)
    extra: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            await bots[0].connect()  # first to join is the host
            await asyncio.gather(*(b.connect() for b in bots[1:]))
            await asyncio.gather(*(b.play() for b in bots))
    except TimeoutError:
        extra.append(f"timeout: the game did not finish within {timeout:g} s")
    except (OSError, WebSocketException) as exc:
        extra.append(f"connection failed: {exc!r}")
    finally:
        await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
    return summarize(code, bots, time.monotonic() - began, extra)
