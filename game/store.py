"""A room's state in the database: loaded under the room's row lock, saved with the columns queries use.

Every change of a room's state locks its row first (`select_for_update`;
SQLite's IMMEDIATE transactions serialise writers the same way), so two web
processes, a timer and a player can never both move the same room on: each
transition happens exactly once, whoever triggers it.

A state document is parsed once per process and revision: every save bumps
the row's `revision`, and a process that holds the parsed state of the
revision it finds under the lock skips reading and parsing the document. A
room id can come back after its room was deleted (SQLite reuses the highest
ids), so a cached state counts only for the same code too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict

from django.db import connection, transaction

from game.errors import GameError
from game.machine import next_wakeup
from game.models import Room
from game.state import GameState, as_json_text, from_json, to_json

ROOM = Room._meta.db_table
_PARSED_MAX = 2_000
# room id -> (code, revision, parsed state)
_parsed: OrderedDict[int, tuple[str, int, GameState]] = OrderedDict()


def _when(ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC) if ms is not None else None


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _decoded(value):
    """A JSON column as a plain cursor reads it (text on SQLite, already decoded on PostgreSQL)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def lock(room_id: int) -> tuple[str, int, GameState]:
    """Lock the room's row (inside a transaction): (its code, its revision, its state)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT code, revision FROM {ROOM} WHERE id = %s{_for_update()}", [room_id])
        row = cursor.fetchone()
        if row is None:
            raise GameError("This room no longer exists", code="no_room")
        code, revision = row
        cached = _parsed.get(room_id)
        if cached is not None and cached[:2] == (code, revision):
            _parsed.move_to_end(room_id)
            return code, revision, cached[2]
        cursor.execute(f"SELECT state FROM {ROOM} WHERE id = %s", [room_id])
        state = from_json(_decoded(cursor.fetchone()[0]))
    _remember(room_id, code, revision, state)
    return code, revision, state


def parsed(room: Room) -> GameState:
    """The state of a room row read without a lock (views), parsed once per revision."""
    cached = _parsed.get(room.pk)
    if cached is not None and cached[:2] == (room.code, room.revision):
        return cached[2]
    state = from_json(room.state)
    _remember(room.pk, room.code, room.revision, state)
    return state


def latest_seen(room_id: int) -> GameState | None:
    """The newest state of the room this process has read or saved, without asking the database (may lag)."""
    cached = _parsed.get(room_id)
    return cached[2] if cached is not None else None


def latest_code(room_id: int) -> str | None:
    cached = _parsed.get(room_id)
    return cached[0] if cached is not None else None


def _remember(room_id: int, code: str, revision: int, state: GameState) -> None:
    _parsed[room_id] = (code, revision, state)
    _parsed.move_to_end(room_id)
    while len(_parsed) > _PARSED_MAX:
        _parsed.popitem(last=False)


def save(room_id: int, code: str, revision: int, state: GameState, *, now: dt.datetime) -> int:
    """Write the state (locked at `revision`) and what queries filter on; returns the new revision."""
    text = as_json_text(state)
    empty = not state.connected_humans
    json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"UPDATE {ROOM} SET state = {json_param}, revision = %s, version = %s, phase = %s, is_public = %s,"
        " wakeup_at = %s, empty_since = CASE WHEN %s THEN COALESCE(empty_since, %s) ELSE NULL END WHERE id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                text,
                revision + 1,
                state.version,
                str(state.phase),
                state.settings.is_public,
                _when(next_wakeup(state)),
                empty,
                now,
                room_id,
            ],
        )
    # Only once it is committed: a rolled-back revision number may be written again, with another state.
    transaction.on_commit(lambda: _remember(room_id, code, revision + 1, state))
    return revision + 1


def insert(room: Room, state: GameState) -> None:
    """A new room's first state (the row is new: nobody else can hold it)."""
    room.state = to_json(state)
    room.version = state.version
    room.mode = str(state.mode)
    room.phase = str(state.phase)
    room.is_public = state.settings.is_public
    room.wakeup_at = _when(next_wakeup(state))
    room.save()
