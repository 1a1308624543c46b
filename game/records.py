"""What games leave behind, written from the machine's events in the action's transaction.

Turns and their drawings (labelled drawings for training, the gallery, the admin), the recent
chat (so a reload shows what that player was allowed to see), and seats that are gone. A
drawing accepts strokes (game.drawings) from its start until its turn ends or its owner leaves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from game import domain_events as ev
from game.models import ChatLine, Drawing, Player, Turn
from game.state import GameState

# Chat lines kept per room (a reload shows the last ones its player may see).
CHAT_KEPT = 80
# Older lines are deleted when a new line's id is a multiple of this: about every that many lines of a
# room, not on every guess (the reads take the newest CHAT_KEPT whatever is left over).
CHAT_PRUNE_EVERY = 16


def _when(ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC) if ms is not None else None


def keep(*, room_id: int, after: GameState, events: Iterable[ev.Event], model_version_id: int | None) -> None:
    """Store what `events` leave behind (called inside the action's transaction)."""
    chat = []
    for event in events:
        if isinstance(event, ev.ChatLine):
            chat.append(_chat_line(room_id, after, event))
        elif isinstance(event, ev.TurnStarted):
            Turn.objects.create(
                room_id=room_id,
                mode=str(after.mode),
                game_no=event.game_no,
                round_no=event.round_no,
                turn_no=event.turn_no,
                drawer_id=event.drawer_id,
                drawer_name=after.turn.drawer_name if after.turn else "",
            )
        elif isinstance(event, ev.DrawingStarted):
            _drawing_started(room_id, after, event, model_version_id)
        elif isinstance(event, ev.TurnEnded):
            _turn_ended(room_id, event.summary)
        elif isinstance(event, ev.PlayerRemoved):
            Player.objects.filter(pk=event.player_id).update(left=True)
            Drawing.objects.filter(owner_id=event.player_id, accepting=True).update(accepting=False)
    if chat:
        ChatLine.objects.bulk_create(chat)
        if any(line.pk is None or line.pk % CHAT_PRUNE_EVERY == 0 for line in chat):
            _prune_chat(room_id)


def _chat_line(room_id: int, state: GameState, line: ev.ChatLine) -> ChatLine:
    audience = line.audience
    return ChatLine(
        room_id=room_id,
        turn_no=state.turn.turn_no if state.turn else None,
        audience=str(audience.kind),
        audience_player=audience.player_id,
        audience_turn=audience.turn_no,
        kind=line.kind,
        text=line.text[:300],
        player_id=line.player_id,
        name=line.name or "",
    )


def _prune_chat(room_id: int) -> None:
    cutoff = (
        ChatLine.objects.filter(room_id=room_id).order_by("-id").values_list("id", flat=True)[CHAT_KEPT : CHAT_KEPT + 1]
    )
    if cutoff:
        ChatLine.objects.filter(room_id=room_id, id__lte=cutoff[0]).delete()


def _drawing_started(room_id: int, state: GameState, event: ev.DrawingStarted, model_version_id: int | None) -> None:
    turn = Turn.objects.get(room_id=room_id, turn_no=event.turn_no)
    turn.word, turn.started_at, turn.model_version_id = event.word, _when(event.started_at), model_version_id
    turn.save(update_fields=["word", "started_at", "model_version_id"])
    names = {p.id: p.name for p in state.players}
    # One open canvas per player (a constraint): should an older one still be open, it closes now.
    Drawing.objects.filter(owner_id__in=event.owners, accepting=True).update(accepting=False)
    Drawing.objects.bulk_create(
        Drawing(turn=turn, owner_id=owner, owner_name=names.get(owner, ""), word=event.word, accepting=True)
        for owner in event.owners
    )


def _turn_ended(room_id: int, summary: ev.TurnSummary) -> None:
    turn = Turn.objects.filter(room_id=room_id, turn_no=summary.turn_no).first()
    if turn is None:
        return
    turn.ended_at, turn.end_reason, turn.ai_guessed_ms = _when(summary.ended_at), summary.reason, summary.ai_got_it_ms
    turn.guesses = [
        {
            "player_id": g.player_id,
            "name": g.name,
            "ms": g.ms,
            "points": g.points,
            "order": g.order,
            "before_ai": g.before_ai,
        }
        for g in summary.guesses
    ]
    turn.save(update_fields=["ended_at", "end_reason", "ai_guessed_ms", "guesses"])
    Drawing.objects.filter(turn=turn, accepting=True).update(accepting=False)
    for canvas in summary.canvases:
        Drawing.objects.filter(turn=turn, owner_id=canvas.owner_id).update(
            ai_latest=[[label, p] for label, p in canvas.ai_latest], recognised_ms=canvas.recognised_ms
        )
