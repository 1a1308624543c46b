"""Stored drawings: the statements that grow, shrink and annotate a canvas's strokes.

A drawer stores a stroke about once a second, and the stored drawing can
hold 20,000 points: reading, decoding, re-encoding and writing it back to add
one stroke would cost more with every stroke. Each change here is one
statement in which the database changes the stored JSON list itself.

Only the two databases the game runs on are spoken: SQLite (embedded) and
PostgreSQL (scaled out). The tests run these statements on both. The rules
(who may draw, how many strokes) are the machine's; these statements only
hold the points limit, which needs the stored points.
"""

from __future__ import annotations

import json

from django.db import connection

from game.models import Drawing, Turn

DRAWING = Drawing._meta.db_table
TURN = Turn._meta.db_table
MAX_TIMELINE_STORED = 200


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _json_param() -> str:
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


# The canvas of `owner` in turn `turn_no` of room `room_id` (the statement's table is the drawing).
_CANVAS = f"turn_id = (SELECT id FROM {TURN} WHERE room_id = %s AND turn_no = %s) AND owner_id = %s"


def _update(canvas: tuple[int, int, int], sets: str, params: list, also: tuple[str, list] = ("", [])) -> int:
    condition, condition_params = also
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DRAWING} SET {sets} WHERE {condition + ' AND ' if condition else ''}{_CANVAS}",
            [*params, *condition_params, *canvas],
        )
        return cursor.rowcount


def append_stroke(
    *, canvas: tuple[int, int, int], stroke: list, width: int, color: str, size: tuple[int, int], max_points: int
) -> bool:
    """Add a stroke to a canvas (room id, turn number, owner); False if it would hold over `max_points`."""
    n = len(stroke[0])
    return (
        _update(
            canvas,
            f"strokes = {_appended('strokes')}, stroke_widths = {_appended('stroke_widths')},"
            f" stroke_colors = {_appended('stroke_colors')}, canvas_width = %s, canvas_height = %s,"
            " points_count = points_count + %s",
            [json.dumps(stroke), json.dumps(width), json.dumps(color), *size, n],
            also=("points_count + %s <= %s", [n, max_points]),
        )
        > 0
    )


def undo_stroke(*, canvas: tuple[int, int, int]) -> None:
    _update(
        canvas,
        f"points_count = points_count - {_last_stroke_points('strokes')},"
        f" strokes = {_without_last('strokes')}, stroke_widths = {_without_last('stroke_widths')},"
        f" stroke_colors = {_without_last('stroke_colors')}",
        [],
    )


def clear(*, canvas: tuple[int, int, int]) -> None:
    empty = _json_param()
    _update(
        canvas,
        f"strokes = {empty}, stroke_widths = {empty}, stroke_colors = {empty}, points_count = 0",
        ["[]", "[]", "[]"],
    )


def note_ai_change(*, canvas: tuple[int, int, int], entry: dict) -> None:
    """The AI changed its mind about a canvas: one more timeline entry (up to MAX_TIMELINE_STORED)."""
    _update(
        canvas,
        f"ai_timeline = CASE WHEN {_length('ai_timeline')} < %s THEN {_appended('ai_timeline')} ELSE ai_timeline END",
        [MAX_TIMELINE_STORED, json.dumps(entry)],
    )
