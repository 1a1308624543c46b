"""The two busiest writes of the game, as SQL written once.

Every drawer stores a stroke about once a second, and the AI's top answer
changes several times a second in every room. Through the ORM each of these
cost about a millisecond of Python on the web process's one database thread:
the query compiled again every time, and the turn's whole drawing (or AI
timeline) read, decoded, re-encoded and written back to add one item. At 200
players that was a quarter of the process's time. Here each is one statement
(or one small read and one write), and the database itself appends the new
item to the stored JSON list.

Only the two databases the game runs on are spoken: SQLite (embedded) and
PostgreSQL (scaled out). The tests run these statements on both.
"""

from __future__ import annotations

import json

from django.db import connection

from game.models import Phase, Room, Turn

TURN = Turn._meta.db_table
ROOM = Room._meta.db_table


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


def _length(column: str) -> str:
    return f"jsonb_array_length({column})" if _postgres() else f"json_array_length({column})"


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def append_stroke(*, player_id: int, stroke: list, width: int, canvas: tuple[int, int],
                  limit: int) -> tuple[int, str, int] | None:
    """Add a stroke to the drawing `player_id` is drawing now.

    Returns (turn id, room code, strokes stored now), or None when the player is
    not drawing now or the drawing already holds `limit` strokes.
    """
    sql = (
        f"UPDATE {TURN} SET strokes = {_appended('strokes')}, stroke_widths = {_appended('stroke_widths')},"
        " canvas_width = %s, canvas_height = %s"
        f" WHERE drawer_id = %s AND {_length('strokes')} < %s"
        f" AND EXISTS (SELECT 1 FROM {ROOM} r WHERE r.id = {TURN}.room_id"
        f" AND r.current_turn_id = {TURN}.id AND r.phase = %s)"
        f" RETURNING id, (SELECT code FROM {ROOM} r WHERE r.id = {TURN}.room_id), {_length('strokes')}"
    )
    params = [json.dumps(stroke), json.dumps(width), *canvas, player_id, limit, Phase.DRAWING.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return tuple(row) if row else None


def lock_turn_for_ai(*, turn_id: int, version: int) -> Turn | None:
    """The turn, locked, if it is still being drawn and `version` is newer than the AI answer it holds.

    Loads only what judging an answer needs (not the drawing, not the
    timeline); the room's code comes as `turn.room_code`.
    """
    sql = (
        f"SELECT t.id, t.room_id, t.word, t.started_at, t.ai_latest, t.ai_guessed_ms, r.code AS room_code"
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
        sets.append(f"ai_timeline = {_appended('ai_timeline')}")
        params.append(json.dumps(timeline_entry))
    if guessed_ms is not None:
        sets.append("ai_guessed_ms = %s")
        params.append(guessed_ms)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TURN} SET {', '.join(sets)} WHERE id = %s", [*params, turn_id])
