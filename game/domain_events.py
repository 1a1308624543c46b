"""What game.machine.apply reports besides the new state: one frozen dataclass per event.

The integration maps these to frames after the new state is saved. Some carry the secret word
(DrawingStarted, TurnEnded, AIGuessesUpdated, ChatLine to "knowers"): they are for the server;
what a player may see of them is decided by game.player_views (view_for, ai_guesses_for,
chat_visible_to).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from game.rules import Phase
from game.state import CanvasState, GuessRecord


class AudienceKind(StrEnum):
    EVERYONE = "everyone"
    PLAYER = "player"  # one player: Audience.player_id
    KNOWERS = "knowers"  # those who know turn Audience.turn_no's word: the drawer and who guessed it


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    player_id: int | None = None
    turn_no: int | None = None


EVERYONE = Audience(AudienceKind.EVERYONE)


def to_player(player_id: int) -> Audience:
    return Audience(AudienceKind.PLAYER, player_id=player_id)


def to_knowers(turn_no: int) -> Audience:
    return Audience(AudienceKind.KNOWERS, turn_no=turn_no)


@dataclass(frozen=True)
class ViewsChanged:
    """The state's version is now `version`: every player's view should be sent again."""

    version: int


@dataclass(frozen=True)
class ChatLine:
    """A line in the chat. kind: guess (a player's line), correct, close, system, ai."""

    kind: str
    text: str
    audience: Audience = EVERYONE
    player_id: int | None = None  # who said it (player lines and "X guessed the word!")
    name: str | None = None


@dataclass(frozen=True)
class PhaseChanged:
    """One step along rules.PHASE_TRANSITIONS (an apply may take several)."""

    old: Phase
    new: Phase


@dataclass(frozen=True)
class PlayerJoined:
    player_id: int
    name: str


@dataclass(frozen=True)
class PlayerRemoved:
    """A seat is gone. reason: left, kicked, voted_out or released (disconnected too long).

    The integration closes a kicked or voted-out player's socket.
    """

    player_id: int
    name: str
    reason: str


@dataclass(frozen=True)
class GameStarted:
    game_no: int


@dataclass(frozen=True)
class TurnStarted:
    """A new turn: the drawer now chooses (classic), or drawing begins at once (solo, race)."""

    turn_no: int
    game_no: int
    round_no: int
    drawer_id: int | None
    owners: tuple[int, ...]  # the canvases: the drawer's, or every racer's


@dataclass(frozen=True)
class DrawingStarted:
    """Drawing began on `word` (secret in classic). The integration opens the turn's stored drawings."""

    turn_no: int
    word: str
    started_at: int
    owners: tuple[int, ...]


@dataclass(frozen=True)
class AIGuessesUpdated:
    """The AI's newest top-3 for a canvas, unmasked: send each viewer ai_guesses_for(...) of it."""

    turn_no: int
    owner: int
    version: int
    guesses: tuple[tuple[str, float], ...]
    confident: bool


@dataclass(frozen=True)
class AIGotIt:
    """The AI named the word: on the drawer's canvas (classic, solo) or on a racer's (race)."""

    turn_no: int
    owner: int
    label: str
    ms: int


@dataclass(frozen=True)
class TurnSummary:
    """Everything a finished turn leaves behind: the integration stores drawings and the gallery from it."""

    turn_no: int
    game_no: int
    round_no: int
    word: str  # "" when the turn ended before a word was chosen
    drawer_id: int | None
    drawer_name: str
    guesses: tuple[GuessRecord, ...]
    canvases: tuple[CanvasState, ...]  # final stroke counts and top-3
    ai_got_it_ms: int | None
    race_order: tuple[int, ...]
    reason: str  # a key of rules.END_REASONS
    started_at: int | None
    ended_at: int


@dataclass(frozen=True)
class TurnEnded:
    summary: TurnSummary


@dataclass(frozen=True)
class GameOver:
    game_no: int
    standings: tuple[tuple[int, str, int], ...]  # (player id, name, score), best first


Event = (
    ViewsChanged
    | ChatLine
    | PhaseChanged
    | PlayerJoined
    | PlayerRemoved
    | GameStarted
    | TurnStarted
    | DrawingStarted
    | AIGuessesUpdated
    | AIGotIt
    | TurnEnded
    | GameOver
)
