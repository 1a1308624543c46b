"""A room's whole game state as frozen dataclasses, and its JSON form.

The state is a value: game.machine.apply returns a new one and never changes the old. It holds
JSON-safe types only (ints, strings, bools, floats, None, tuples of those and of the dataclasses
here); times are epoch milliseconds, as the machine's `now` is. Collections keyed by player are
tuples of small records in a stable order, so two equal states compare equal and serialise the same.

What is not here: the drawings' points (they travel as events and are stored beside the state),
sockets, and anything per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from game.rules import (
    AI_PLAYER_ID,
    MAX_SEATS_PER_ADDRESS,
    SETTING_DEFAULTS,
    AIMode,
    Mode,
    Phase,
    votes_needed,
)


@dataclass(frozen=True)
class Settings:
    """The host's choices (ranges and defaults: rules.SETTING_RANGES, rules.setting_defaults)."""

    rounds: int = SETTING_DEFAULTS["rounds"]
    draw_seconds: int = SETTING_DEFAULTS["draw_seconds"]
    word_choices: int = SETTING_DEFAULTS["word_choices"]
    max_players: int = SETTING_DEFAULTS["max_players"]
    is_public: bool = SETTING_DEFAULTS["is_public"]
    ai_mode: AIMode = AIMode(SETTING_DEFAULTS["ai_mode"])
    solo_words: int = SETTING_DEFAULTS["solo_words"]


@dataclass(frozen=True)
class Limits:
    """Per-room limits the integration sets from Django settings when it creates the room."""

    max_seats_per_address: int = MAX_SEATS_PER_ADDRESS


@dataclass(frozen=True)
class PlayerState:
    """One seat, in join order. The AI's seat has id rules.AI_PLAYER_ID and is always connected."""

    id: int
    name: str
    score: int = 0
    is_ai: bool = False
    connected: bool = True
    disconnected_at: int | None = None
    address: str = ""  # opaque (a hash of the IP, say): per-address rules compare it, nothing shows it
    joined_at: int = 0


@dataclass(frozen=True)
class KickVote:
    """Votes to remove one player: the voters' seats (each address counts once, see machine)."""

    target_id: int
    voter_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Ban:
    """An address that may not take a new seat before `until` (a kicked or voted-out player's)."""

    address: str
    until: int


@dataclass(frozen=True)
class CanvasState:
    """One canvas of the current turn: what the AI last said of it (its strokes are the stored drawing's).

    `ai_latest` is the AI's top-3 as ((label, p), ...) for drawing version `ai_version`;
    `recognised_ms` is when (ms into the turn) the AI confidently named the word on it.
    """

    owner_id: int
    ai_version: int = 0
    ai_latest: tuple[tuple[str, float], ...] = ()
    ai_n_labels: int | None = None
    recognised_ms: int | None = None


@dataclass(frozen=True)
class GuessRecord:
    """A correct guess (the AI's too, with player_id AI_PLAYER_ID), in the order they came."""

    player_id: int
    name: str
    ms: int  # into the drawing
    points: int
    order: int  # 1 = first to guess, the AI counted among the guessers
    before_ai: bool  # the AI had not named the word yet


@dataclass(frozen=True)
class TurnState:
    """One word being chosen, drawn, or just revealed.

    Classic and solo have one canvas, the drawer's; a race has one per racer and no drawer.
    `turn_no` counts every turn the room ever started, so it names a turn uniquely in the room.
    """

    turn_no: int
    round_no: int
    drawer_id: int | None
    drawer_name: str = ""
    choices: tuple[str, ...] = ()
    word: str = ""  # "" while the drawer is choosing
    started_at: int | None = None  # when the drawing began
    revealed: tuple[int, ...] = ()  # hint positions in the word
    guesses: tuple[GuessRecord, ...] = ()
    canvases: tuple[CanvasState, ...] = ()
    ai_got_it_ms: int | None = None  # classic: when the AI named the word
    race_order: tuple[int, ...] = ()  # racers in the order the AI recognised their drawings
    ended_at: int | None = None
    end_reason: str | None = None  # a key of rules.END_REASONS


@dataclass(frozen=True)
class GameState:
    mode: Mode
    seed: str
    settings: Settings = field(default_factory=Settings)
    limits: Limits = field(default_factory=Limits)
    vocabulary: tuple[str, ...] = ()  # the words new turns may use (the live model's labels)
    version: int = 0  # bumped by every change some player's view shows (see machine.apply)
    phase: Phase = Phase.LOBBY
    players: tuple[PlayerState, ...] = ()
    host_id: int | None = None
    game_no: int = 0
    round_no: int = 0
    turns_started: int = 0
    round_order: tuple[int, ...] = ()  # classic: this round's drawing order
    drawn_this_round: tuple[int, ...] = ()
    used_words: tuple[str, ...] = ()  # drawn in this game: not offered again while others are left
    kick_votes: tuple[KickVote, ...] = ()
    bans: tuple[Ban, ...] = ()
    turn: TurnState | None = None  # None in the lobby and after the game
    deadline: int | None = None  # when the current phase ends by itself
    hint_at: int | None = None  # when the next letter is revealed
    created_at: int = 0

    # --- lookups (reads only; every change goes through game.machine) ---

    def player(self, player_id: int | None) -> PlayerState | None:
        return next((p for p in self.players if p.id == player_id), None)

    @property
    def humans(self) -> tuple[PlayerState, ...]:
        return tuple(p for p in self.players if not p.is_ai)

    @property
    def connected_humans(self) -> tuple[PlayerState, ...]:
        return tuple(p for p in self.players if not p.is_ai and p.connected)

    @property
    def ai_player(self) -> PlayerState | None:
        return self.player(AI_PLAYER_ID)

    def canvas(self, owner_id: int | None) -> CanvasState | None:
        if self.turn is None:
            return None
        return next((c for c in self.turn.canvases if c.owner_id == owner_id), None)

    def votes_against(self, target_id: int) -> tuple[int, ...]:
        return next((v.voter_ids for v in self.kick_votes if v.target_id == target_id), ())

    def kick_tally(self, target_id: int) -> tuple[int, int]:
        """(votes that count, votes needed) to remove a player.

        One vote per address: the voters and the electorate are the distinct addresses of the
        connected humans, the target's own address left out (two seats of one household or
        one cheater's tabs make one voice).
        """
        target = self.player(target_id)
        if target is None:
            return 0, 0
        electorate = {p.address for p in self.connected_humans if p.address != target.address}
        voters = (self.player(v) for v in self.votes_against(target_id))
        counted = {v.address for v in voters if v is not None and v.connected and v.address in electorate}
        return len(counted), votes_needed(len(electorate))

    def knows_word(self, player_id: int | None) -> bool:
        """Whether `player_id` may read the current turn's word (False while there is none).

        Everyone knows it at the turn's end and in solo and race; in a classic turn only the
        drawer and those who guessed it do.
        """
        turn = self.turn
        if turn is None or not turn.word:
            return False
        if self.phase == Phase.TURN_END or self.mode != Mode.CLASSIC or player_id == turn.drawer_id:
            return True
        return any(g.player_id == player_id for g in turn.guesses)


_adapter: TypeAdapter[GameState] = TypeAdapter(GameState)


def to_json(state: GameState) -> dict[str, Any]:
    """The state as plain JSON types (lists for tuples, strings for the enums)."""
    return _adapter.dump_python(state, mode="json")


def as_json_text(state: GameState) -> str:
    """`to_json` as compact JSON text, in one step (pydantic's encoder: a state is saved on every move)."""
    return _adapter.dump_json(state).decode()


def from_json(data: dict[str, Any]) -> GameState:
    """The state `to_json` gave; the types are checked, so a damaged document fails loudly here."""
    return _adapter.validate_python(data)
