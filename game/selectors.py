"""Reads about games: each player's view of a room, public rooms, galleries, drawings, chat history.

A player's view is made from the room's state by game.player_views (pure: the word stays with
those who know it) and put in the protocol's form here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from game import player_views, protocol, rules, store
from game.domain_events import Audience, AudienceKind
from game.models import ChatLine, Drawing, Room
from game.records import CHAT_KEPT
from game.rules import Mode, Phase
from game.state import GameState


@dataclass(frozen=True)
class RoomRead:
    """One read of a room: everything any of its players' views is made from (see `view_of`).

    A change reaches every socket of the room; the sockets on one web process
    share one read of it instead of each reading the same row again.
    """

    room_id: int
    code: str
    state: GameState
    timeline: list  # at the end of a classic or solo turn: the AI's changes of mind on its canvas
    stroke_counts: dict[int, int]  # in a race round: each racer's strokes (owner id -> count)

    @property
    def version(self) -> int:
        return self.state.version


def read_room(*, room_id: int) -> RoomRead:
    room = Room.objects.only("id", "code", "revision", "state").get(pk=room_id)
    state = store.parsed(room)
    timeline: list = []
    turn = state.turn
    if state.phase == Phase.TURN_END and turn is not None and turn.drawer_id is not None:
        timeline = (
            Drawing.objects.filter(turn__room_id=room_id, turn__turn_no=turn.turn_no, owner_id=turn.drawer_id)
            .values_list("ai_timeline", flat=True)
            .first()
        ) or []
    stroke_counts: dict[int, int] = {}
    if state.mode == Mode.RACE and turn is not None and turn.canvases:
        stroke_counts = dict(
            Drawing.objects.filter(turn__room_id=room_id, turn__turn_no=turn.turn_no).values_list(
                "owner_id", "stroke_count"
            )
        )
    return RoomRead(room_id=room.pk, code=room.code, state=state, timeline=timeline, stroke_counts=stroke_counts)


def snapshot(*, room_id: int, player_id: int | None) -> protocol.Snapshot:
    """Everything a player needs to draw the room, and nothing they must not see (the word)."""
    return view_of(read_room(room_id=room_id), player_id=player_id)


def _guesses(pairs) -> list[protocol.AIGuess]:
    return [protocol.AIGuess(label=label, p=p) for label, p in pairs]


def view_of(read: RoomRead, *, player_id: int | None) -> protocol.Snapshot:
    """One player's view of a room read: pure, so a read can serve every player of the room."""
    state = read.state
    view = player_views.view_for(state, player_id)
    settings = view.settings
    reveal = None
    if view.reveal is not None:
        r = view.reveal
        reveal = protocol.Reveal(
            word=r.word,
            drawer=r.drawer_name,
            guessed=list(r.guessed),
            ai_timeline=_timeline_shown(read.timeline),
            ai_guessed_ms=r.ai_got_it_ms,
            reason=r.reason,
            reason_text=r.reason_text,
            canvases=[
                protocol.CanvasResult(
                    owner_id=c.owner_id, name=c.name, ai=_guesses(c.ai), recognised_ms=c.recognised_ms
                )
                for c in r.canvases
            ],
        )
    return protocol.Snapshot(
        code=read.code,
        mode=str(view.mode),
        is_public=settings.is_public,
        phase=str(view.phase),
        version=view.version,
        game_no=view.game_no,
        round=view.round_no,
        rounds=view.rounds,
        draw_seconds=rules.draw_seconds_for(view.mode, settings.draw_seconds),
        word_choices=settings.word_choices,
        max_players=view.max_players,
        solo_words=settings.solo_words,
        ai_mode=str(view.ai_mode),
        players=[
            protocol.PlayerView(
                id=s.id,
                name=s.name,
                score=s.score,
                connected=s.connected,
                is_ai=s.is_ai,
                is_host=s.is_host,
                is_drawer=s.is_drawer,
                guessed=s.guessed,
                kick_votes=s.kick_votes,
                kick_votes_needed=s.kick_votes_needed,
            )
            for s in view.players
        ],
        kick_votes_needed=view.kick_votes_needed,
        host_id=view.host_id,
        drawer_id=view.drawer_id,
        turn_id=view.turn_no,
        word_mask=view.word_mask,
        word=view.word,
        choices=list(view.choices) if view.choices is not None else None,
        deadline_ms=view.deadline,
        phase_seconds=view.phase_seconds,
        server_ms=int(timezone.now().timestamp() * 1000),
        can_draw=can_draw(state, player_id),
        ai=None if view.ai is None else _guesses(view.ai),
        ai_threshold=view.ai_threshold,
        reveal=reveal,
        racers=[
            protocol.Racer(
                player_id=r.player_id,
                name=r.name,
                strokes=read.stroke_counts.get(r.player_id, 0),
                place=r.place,
                ai_top=protocol.AIGuess(label=r.ai_top[0], p=r.ai_top[1]) if r.ai_top else None,
            )
            for r in view.racers
        ],
        rule_lines=list(view.rule_lines),
        gallery_url=reverse("gallery", args=[read.code, state.game_no]) if state.phase == Phase.GAME_OVER else None,
    )


def can_draw(state: GameState, player_id: int | None) -> bool:
    """Whether `player_id` has a canvas to draw on now (the drawer; in a race, every racer of the round)."""
    return state.phase == Phase.DRAWING and player_id is not None and state.canvas(player_id) is not None


def _timeline_shown(timeline: list) -> list[protocol.TimelineEntry]:
    """The AI's changes of mind for the reveal: all of them, or the first and the last ones of a long turn."""
    if len(timeline) > protocol.MAX_TIMELINE_SHOWN:
        head = protocol.MAX_TIMELINE_SHOWN // 3
        timeline = timeline[:head] + timeline[-(protocol.MAX_TIMELINE_SHOWN - head) :]
    return [protocol.TimelineEntry(ms=entry["ms"], guesses=entry["guesses"][:3]) for entry in timeline]


# --- drawings --------------------------------------------------------------------------------------


def stroke_views(strokes: list, widths: list, colors: list) -> list[protocol.StrokeView]:
    """A stored drawing (raw format, widths and colours beside it) as the protocol shows it."""
    views = []
    for i, (xs, ys, *_) in enumerate(strokes):
        views.append(
            protocol.StrokeView(
                points=protocol.compact_points(zip(xs, ys, strict=False)),
                width=widths[i] if i < len(widths) else 10,
                color=colors[i] if i < len(colors) else protocol.INK,
            )
        )
    return views


def canvas(*, room_id: int, turn_no: int, owner: int) -> tuple[list, list, list]:
    """A canvas's stored strokes (raw format), widths and colours; empty if it has none."""
    row = (
        Drawing.objects.filter(turn__room_id=room_id, turn__turn_no=turn_no, owner_id=owner)
        .values_list("strokes", "stroke_widths", "stroke_colors")
        .first()
    )
    return row if row else ([], [], [])


def canvases_to_show(state: GameState, player_id: int | None) -> tuple[int, ...]:
    """The canvases a player's screen shows now: the drawer's, or in a race every racer's."""
    turn = state.turn
    if turn is None or state.phase not in (Phase.DRAWING, Phase.TURN_END):
        return ()
    return tuple(c.owner_id for c in turn.canvases)


def gallery(*, room: Room, game_no: int) -> list[protocol.GalleryItem]:
    """The drawings of one game whose turns are over (only those: a running turn's word is a secret)."""
    drawings = (
        Drawing.objects.filter(turn__room=room, turn__game_no=game_no, turn__ended_at__isnull=False)
        .exclude(word="")
        .select_related("turn")
        .only("pk", "word", "owner_name", "ai_latest", "recognised_ms", "turn__turn_no", "turn__round_no")
        .order_by("pk")
    )
    return [
        protocol.GalleryItem(
            drawing_id=d.pk,
            turn_id=d.turn.turn_no,
            round=d.turn.round_no,
            word=d.word,
            drawer=d.owner_name,
            thumb_url=reverse("drawing_svg", args=[room.code, d.pk]),
            ai=_guesses(d.ai_latest),
            ai_right=d.recognised_ms is not None or (bool(d.ai_latest) and rules.is_correct(d.ai_latest[0][0], d.word)),
            ai_ms=d.recognised_ms,
        )
        for d in drawings
    ]


def ended_drawing(*, code: str, drawing_id: int) -> Drawing | None:
    """A drawing of `code`'s room whose turn is over (what a thumbnail may show), or None."""
    return (
        Drawing.objects.filter(pk=drawing_id, turn__room__code=code.upper(), turn__ended_at__isnull=False)
        .only("strokes")
        .first()
    )


# --- chat --------------------------------------------------------------------------------------------


def chat_history(*, room_id: int, state: GameState, player_id: int) -> list[protocol.Chat]:
    """The room's recent chat lines that `player_id` may see now, oldest first."""
    newest = list(ChatLine.objects.filter(room_id=room_id).order_by("-id")[:CHAT_KEPT])
    shown = []
    for line in reversed(newest):
        audience = Audience(AudienceKind(line.audience), player_id=line.audience_player, turn_no=line.audience_turn)
        if player_views.chat_visible_to(audience, player_id, state):
            shown.append(
                protocol.Chat(kind=line.kind, text=line.text, player_id=line.player_id, name=line.name or None)
            )
    return shown


# --- rooms -------------------------------------------------------------------------------------------


def public_rooms(*, limit: int = 50) -> list[dict]:
    """Public rooms with someone in them, fullest first."""
    rooms = (
        Room.objects.filter(is_public=True, empty_since__isnull=True)
        .exclude(mode=Mode.SOLO)
        .only("id", "code", "revision", "state", "created_at")
        .order_by("-created_at")[: limit * 2]
    )
    listed = []
    for room in rooms:
        state = store.parsed(room)
        players = len(state.connected_humans)
        if players:
            listed.append(
                {
                    "code": room.code,
                    "players": players,
                    "mode": str(state.mode),
                    "max_players": rules.seat_capacity(state.mode, state.settings.max_players),
                    "phase": str(state.phase),
                }
            )
    return sorted(listed, key=lambda r: -r["players"])[:limit]


def room_by_code(*, code: str) -> Room | None:
    return Room.objects.filter(code=code.upper()).only("id", "code", "mode").first()


def words_in_play() -> set[str]:
    """Words chosen or offered in turns still running (a model swap must keep knowing them).

    The hook inference calls (settings.INFERENCE_WORDS_IN_PLAY) before it swaps the live model.
    """
    words: set[str] = set()
    for room in Room.objects.filter(phase__in=[Phase.CHOOSING, Phase.DRAWING]).only("id", "revision", "state"):
        turn = store.parsed(room).turn
        if turn is not None and turn.ended_at is None:
            words.update([turn.word] if turn.word else turn.choices)
    return words
