"""Reads about games: each player's personal view of a room, public rooms, stored drawings."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from game import rules
from game.models import Guess, Phase, Player, Room, Turn
from game.protocol import (
    MAX_TIMELINE_SHOWN,
    AIGuess,
    GalleryItem,
    PlayerView,
    Reveal,
    Snapshot,
    StrokeView,
    TimelineEntry,
    compact_points,
)


def stroke_views(strokes: list, widths: list) -> list[StrokeView]:
    """A stored drawing (raw format, widths beside it) as the protocol shows it."""
    views = []
    for i, (xs, ys, *_) in enumerate(strokes):
        width = widths[i] if i < len(widths) else 10
        views.append(StrokeView(points=compact_points(zip(xs, ys, strict=False)), width=width))
    return views


def drawing(*, turn_id: int) -> tuple[list, list] | None:
    """A turn's stored strokes (raw format) and widths, or None if there is no such turn."""
    row = Turn.objects.filter(pk=turn_id).values_list("strokes", "stroke_widths").first()
    return (row[0], row[1]) if row else None


def _ms(dt) -> int | None:
    return int(dt.timestamp() * 1000) if dt else None


def _ai_guesses(pairs: list) -> list[AIGuess]:
    return [AIGuess(label=label, p=p) for label, p in pairs]


@dataclass(frozen=True)
class RoomRead:
    """One read of a room: everything any of its players' views is made from (see `view_of`).

    A change reaches every socket of the room; the sockets on one web process
    share one read of it instead of each reading the same rows again.
    """

    room: Room
    turn: Turn | None
    players: list[Player]
    guessed: list[int]  # who named the word this turn, in order
    guessed_names: list[str]
    label_count: int | None

    @property
    def version(self) -> int:
        return self.room.state_version


def read_room(*, room_id: int) -> RoomRead:
    # The drawing is not part of a view (it travels in `canvas` frames): never loaded here.
    room = Room.objects.select_related("current_turn").defer("current_turn__strokes",
                                                             "current_turn__stroke_widths").get(pk=room_id)
    turn = room.current_turn
    players = list(room.players.filter(left=False))
    guesses = list(Guess.objects.filter(turn=turn).values_list("player_id", "player__name")) if turn else []
    return RoomRead(
        room=room,
        turn=turn,
        players=players,
        guessed=[pid for pid, _ in guesses],
        guessed_names=[name for _, name in guesses],
        label_count=_label_count(),
    )


def snapshot(*, room_id: int, player_id: int | None) -> Snapshot:
    """Everything a player needs to draw the room, and nothing they must not see (the word)."""
    return view_of(read_room(room_id=room_id), player_id=player_id)


def view_of(read: RoomRead, *, player_id: int | None) -> Snapshot:
    """One player's view of a room read: pure, so a read can serve every player of the room."""
    room, turn, players = read.room, read.turn, read.players
    guessed = set(read.guessed)
    drawer_id = turn.drawer_id if turn and room.phase in (Phase.CHOOSING, Phase.DRAWING, Phase.TURN_END) else None
    is_drawer = drawer_id is not None and drawer_id == player_id
    over = room.phase in (Phase.TURN_END, Phase.GAME_OVER)
    word = None
    if turn and turn.word and (is_drawer or over or player_id in guessed):
        word = turn.word
    word_mask = rules.word_mask(turn.word, turn.revealed) if turn and turn.word else None
    reveal = None
    if turn and turn.word and room.phase == Phase.TURN_END:
        reveal = Reveal(
            word=turn.word,
            drawer=turn.drawer_name,
            guessed=read.guessed_names,
            ai_timeline=_timeline_shown(turn.ai_timeline),
            ai_guessed_ms=turn.ai_guessed_ms,
        )
    drawing_now = turn is not None and room.phase in (Phase.DRAWING, Phase.TURN_END)
    voices = {p.pk: p.voice for p in players if p.connections > 0 and not p.is_ai}
    return Snapshot(
        code=room.code,
        is_public=room.is_public,
        phase=room.phase,
        version=room.state_version,
        game_no=room.game_no,
        round=room.round_no,
        rounds=room.rounds,
        draw_seconds=room.draw_seconds,
        word_choices=room.word_choices,
        max_players=room.max_players,
        players=[
            PlayerView(
                id=p.pk,
                name=p.name,
                score=p.score,
                connected=p.is_connected,
                is_ai=p.is_ai,
                is_host=p.pk == room.host_id,
                is_drawer=p.pk == drawer_id,
                guessed=p.pk in guessed,
                kick_votes=len({voices.get(int(v), f"seat:{v}") for v in room.kick_votes.get(str(p.pk), [])}),
            )
            for p in players
        ],
        kick_votes_needed=rules.votes_needed(max(0, len(set(voices.values())) - 1)),
        drawer_id=drawer_id,
        turn_id=turn.pk if turn else None,
        word_mask=word_mask,
        word=word,
        choices=turn.choices if is_drawer and room.phase == Phase.CHOOSING else None,
        deadline_ms=_ms(room.deadline),
        phase_seconds={Phase.CHOOSING: rules.CHOOSE_SECONDS, Phase.DRAWING: room.draw_seconds,
                       Phase.TURN_END: rules.TURN_END_SECONDS}.get(room.phase),
        server_ms=_ms(timezone.now()),
        ai=_ai_guesses(turn.ai_latest) if drawing_now else [],
        ai_threshold=rules.ai_threshold(read.label_count),
        reveal=reveal,
        gallery_url=reverse("gallery", args=[room.code, room.game_no]) if room.phase == Phase.GAME_OVER else None,
    )


def _timeline_shown(timeline: list) -> list[TimelineEntry]:
    """The AI's changes of mind for the reveal: all of them, or the first and the last ones of a long turn."""
    if len(timeline) > MAX_TIMELINE_SHOWN:
        head = MAX_TIMELINE_SHOWN // 3
        timeline = timeline[:head] + timeline[-(MAX_TIMELINE_SHOWN - head):]
    return [TimelineEntry(ms=entry["ms"], guesses=entry["guesses"][:3]) for entry in timeline]


def _label_count() -> int | None:
    from inference.live import live_model

    try:
        return len(live_model.classifier().labels)
    except Exception:  # noqa: BLE001 - no model loadable: the plain threshold still applies
        return None


def gallery(*, room: Room, game_no: int) -> list[GalleryItem]:
    """The drawings of one game whose turns are over (only those: a running turn's word is a secret)."""
    turns = (Turn.objects.filter(room=room, game_no=game_no, ended_at__isnull=False).exclude(word="")
             .only("pk", "word", "drawer_name", "ai_latest", "ai_guessed_ms"))
    return [
        GalleryItem(
            turn_id=t.pk,
            word=t.word,
            drawer=t.drawer_name,
            thumb_url=reverse("drawing_svg", args=[room.code, t.pk]),
            ai=_ai_guesses(t.ai_latest),
            ai_right=bool(t.ai_latest) and rules.is_correct(t.ai_latest[0][0], t.word),
            ai_ms=t.ai_guessed_ms,
        )
        for t in turns
    ]


def ended_drawing(*, code: str, turn_id: int) -> Turn | None:
    """A drawing of `code`'s room whose turn is over (what a thumbnail may show), or None."""
    return (Turn.objects.filter(pk=turn_id, room__code=code.upper(), ended_at__isnull=False)
            .only("strokes", "stroke_widths", "canvas_width", "canvas_height").first())


def public_rooms(*, limit: int = 50) -> list[dict]:
    rooms = (
        Room.objects.filter(is_public=True)
        .annotate(n=Count("players", filter=Q(players__is_ai=False, players__left=False, players__connections__gt=0)))
        .filter(n__gt=0)
        .order_by("-n", "-created_at")[:limit]
    )
    return [{"code": r.code, "players": r.n, "max_players": r.max_players, "phase": r.phase} for r in rooms]


def room_by_code(*, code: str) -> Room | None:
    return Room.objects.filter(code=code.upper()).first()


def player_room(*, player_id: int) -> Room | None:
    player = Player.objects.select_related("room").filter(pk=player_id).first()
    return player.room if player else None


def words_in_play() -> set[str]:
    """Words chosen or offered in turns still running (a model swap must keep knowing them)."""
    words: set[str] = set()
    for turn in Turn.objects.filter(
        room__phase__in=[Phase.CHOOSING, Phase.DRAWING], room__current_turn=F("id"), ended_at__isnull=True
    ).only("word", "choices"):
        words.update([turn.word] if turn.word else turn.choices)
    return words
