"""The machine's events as frames, to the players who may see them, once the action's transaction commits.

Zulip's rule: write, then send. Every frame is a model of game.protocol; who
gets it follows game.player_views (the word stays with those who know it):

* a new view version: `room.changed`, and each socket sends its own player's view;
* a chat line: to the room, to one player, or to each player its audience lets see it;
* the AI's top-3: one room event carrying the plain and the masked texts, of which each socket
  forwards the one its player may read (see GameConsumer.room_event);
* a kicked or voted-out player's sockets are closed.
"""

from __future__ import annotations

from collections.abc import Iterable

from game import domain_events as ev
from game import events, protocol
from game.player_views import ai_guesses_for, chat_visible_to
from game.rules import Mode, has_ai_player
from game.state import GameState


def on_commit(*, code: str, state: GameState, events_: Iterable[ev.Event], ai_shown: bool = False) -> None:
    """Publish what happened in room `code` (its state now `state`) once the transaction commits.

    `ai_shown`: the AI's answer went out already, ahead of the database (game.ai)."""
    for event in events_:
        if isinstance(event, ev.ViewsChanged):
            events.room_changed(code, version=event.version)
        elif isinstance(event, ev.ChatLine):
            _chat(code, state, event)
        elif isinstance(event, ev.AIGuessesUpdated) and not ai_shown:
            message = ai_message(state, event)
            events.after_commit(lambda message=message: events.send_room_message(code, message))
        elif isinstance(event, ev.PlayerRemoved) and event.reason in ("kicked", "voted_out"):
            events.kick(event.player_id)


def chat_frame(line: ev.ChatLine) -> protocol.Chat:
    return protocol.Chat(kind=line.kind, text=line.text, player_id=line.player_id, name=line.name)


def _chat(code: str, state: GameState, line: ev.ChatLine) -> None:
    frame = chat_frame(line)
    audience = line.audience
    if audience.kind == ev.AudienceKind.EVERYONE:
        events.to_room(code, frame)
    elif audience.kind == ev.AudienceKind.PLAYER:
        events.to_player(audience.player_id, frame)
    else:
        for player in state.humans:
            if chat_visible_to(audience, player.id, state):
                events.to_player(player.id, frame)


def ai_frame(event: ev.AIGuessesUpdated, guesses) -> protocol.AIOut:
    return protocol.AIOut(
        turn_id=event.turn_no,
        owner=event.owner,
        version=event.version,
        confident=event.confident,
        guesses=[protocol.AIGuess(label=label, p=p) for label, p in guesses],
    )


def ai_visible(state: GameState, event: ev.AIGuessesUpdated) -> bool:
    """Whether the AI's answers are shown in this room at all (a classic room may play without the AI)."""
    return state.mode != Mode.CLASSIC or has_ai_player(state.mode, state.settings.ai_mode)


async def send_ai_now(code: str, message: dict) -> None:
    """The AI's top-3 to the room from the event loop, ahead of the database (game.ai)."""
    await events.send_room_message_now(code, message)


def ai_message(state: GameState, event: ev.AIGuessesUpdated) -> dict:
    """The room event carrying the AI's top-3: one text for all, or the plain one for who knows the word
    and the masked one (or none, the AI hidden) for the others."""
    turn = state.turn
    knower = turn.drawer_id if turn is not None and turn.drawer_id is not None else event.owner
    plain = ai_guesses_for(state, event.owner, knower, event.guesses)
    seen = ai_guesses_for(state, event.owner, None, event.guesses)  # by someone who does not know the word
    if seen == plain:  # solo, race, a revealed word, or nothing to mask: one text for all
        return events.room_event(ai_frame(event, plain))
    return events.room_event_by_knowledge(
        turn_no=event.turn_no, knowers=ai_frame(event, plain), others=None if seen is None else ai_frame(event, seen)
    )
