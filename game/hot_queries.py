"""The game's busiest statements, as SQL written once.

Every drawer stores a stroke about once a second, the AI's top answer changes
several times a second in every room, and every guesser chats. Through the
ORM each of these cost about a millisecond of Python on the web process's one
database thread: the query compiled again every time, and for a stroke the
turn's whole drawing (or AI timeline) read, decoded, re-encoded and written
back to add one item. At 200 players that was a third of the process's time.
Here each is one statement (or one small read and one write), and the
database itself changes the stored JSON lists.

Only the two databases the game runs on are spoken: SQLite (embedded) and
PostgreSQL (scaled out). The tests run these statements on both.
"""

from __future__ import annotations

import json

from django.db import connection

from game.models import Guess, Phase, Player, Room, Turn

MAX_TIMELINE_STORED = 200

TURN = Turn._meta.db_table
ROOM = Room._meta.db_table
PLAYER = Player._meta.db_table
GUESS = Guess._meta.db_table


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _json_param() -> str:
    """A JSON document passed as text."""
    return "%s::jsonb" if _postgres() else "json(%s)"


def _appended(column: str) -> str:
    """`column` (a JSON list) with one more item, passed as JSON text."""
    if _postgres():
        return f"{column} || jsonb_build_array(%s::jsonb)"
    return f"json_insert({column}, '$[#]', json(%s))"


def _without_last(column: str) -> str:
    """`column` (a JSON list) without its last item (an empty list stays empty)."""
    if _postgres():
        return f"({column} - -1)"
    return f"json_remove({column}, '$[#-1]')"


def _last_stroke_points(column: str) -> str:
    """How many points the last stroke of `column` (a drawing) has; 0 for an empty drawing."""
    if _postgres():
        return f"COALESCE(jsonb_array_length({column} -> -1 -> 0), 0)"
    return f"COALESCE(json_array_length({column}, '$[#-1][0]'), 0)"


def _length(column: str) -> str:
    return f"jsonb_array_length({column})" if _postgres() else f"json_array_length({column})"


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


# The turn `drawer_id` is drawing now (the statement's table is the turn).
_DRAWING_NOW = (
    f"drawer_id = %s AND EXISTS (SELECT 1 FROM {ROOM} r WHERE r.id = {TURN}.room_id"
    f" AND r.current_turn_id = {TURN}.id AND r.phase = %s)"
)
_ROOM_CODE = f"(SELECT code FROM {ROOM} r WHERE r.id = {TURN}.room_id)"


def append_stroke(*, player_id: int, stroke: list, width: int, canvas: tuple[int, int], max_strokes: int,
                  max_points: int) -> tuple[int, str, int] | None:
    """Add a stroke to the drawing `player_id` is drawing now.

    Returns (turn id, room code, strokes stored now), or None when the player is
    not drawing now or the drawing would hold more than `max_strokes` strokes
    or `max_points` points.
    """
    n = len(stroke[0])
    row = _update_drawing(
        player_id,
        f"strokes = {_appended('strokes')}, stroke_widths = {_appended('stroke_widths')},"
        " canvas_width = %s, canvas_height = %s, points_count = points_count + %s",
        [json.dumps(stroke), json.dumps(width), *canvas, n],
        f"id, {_ROOM_CODE}, {_length('strokes')}",
        also=(f"{_length('strokes')} < %s AND points_count + %s <= %s", [max_strokes, n, max_points]),
    )
    return tuple(row) if row else None


def drawing_now(*, player_id: int) -> bool:
    """Whether `player_id` is drawing the current turn of their room."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {TURN} WHERE {_DRAWING_NOW}", [player_id, Phase.DRAWING.value])
        return cursor.fetchone() is not None


def _update_drawing(player_id: int, sets: str, params: list, returning: str,
                    also: tuple[str, list] = ("", [])) -> tuple | None:
    """UPDATE the turn `player_id` is drawing now (and that meets the condition `also`, if given)."""
    condition, condition_params = also
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TURN} SET {sets} WHERE {condition + ' AND ' if condition else ''}{_DRAWING_NOW}"
                       f" RETURNING {returning}", [*params, *condition_params, player_id, Phase.DRAWING.value])
        return cursor.fetchone()


def undo_stroke(*, player_id: int) -> tuple[int, str, int] | None:
    """Take the last stroke off the drawing `player_id` is drawing now.

    Returns (turn id, room code, strokes stored now), or None when the player is not drawing now.
    """
    row = _update_drawing(player_id, f"points_count = points_count - {_last_stroke_points('strokes')},"
                                     f" strokes = {_without_last('strokes')},"
                                     f" stroke_widths = {_without_last('stroke_widths')}", [],
                          f"id, {_ROOM_CODE}, {_length('strokes')}")
    return tuple(row) if row else None


def clear_drawing(*, player_id: int) -> tuple[int, str] | None:
    """Empty the drawing `player_id` is drawing now: (turn id, room code), or None when they are not drawing."""
    empty = _json_param()
    row = _update_drawing(player_id, f"strokes = {empty}, stroke_widths = {empty}, points_count = 0", ["[]", "[]"],
                          f"id, {_ROOM_CODE}")
    return tuple(row) if row else None


def seat(*, player_id: int) -> tuple[str, str, int | None, int | None, str] | None:
    """What a chat line needs of its sender: (name, room code, turn id, drawer id, word).

    The turn is the one being drawn, if any (else None, None, "").
    """
    sql = (
        f"SELECT p.name, r.code, t.id, t.drawer_id, t.word FROM {PLAYER} p JOIN {ROOM} r ON r.id = p.room_id"
        f" LEFT JOIN {TURN} t ON t.id = r.current_turn_id AND r.phase = %s WHERE p.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Phase.DRAWING.value, player_id])
        row = cursor.fetchone()
    if row is None:
        return None
    name, code, turn_id, drawer_id, word = row
    return name, code, turn_id, drawer_id, word or ""


def guessed(*, turn_id: int) -> list[int]:
    """Who named the word in this turn (the AI included)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT player_id FROM {GUESS} WHERE turn_id = %s", [turn_id])
        return [player_id for (player_id,) in cursor.fetchall()]


def lock_turn_for_ai(*, turn_id: int, version: int) -> Turn | None:
    """The turn, locked, if it is still being drawn and `version` is newer than the AI answer it holds.

    Loads only what judging an answer needs (not the drawing, not the
    timeline). Locks the room's row too, as every judgement of a guess does.
    """
    sql = (
        f"SELECT t.id, t.room_id, t.word, t.started_at, t.ai_latest, t.ai_guessed_ms"
        f" FROM {TURN} t JOIN {ROOM} r ON r.id = t.room_id"
        " WHERE t.id = %s AND r.current_turn_id = t.id AND r.phase = %s AND t.ai_version < %s"
        f"{_for_update()}"
    )
    return next(iter(Turn.objects.raw(sql, [turn_id, Phase.DRAWING.value, version])), None)


def save_ai_answer(*, turn_id: int, version: int, latest: list, timeline_entry: dict | None,
                   guessed_ms: int | None) -> None:
    """Store the AI's newest answer; a new top-1 is appended to the timeline by the database."""
    sets, params = ["ai_version = %s", f"ai_latest = {_json_param()}"], [version, json.dumps(latest)]
    if timeline_entry is not None:
        # A long turn's changes of mind stop being recorded at MAX_TIMELINE_STORED (the reveal shows a few).
        sets.append(f"ai_timeline = CASE WHEN {_length('ai_timeline')} < %s THEN {_appended('ai_timeline')}"
                    " ELSE ai_timeline END")
        params.extend([MAX_TIMELINE_STORED, json.dumps(timeline_entry)])
    if guessed_ms is not None:
        sets.append("ai_guessed_ms = %s")
        params.append(guessed_ms)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TURN} SET {', '.join(sets)} WHERE id = %s", [*params, turn_id])
