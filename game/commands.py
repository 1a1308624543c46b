"""What can happen to a room: one frozen dataclass per command given to game.machine.apply.

Player ids are the integration's (humans from 1; rules.AI_PLAYER_ID is the AI's). Commands carry
no time: `apply(state, command, now)` is given the time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Join:
    """A new seat. `address` is opaque (a hash of the IP): per-address limits and bans compare it."""

    player_id: int
    name: str
    address: str


@dataclass(frozen=True)
class Connect:
    """The seat's socket (re)opened. Join seats a player connected already; this is for coming back."""

    player_id: int


@dataclass(frozen=True)
class Disconnect:
    player_id: int


@dataclass(frozen=True)
class Leave:
    player_id: int


@dataclass(frozen=True)
class Kick:
    player_id: int  # the host
    target_id: int


@dataclass(frozen=True)
class VoteKick:
    player_id: int
    target_id: int


@dataclass(frozen=True)
class UpdateSettings:
    """The host's changes; None leaves a setting as it is."""

    player_id: int
    rounds: int | None = None
    draw_seconds: int | None = None
    word_choices: int | None = None
    max_players: int | None = None
    is_public: bool | None = None
    ai_mode: str | None = None
    solo_words: int | None = None


@dataclass(frozen=True)
class Start:
    player_id: int


@dataclass(frozen=True)
class PlayAgain:
    player_id: int


@dataclass(frozen=True)
class ChooseWord:
    player_id: int
    word: str


@dataclass(frozen=True)
class Guess:
    """A line typed in the chat: a guess while a word is being drawn, chat otherwise."""

    player_id: int
    text: str


@dataclass(frozen=True)
class Stroke:
    """A finished stroke on the player's canvas (its points travel beside the state)."""

    player_id: int


@dataclass(frozen=True)
class Undo:
    player_id: int


@dataclass(frozen=True)
class Clear:
    player_id: int


@dataclass(frozen=True)
class AIAnswer:
    """The AI's newest top-3 for one canvas of turn `turn_no`, at drawing version `version`.

    Answers for another turn, or older than the one held, are ignored (they cross in flight).
    `n_labels` is the model's number of categories (see rules.ai_threshold).
    """

    canvas_owner: int
    turn_no: int
    version: int
    guesses: tuple[tuple[str, float], ...]
    n_labels: int | None = None


@dataclass(frozen=True)
class Tick:
    """Time passed: whatever was due by `now` happens (see machine.next_wakeup)."""


@dataclass(frozen=True)
class SetVocabulary:
    """The words new turns may use from now on; turns already running keep their word."""

    words: tuple[str, ...]


Command = (
    Join
    | Connect
    | Disconnect
    | Leave
    | Kick
    | VoteKick
    | UpdateSettings
    | Start
    | PlayAgain
    | ChooseWord
    | Guess
    | Stroke
    | Undo
    | Clear
    | AIAnswer
    | Tick
    | SetVocabulary
)
