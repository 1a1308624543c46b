"""Broadcasting: how a state change reaches every socket in a room, on any web process.

Services call these after their transaction commits (Zulip's "write, then
send the event"). Only the channel layer carries events, so players on
different Daphne processes see the same thing.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def room_group(code: str) -> str:
    return f"room.{code}"


def player_group(player_id: int) -> str:
    return f"player.{player_id}"


def _group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def after_commit(fn) -> None:
    transaction.on_commit(fn)


def room_changed(code: str) -> None:
    """Every player in the room re-reads their own view of it (the word stays with the drawer)."""
    after_commit(lambda: _group_send(room_group(code), {"type": "room.changed"}))


def to_room(code: str, payload: dict) -> None:
    after_commit(lambda: _group_send(room_group(code), {"type": "room.event", "payload": payload}))


def to_player(player_id: int, payload: dict) -> None:
    after_commit(lambda: _group_send(player_group(player_id), {"type": "room.event", "payload": payload}))


def to_room_now(code: str, payload: dict) -> None:
    """For events that change no stored state (live points): no transaction to wait for."""
    _group_send(room_group(code), {"type": "room.event", "payload": payload})
