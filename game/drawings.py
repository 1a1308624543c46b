"""Stored drawings: the statements that grow, shrink and annotate a canvas's strokes.

A drawer stores a stroke about once a second, and the stored drawing can
hold 20,000 points: reading, decoding, re-encoding and writing it back to add
one stroke would cost more with every stroke. Each change here is one
statement in which the database changes the stored JSON list itself.

Strokes, undo and clear are the busiest writes of a game, so they do not go
through the room's lock and state (game.actions): a drawing accepts strokes
while its `accepting` flag is up, which game.records raises when the drawing
starts and lowers when its turn ends or its owner leaves, in the same
transactions as the machine's events that say so. A statement that finds no
such drawing changes nothing, and the caller asks the machine why. The
per-drawing limits (strokes, points) are held here, against the stored
counts.

Only the two databases the game runs on are spoken: SQLite (embedded) and
PostgreSQL (scaled out). The tests run these statements on both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection

from game.models import Drawing, Room, Turn

DRAWING = Drawing._meta.db_table
TURN = Turn._meta.db_table
ROOM = Room._meta.db_table
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
# What a change to an open canvas returns: its strokes now, its turn's number and its room's code.
_PLACED = (
    f"RETURNING stroke_count, (SELECT turn_no FROM {TURN} WHERE {TURN}.id = {DRAWING}.turn_id),"
    f" (SELECT code FROM {ROOM} WHERE {ROOM}.id = (SELECT room_id FROM {TURN} WHERE {TURN}.id = {DRAWING}.turn_id))"
)


@dataclass(frozen=True)
class Placed:
    """An open canvas after a change: where it is (to tell its room) and how many strokes it holds."""

    code: str
    turn_no: int
    strokes: int


def _update(canvas: tuple[int, int, int], sets: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {DRAWING} SET {sets} WHERE {_CANVAS}", [*params, *canvas])
        return cursor.rowcount


def _change_open(
    owner: int, sets: str, params: list, condition: str = "", condition_params: tuple = ()
) -> Placed | None:
    """Change `owner`'s open canvas (see the module's docstring); None if they have none, or `condition` fails."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DRAWING} SET {sets} WHERE owner_id = %s AND accepting{' AND ' + condition if condition else ''}"
            f" {_PLACED}",
            [*params, owner, *condition_params],
        )
        row = cursor.fetchone()
    return None if row is None else Placed(code=row[2], turn_no=row[1], strokes=row[0])


def append_stroke(
    *,
    owner: int,
    stroke: list,
    width: int,
    color: str,
    size: tuple[int, int],
    max_strokes: int,
    max_points: int,
) -> Placed | None:
    """Add a stroke to `owner`'s open canvas; None if they have none, or it would hold over a limit."""
    n = len(stroke[0])
    return _change_open(
        owner,
        f"strokes = {_appended('strokes')}, stroke_widths = {_appended('stroke_widths')},"
        f" stroke_colors = {_appended('stroke_colors')}, canvas_width = %s, canvas_height = %s,"
        " points_count = points_count + %s, stroke_count = stroke_count + 1",
        [json.dumps(stroke), json.dumps(width), json.dumps(color), *size, n],
        "stroke_count < %s AND points_count + %s <= %s",
        (max_strokes, n, max_points),
    )


def undo_stroke(*, owner: int) -> Placed | None:
    """Take the last stroke off `owner`'s open canvas (an empty one stays empty); None if they have none."""
    return _change_open(
        owner,
        f"points_count = points_count - {_last_stroke_points('strokes')},"
        f" strokes = {_without_last('strokes')}, stroke_widths = {_without_last('stroke_widths')},"
        f" stroke_colors = {_without_last('stroke_colors')},"
        " stroke_count = CASE WHEN stroke_count > 0 THEN stroke_count - 1 ELSE 0 END",
        [],
    )


def clear(*, owner: int) -> Placed | None:
    """Empty `owner`'s open canvas; None if they have none."""
    empty = _json_param()
    return _change_open(
        owner,
        f"strokes = {empty}, stroke_widths = {empty}, stroke_colors = {empty}, points_count = 0, stroke_count = 0",
        ["[]", "[]", "[]"],
    )


def open_canvas_fill(*, owner: int) -> tuple[int, int] | None:
    """(strokes, points) on `owner`'s open canvas, or None if they have none."""
    return Drawing.objects.filter(owner_id=owner, accepting=True).values_list("stroke_count", "points_count").first()


def note_ai_change(*, canvas: tuple[int, int, int], entry: dict) -> None:
    """The AI changed its mind about a canvas: one more timeline entry (up to MAX_TIMELINE_STORED)."""
    _update(
        canvas,
        f"ai_timeline = CASE WHEN {_length('ai_timeline')} < %s THEN {_appended('ai_timeline')} ELSE ai_timeline END",
        [MAX_TIMELINE_STORED, json.dumps(entry)],
    )
