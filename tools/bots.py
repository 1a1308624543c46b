"""Bot players: real WebSocket clients that play a whole game the way people do, in any mode.

They test the running server end to end (``manage.py simulate_game``, the
multi-process tests, the admin's browser test). So they speak only the public
protocol over real sockets, each from a loopback address of its own when the
server is on this machine, draw real Quick, Draw! doodles at human pace, and
guess from what a person can see: the drawing (tools/eye.py) and the blanks of
the word. A bot knows only what the server tells it.

* classic: the drawer draws one doodle of the word it chose, the others guess;
* solo: one bot draws each word for the AI, a fresh doodle whenever the last one
  was not recognised, until the AI names it or time is up;
* race: every bot draws the round's word on its own canvas the same way; the AI
  judges who is recognised first (``GameResult.race_winners``).

Usage::

    code = create_room_over_http("http://127.0.0.1:8000", mode="race")
    result = asyncio.run(run_game("http://127.0.0.1:8000", code, players=3, rounds=1, mode="race"))
    print(result.to_json())
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.conf import settings
from websockets.exceptions import WebSocketException

from game.rules import Mode
from tools.addresses import LoopbackAddresses
from tools.client import Closed, JoinRefused, ProtocolClient, WebSocketTransport
from tools.doodles import DrawingLibrary, replay
from tools.eye import fits, sees
from tools.server import is_loopback, origin_for, ws_url_for

log = logging.getLogger(__name__)

# Guessers play like people do: a first wild guess, then what the drawing looks like that fits the blanks.
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
# Solo and race: after a doodle the AI did not name, how long a bot looks at the AI's answer to its last
# stroke before clearing and drawing the word again.
RETRY_AFTER_SECONDS = 1.5


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

    Its client listens all the time and keeps the newest state; the play loop
    only looks at that state, so the bot behaves like a browser that re-renders
    on every snapshot. No reconnects: a closed socket before ``game_over`` is an error.
    """

    def __init__(
        self,
        ws_url: str,
        name: str,
        *,
        origin: str,
        drawings: DrawingLibrary,
        expect_players: int = 2,
        rounds: int = 1,
        draw_seconds: int = 30,
        word_choices: int = 3,
        seed: int | None = None,
        local_address: str | None = None,
        mode: str = Mode.CLASSIC,
    ):
        self.name = name
        self.drawings = drawings
        self.expect_players = expect_players
        self.mode = Mode(mode)
        # What the host asks for: `rounds` is the number of words in solo (and of rounds in a race).
        self.game_settings = {
            Mode.CLASSIC: {"rounds": rounds, "draw_seconds": draw_seconds, "word_choices": word_choices},
            Mode.SOLO: {"solo_words": rounds},
            Mode.RACE: {"rounds": rounds, "draw_seconds": draw_seconds},
        }[self.mode]
        self.rng = random.Random(seed)
        self.client = ProtocolClient(
            WebSocketTransport(ws_url, origin=origin, local_address=local_address), name, keep_inbox=False
        )
        self.client.listeners.append(self._on_message)
        self.messages: list[dict] = []
        self.ai_updates = 0
        self.ai_by_turn: Counter[int] = Counter()
        self.latest_ai: dict[int, list[str]] = {}
        self.turns_ended: dict[int, float] = {}  # turn id -> when this bot saw it end
        self.errors: list[BotError] = []
        self.done = False
        self._last: dict | None = None
        self._started = False
        self._chosen: set[int] = set()
        self._drawn: set[int] = set()
        self._guessed_turns: set[int] = set()
        self._looked: tuple[tuple, list[str]] = ((), [])

    # --- connection ---------------------------------------------------------------------

    async def connect(self, timeout: float = 15.0) -> None:
        """Open the socket and join; returns once the welcome arrived."""
        await self.client.connect()
        self.client.listen()
        try:
            await self.client.join(timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.name}: no welcome within {timeout} s") from None

    async def close(self) -> None:
        await self.client.close()

    async def send(self, message: dict) -> None:
        await self.client.send(message)

    def _on_message(self, message: dict, arrived: float) -> None:
        self.messages.append(message)
        kind = message.get("type")
        if kind in ("welcome", "state"):
            self._on_state()
        elif kind == "ai":
            self.ai_updates += 1
            self.ai_by_turn[message["turn_id"]] += 1
            self.latest_ai[message["turn_id"]] = [g["label"] for g in message["guesses"]]
        elif kind == "error":
            self.errors.append(
                BotError(
                    self.name, f"error {message.get('code')}: {message.get('message')}", code=message.get("code", "")
                )
            )

    def _on_state(self) -> None:
        old, new = self._last, self.client.snapshot
        if new is None or new is old:
            return  # an older snapshot, overtaken by a newer one
        if old and old["phase"] == "drawing" and (new["phase"] != "drawing" or new["turn_id"] != old["turn_id"]):
            self.turns_ended.setdefault(old["turn_id"], time.monotonic())
        self._last = new
        if new["phase"] == "game_over":
            self.done = True

    def error(self, what: str) -> None:
        self.errors.append(BotError(self.name, what))
        log.warning("%s: %s", self.name, what)

    # --- what the state says ------------------------------------------------------------

    @property
    def state(self) -> dict | None:
        return self.client.snapshot

    @property
    def phase(self) -> str:
        return self.client.phase

    @property
    def turn_id(self) -> int | None:
        return self.client.turn_id

    @property
    def player_id(self) -> int | None:
        return self.client.player_id

    def is_drawer(self) -> bool:
        return self.client.is_drawer()

    def still_drawing(self, turn_id: int) -> bool:
        return self.phase == "drawing" and self.turn_id == turn_id and self.client.can_draw() and not self.done

    def recognised(self) -> bool:
        """In a race, the AI has named this bot's drawing this round (it stops drawing)."""
        state = self.state or {}
        return any(r["player_id"] == self.player_id and r["place"] is not None for r in state.get("racers", ()))

    def still_guessing(self, turn_id: int) -> bool:
        return (
            self.phase == "drawing"
            and self.turn_id == turn_id
            and not self.is_drawer()
            and not self.client.me().get("guessed")
            and not self.done
        )

    # --- playing --------------------------------------------------------------------------

    async def play(self) -> None:
        """React to each new state until the game is over (or the socket is gone)."""
        while not self.done and self.client.listening:
            seen = self.client.frames_received
            await self._act()
            await self.client.next_message(0.25, since=seen)  # at once if one came while acting
        if not self.done and self.client.failure is not None:
            self.error(f"receive loop failed: {self.client.failure!r}")

    async def _act(self) -> None:
        turn = self.turn_id
        state = self.state
        if self.phase == "lobby" and self.client.me().get("is_host"):
            await self._host_start()
        elif self.phase == "choosing" and self.is_drawer() and turn not in self._chosen:
            self._chosen.add(turn)
            await self.send({"type": "choose_word", "word": state["choices"][0]})
        elif self.phase == "drawing" and self.client.can_draw() and turn not in self._drawn:
            self._drawn.add(turn)
            await self._draw(turn, state["word"])
        elif (
            self.phase == "drawing"
            and self.mode == Mode.CLASSIC
            and not self.is_drawer()
            and turn not in self._guessed_turns
        ):
            self._guessed_turns.add(turn)
            await self._guess(turn)

    async def _host_start(self) -> None:
        """The host waits for everyone, sets the game up and starts it (once)."""
        if self._started or self.client.connected_humans() < self.expect_players:
            return
        self._started = True
        log.info("%s: %d players here, starting %s", self.name, self.client.connected_humans(), self.game_settings)
        await self.send({"type": "settings", **self.game_settings})
        await self.send({"type": "start"})

    async def _draw(self, turn_id: int, word: str) -> None:
        """Replay a real drawing of `word` until it is done or the turn is over.

        Classic: one drawing (the guessers do the rest). Solo and race: as a person would, a fresh
        drawing on a cleared canvas whenever the AI did not name the last one, until it does (solo:
        the word ends; race: this bot is placed) or time is up."""
        tries = 0
        while self._keeps_drawing(turn_id) and (tries == 0 or self.mode != Mode.CLASSIC):
            if tries:
                await self.send({"type": "clear"})
            strokes = self.drawings.strokes(word, self.rng)
            log.info("%s draws %r in %d strokes (try %d)", self.name, word, len(strokes), tries + 1)
            await replay(self.send, strokes, still_drawing=lambda: self._keeps_drawing(turn_id))
            tries += 1
            if self.mode != Mode.CLASSIC:
                await self.client.until(lambda: not self._keeps_drawing(turn_id), RETRY_AFTER_SECONDS)

    def _keeps_drawing(self, turn_id: int) -> bool:
        return self.still_drawing(turn_id) and not (self.mode == Mode.RACE and self.recognised())

    async def _guess(self, turn_id: int) -> None:
        """One wild guess first, then what the drawing looks like (likeliest first) that fits the word's blanks,
        one a second; never a text twice."""
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
                mask = self.state["word_mask"] if self.state else None
                text = next((label for label in self._looks_like() if label not in said and fits(label, mask)), None)
            if text is None:
                await self.client.until(lambda: not self.still_guessing(turn_id), 0.25)
                continue
            said.add(text)
            await self.send({"type": "guess", "text": text})
            await self.client.until(lambda: not self.still_guessing(turn_id), GUESS_INTERVAL_SECONDS)

    def _looks_like(self) -> list[str]:
        """What the drawing this bot is shown looks like to it (looked at again only when it changed)."""
        canvas = self.client.canvas
        seen = (canvas.turn_id, len(canvas.strokes), canvas.points)
        if self._looked[0] != seen:
            self._looked = (seen, sees(canvas.strokes))
        return self._looked[1]

    # --- results ----------------------------------------------------------------------------

    def unexpected_errors(self) -> list[BotError]:
        """Every error, except the turn-change races the protocol allows (see RACE_CODES)."""
        ends = list(self.turns_ended.values())
        found = [
            e
            for e in self.errors
            if not (e.code in RACE_CODES and any(abs(e.at - t) <= RACE_WINDOW_SECONDS for t in ends))
        ]
        if self.client.close_code is not None and not self.done:
            found.append(
                BotError(
                    self.name, f"the server closed the connection ({self.client.close_code}) before the game ended"
                )
            )
        return found


# --- a whole game ---------------------------------------------------------------------


@dataclass
class GameResult:
    room: str
    turns_played: int
    ai_guesses_received: dict[str, int]
    scores: dict[str, int]
    errors: list[str]
    seconds: float
    mode: str = Mode.CLASSIC.value
    # Race only: per round, the racers the AI recognised, in the order it did (first = the round's winner).
    race_winners: list[list[str]] | None = None

    def problems(self) -> list[str]:
        """Why this run does not count as a whole, healthy game (empty when it does)."""
        found = list(self.errors)
        if self.turns_played == 0:
            found.append("no turns were played")
        found += [f"{name} received no AI guesses" for name, n in self.ai_guesses_received.items() if n == 0]
        return found

    def to_json(self) -> str:
        fields = asdict(self)
        if fields["race_winners"] is None:
            del fields["race_winners"]
        return json.dumps(fields, sort_keys=False)


def make_bots(
    base_url: str | list[str],
    code: str,
    players: int,
    *,
    rounds: int = 1,
    drawings: DrawingLibrary | None = None,
    names: Iterable[str] | None = None,
    seed: int | None = None,
    addresses: LoopbackAddresses | None = None,
    mode: str = Mode.CLASSIC,
) -> list[Bot]:
    """`players` bots for room `code`; with several base URLs they are spread over them (several web processes).

    On a loopback server each bot speaks from an address of its own (`addresses`, a fresh block by default).
    """
    bases = [base_url] if isinstance(base_url, str) else list(base_url)
    drawings = drawings or DrawingLibrary(settings.QUICKDRAW_SAMPLE_DIR)
    if addresses is None and all(is_loopback(b) for b in bases):
        addresses = LoopbackAddresses()
    names = list(names or (f"Bot{i + 1}" for i in range(players)))
    return [
        Bot(
            ws_url_for(bases[i % len(bases)], code),
            name,
            origin=origin_for(bases[i % len(bases)]),
            drawings=drawings,
            expect_players=players,
            rounds=rounds,
            seed=None if seed is None else seed + i,
            local_address=addresses.take() if addresses else None,
            mode=mode,
        )
        for i, name in enumerate(names)
    ]


def _reveals(bots: list[Bot]) -> dict[int, dict]:
    """Each turn that reached its reveal, by turn id: the newest state of its end any bot saw."""
    ended: dict[int, dict] = {}
    for bot in bots:
        for m in bot.messages:
            state = m.get("state") if m.get("type") in ("state", "welcome") else None
            if state and state["phase"] == "turn_end" and state["reveal"] and state["turn_id"] is not None:
                seen = ended.get(state["turn_id"])
                if seen is None or state["version"] > seen["version"]:
                    ended[state["turn_id"]] = state
    return ended


def race_winners(ended: dict[int, dict]) -> list[list[str]]:
    """Per round (in order), the racers the AI recognised, first first."""
    return [
        [r["name"] for r in sorted((r for r in state["racers"] if r["place"] is not None), key=lambda r: r["place"])]
        for _, state in sorted(ended.items())
    ]


def summarize(code: str, bots: list[Bot], seconds: float, extra_errors: Iterable[str] = ()) -> GameResult:
    errors = [*extra_errors, *(str(e) for bot in bots for e in bot.unexpected_errors())]
    errors += [f"{bot.name}: never saw game_over (last phase {bot.phase or 'none'})" for bot in bots if not bot.done]
    final = next((b.state for b in bots if b.done and b.state), None) or next((b.state for b in bots if b.state), None)
    scores = {p["name"]: p["score"] for p in final["players"]} if final else {}
    mode = bots[0].mode if bots else Mode.CLASSIC
    ended = _reveals(bots)
    return GameResult(
        room=code,
        turns_played=len(ended),
        ai_guesses_received={b.name: b.ai_updates for b in bots},
        scores=scores,
        errors=errors,
        seconds=round(seconds, 1),
        mode=mode.value,
        race_winners=race_winners(ended) if mode == Mode.RACE else None,
    )


async def play(bots: list[Bot], timeout: float) -> None:
    """Seat the bots (the first becomes host) and play to game over, within `timeout` seconds."""
    async with asyncio.timeout(timeout):
        await bots[0].connect()  # first to join is the host
        await asyncio.gather(*(b.connect() for b in bots[1:]))
        await asyncio.gather(*(b.play() for b in bots))


async def run_game(
    base_url: str,
    code: str,
    *,
    players: int = 3,
    rounds: int = 1,
    timeout: float = 120.0,
    drawings: DrawingLibrary | None = None,
    seed: int | None = None,
    addresses: LoopbackAddresses | None = None,
    mode: str = Mode.CLASSIC,
) -> GameResult:
    """Seat `players` bots in room `code` (a room of `mode`; the first bot becomes host) and play to game over."""
    began = time.monotonic()
    bots = make_bots(
        base_url, code, players, rounds=rounds, drawings=drawings, seed=seed, addresses=addresses, mode=mode
    )
    extra: list[str] = []
    try:
        await play(bots, timeout)
    except TimeoutError:
        extra.append(f"timeout: the game did not finish within {timeout:g} s")
    except (OSError, WebSocketException, Closed, JoinRefused) as exc:
        extra.append(f"connection failed: {exc!r}")
    finally:
        await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
    return summarize(code, bots, time.monotonic() - began, extra)
