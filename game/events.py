"""Broadcasting: how a state change reaches every socket in a room, on any web process.

Actions call these after their transaction commits (Zulip's "write, then
send the event"). Only the channel layer carries events, so players on
different Daphne processes see the same thing.

Actions run in Channels' single database thread. Waiting there for each
send to finish (async_to_sync) would hold every other player's database work
behind the event loop, so when a web process's loop is known the events are
handed to it (game.runtime's outbox) and sent, in order, by one sender task;
elsewhere (management commands, plain scripts) they are sent synchronously.
"""

from __future__ import annotations

import asyncio
import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from pydantic import BaseModel

from config.layers import ROOM_LAYER
from game import runtime


def room_group(code: str) -> str:
    return f"room.{code}"


def player_group(player_id: int) -> str:
    return f"player.{player_id}"


def bind_event_loop() -> None:
    """Called on the web process's event loop: events from the database thread go through it."""
    runtime.current()


def _group_send(group: str, message: dict) -> None:
    bound = runtime.bound()
    if bound is not None and bound.running:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is bound.loop:
            bound.outbox.put_nowait((group, message))
        else:
            bound.loop.call_soon_threadsafe(bound.outbox.put_nowait, (group, message))
        return
    if bound is not None and not bound.loop.is_closed():
        # The web process is stopping (its loop no longer runs): nobody is left to tell, and
        # waiting here for that loop (async_to_sync) would hang the process's exit for good.
        logging.getLogger(__name__).info("dropped an event for %s: the web process is stopping", group)
        return
    layer = get_channel_layer(ROOM_LAYER)
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def after_commit(fn) -> None:
    transaction.on_commit(fn)


def room_changed(code: str, *, version: int) -> None:
    """Every player in the room re-reads their own view of it (the word stays with the drawer).

    `version` is the room's new state version: a socket that sent that view already skips the read.
    """
    message = {"type": "room.changed", "version": version}
    after_commit(lambda: _group_send(room_group(code), message))


def encode(payload: dict | BaseModel | str) -> str:
    """A frame's JSON text: protocol models as their schema says, plain dicts compactly, text as it is (made
    by an encoder of game.protocol)."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, BaseModel):
        return payload.model_dump_json()
    return json.dumps(payload, separators=(",", ":"))


def room_event(payload: dict | BaseModel | str, *, sender: str = "") -> dict:
    """A layer message that every receiving socket forwards as is: the JSON is encoded once, by the sender,
    not once per player (a points batch reaches every guesser in the room)."""
    message = {"type": "room.event", "text": encode(payload)}
    if sender:
        message["sender"] = sender  # that socket skips it
    return message


def to_room(code: str, payload: dict | BaseModel) -> None:
    message = room_event(payload)
    after_commit(lambda: _group_send(room_group(code), message))


def room_event_by_knowledge(*, turn_no: int, knowers: BaseModel, others: BaseModel | None) -> dict:
    """One room event in two versions: each socket forwards `knowers` if its player knows turn `turn_no`'s word,
    else `others` (nothing if None). See GameConsumer.room_event."""
    return {
        "type": "room.event",
        "text": encode(others) if others is not None else None,
        "text_knowers": encode(knowers),
        "turn": turn_no,
    }


def send_room_message(code: str, message: dict) -> None:
    """A layer message to the room's sockets now (from the database thread or a script)."""
    _group_send(room_group(code), message)


async def send_room_message_now(code: str, message: dict) -> None:
    """The same, from the event loop."""
    await get_channel_layer(ROOM_LAYER).group_send(room_group(code), message)


def to_player(player_id: int, payload: dict | BaseModel) -> None:
    message = room_event(payload)
    after_commit(lambda: _group_send(player_group(player_id), message))


def kick(player_id: int) -> None:
    after_commit(lambda: _group_send(player_group(player_id), {"type": "player.kicked"}))
