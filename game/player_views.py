"""What one player may see of a room: the state, masked per viewer.

The word is a secret in a classic turn until the viewer guesses it or the turn ends; every
function here that hands out text about the current turn goes through `GameState.knows_word`.
Pure functions of the state (game.state), like the machine that makes it.

(Named player_views because game.views holds the HTTP pages.)
"""

from __future__ import annotations

from dataclasses import dataclass

from game import rules
from game.domain_events import Audience, AudienceKind
from game.rules import AIMode, Mode, Phase
from game.state import GameState, PlayerState, Settings

AIGuesses = list[tuple[str, float]]


@dataclass(frozen=True)
class SeatView:
    id: int
    name: str
    score: int
    connected: bool
    is_ai: bool
    is_host: bool
    is_drawer: bool
    guessed: bool  # named this turn's word (the AI too)
    kick_votes: int  # votes that count to remove this player (one per address)
    kick_votes_needed: int  # votes that would remove this player now
    is_you: bool


@dataclass(frozen=True)
class RacerView:
    """One racer's canvas in a race round, as everyone sees it."""

    player_id: int
    name: str
    ai_top: tuple[str, float] | None  # the AI's current top-1 for this canvas
    place: int | None  # 1 = recognised first; None = not recognised yet


@dataclass(frozen=True)
class CanvasReveal:
    owner_id: int
    name: str
    ai: tuple[tuple[str, float], ...]  # the AI's final top-3
    recognised_ms: int | None


@dataclass(frozen=True)
class RevealView:
    """The end of a turn, for everyone."""

    word: str
    drawer_name: str
    guessed: tuple[str, ...]  # names, in the order they guessed (the AI included)
    ai_got_it_ms: int | None
    reason: str
    reason_text: str
    canvases: tuple[CanvasReveal, ...]


@dataclass(frozen=True)
class PlayerView:
    """Everything one player's screen needs, except the canvases' points and the gallery."""

    viewer_id: int | None
    mode: Mode
    settings: Settings
    ai_mode: AIMode
    max_players: int  # seats for humans in this room (solo: 1)
    phase: Phase
    version: int
    game_no: int
    round_no: int  # classic, race: the round; solo: the word's number
    rounds: int  # classic: rounds; solo, race: words in the game
    players: tuple[SeatView, ...]
    kick_votes_needed: int  # to remove a player with an address of their own
    host_id: int | None
    drawer_id: int | None
    turn_no: int | None
    word_mask: str | None
    word: str | None  # only for those who know it (see GameState.knows_word)
    choices: tuple[str, ...] | None  # only for the drawer, while choosing
    deadline: int | None
    phase_seconds: int | None
    ai: tuple[tuple[str, float], ...] | None  # the AI's top-3 for the canvas this viewer watches; None: hidden
    ai_threshold: float
    reveal: RevealView | None  # at the end of a turn
    racers: tuple[RacerView, ...]  # race rounds only
    rule_lines: tuple[str, ...]


def view_for(state: GameState, viewer_id: int | None) -> PlayerView:
    turn, phase = state.turn, state.phase
    in_turn = turn is not None and phase in rules.IN_GAME_PHASES
    drawer_id = turn.drawer_id if in_turn else None
    knows = state.knows_word(viewer_id)
    watched = _watched_canvas(state, viewer_id)
    canvas = state.canvas(watched)
    guessed = {g.player_id for g in turn.guesses} if turn else set()
    return PlayerView(
        viewer_id=viewer_id,
        mode=state.mode,
        settings=state.settings,
        ai_mode=state.settings.ai_mode,
        max_players=rules.seat_capacity(state.mode, state.settings.max_players),
        phase=phase,
        version=state.version,
        game_no=state.game_no,
        round_no=state.round_no,
        rounds=rules.words_for_game(state.mode, state.settings.rounds, state.settings.solo_words),
        players=tuple(_seat_view(state, p, viewer_id, drawer_id, guessed) for p in state.players),
        kick_votes_needed=rules.votes_needed(max(0, len({p.address for p in state.connected_humans}) - 1)),
        host_id=state.host_id,
        drawer_id=drawer_id,
        turn_no=turn.turn_no if turn else None,
        word_mask=rules.word_mask(turn.word, turn.revealed) if turn and turn.word else None,
        word=turn.word if knows else None,
        choices=turn.choices if turn and phase == Phase.CHOOSING and viewer_id == drawer_id else None,
        deadline=state.deadline,
        phase_seconds=rules.phase_seconds(state.mode, phase, state.settings.draw_seconds),
        ai=_as_tuple(ai_guesses_for(state, watched, viewer_id)) if phase in (Phase.DRAWING, Phase.TURN_END) else (),
        ai_threshold=rules.ai_threshold(canvas.ai_n_labels if canvas else None),
        reveal=_reveal(state) if phase == Phase.TURN_END else None,
        racers=_racers(state) if state.mode == Mode.RACE else (),
        rule_lines=rules.rule_lines(state.mode, state.settings.ai_mode),
    )


def _seat_view(
    state: GameState, p: PlayerState, viewer_id: int | None, drawer_id: int | None, guessed: set[int]
) -> SeatView:
    votes, needed = (0, 0) if p.is_ai else state.kick_tally(p.id)
    return SeatView(
        id=p.id,
        name=p.name,
        score=p.score,
        connected=p.connected,
        is_ai=p.is_ai,
        is_host=p.id == state.host_id,
        is_drawer=drawer_id is not None and p.id == drawer_id,
        guessed=p.id in guessed,
        kick_votes=votes,
        kick_votes_needed=needed,
        is_you=p.id == viewer_id,
    )


def _as_tuple(guesses: AIGuesses | None) -> tuple[tuple[str, float], ...] | None:
    return None if guesses is None else tuple(guesses)


def _watched_canvas(state: GameState, viewer_id: int | None) -> int | None:
    """The canvas whose AI panel a viewer sees: the drawer's, or in a race their own."""
    turn = state.turn
    if turn is None:
        return None
    if state.mode == Mode.RACE:
        return viewer_id if state.canvas(viewer_id) is not None else None
    return turn.drawer_id


def ai_guesses_for(
    state: GameState,
    canvas_owner: int | None,
    viewer_id: int | None,
    guesses: tuple[tuple[str, float], ...] | None = None,
) -> AIGuesses | None:
    """The AI's top-3 for a canvas as `viewer_id` may see it ([] none, None the panel is hidden).

    `guesses` defaults to the canvas's latest. Whoever knows the word sees them plain; in a
    classic room others see, with ai_mode "shown", the word masked wherever it appears ("▮▮▮",
    "hot ▮▮▮") and other labels (near-synonyms) plain, and with "hidden" nothing.
    """
    canvas = state.canvas(canvas_owner)
    if canvas is None or not rules.has_ai_player(state.mode, state.settings.ai_mode) and state.mode == Mode.CLASSIC:
        return []
    shown = canvas.ai_latest if guesses is None else guesses
    word = state.turn.word
    if not word or state.knows_word(viewer_id):
        return [(label, p) for label, p in shown]
    if state.settings.ai_mode == AIMode.HIDDEN:
        return None
    return [(rules.mask_word_in(label, word), p) for label, p in shown]


def chat_visible_to(audience: Audience, viewer_id: int | None, state: GameState) -> bool:
    """Whether a chat line for `audience` may be shown to `viewer_id`, the room being `state`.

    Lines among those who know a turn's word become everyone's once that turn is over (the
    word was revealed to all at its end), so chat history can be filtered with today's state.
    """
    if audience.kind == AudienceKind.EVERYONE:
        return True
    if audience.kind == AudienceKind.PLAYER:
        return viewer_id is not None and viewer_id == audience.player_id
    turn = state.turn
    if turn is None or turn.turn_no != audience.turn_no or state.phase == Phase.TURN_END:
        return True
    knows = state.knows_word(viewer_id)
    return knows if audience.kind == AudienceKind.KNOWERS else not knows


def _reveal(state: GameState) -> RevealView | None:
    turn = state.turn
    if turn is None:
        return None
    names = {p.id: p.name for p in state.players}
    return RevealView(
        word=turn.word,
        drawer_name=turn.drawer_name,
        guessed=tuple(g.name for g in turn.guesses),
        ai_got_it_ms=turn.ai_got_it_ms,
        reason=turn.end_reason or "",
        reason_text=rules.END_REASONS.get(turn.end_reason or "", ""),
        canvases=tuple(
            CanvasReveal(
                owner_id=c.owner_id,
                name=names.get(c.owner_id, turn.drawer_name),
                ai=c.ai_latest,
                recognised_ms=c.recognised_ms,
            )
            for c in turn.canvases
        ),
    )


def _racers(state: GameState) -> tuple[RacerView, ...]:
    turn = state.turn
    if turn is None:
        return ()
    names = {p.id: p.name for p in state.players}
    places = {owner: i + 1 for i, owner in enumerate(turn.race_order)}
    return tuple(
        RacerView(
            player_id=c.owner_id,
            name=names.get(c.owner_id, ""),
            ai_top=c.ai_latest[0] if c.ai_latest else None,
            place=places.get(c.owner_id),
        )
        for c in turn.canvases
    )
