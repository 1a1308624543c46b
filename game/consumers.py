"""The room's WebSocket consumer: parse, validate, call one service, send.

Rules live in game.services and game.rules; this only translates between
frames and function calls. What it keeps in memory is a cache of facts the
database already holds (who this socket is, whether it is the drawer now),
refreshed on every room change, so any web process can serve any player.
"""

from __future__ import annotations

import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from config.consumers import DirectDispatchMixin
from game import address_limits, events, presence, protocol, selectors, services
from game.errors import GameError
from game.models import Phase, Room
from game.ratelimit import ABUSE_CLOSE_CODE, ConnectionLimits
from inference.consumers import request_inference

log = logging.getLogger(__name__)

# At most one mid-stroke classification request per this many seconds.
PARTIAL_INFERENCE_SECONDS = 0.3
# Points already in flight when a turn ends are dropped quietly for this long.
LATE_DRAWING_SECONDS = 3.0


def _dump(message: protocol.Message) -> str:
    return message.model_dump_json()


class GameConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    player_id: int | None = None
    room_id: int | None = None
    code: str = ""
    drawing_turn: int | None = None  # set while this player is drawing
    strokes: list  # the current drawing's finished strokes (drawer only; set in connect)
    live_stroke: list  # points of the stroke being drawn (drawer only)
    last_partial: float = 0.0
    stopped_drawing_at: float = -1e9
    sent_version: int = -1

    async def connect(self):
        self.strokes, self.live_stroke = [], []
        self.code = self.scope["url_route"]["kwargs"]["code"].upper()
        await self.accept()
        try:
            room = await database_sync_to_async(address_limits.room_by_code)(
                code=self.code, address=address_limits.client_address(self.scope)
            )
        except GameError as exc:  # too many unknown codes from this address
            await self.send_error(exc)
            await self.close(code=ABUSE_CLOSE_CODE)
            return
        if room is None:
            await self.send_error(GameError("no room with that code", code="no_room"))
            await self.close(code=4404)
            return
        self.room_id = room.pk
        self.strokes, self.live_stroke = [], []
        self.limits = ConnectionLimits()
        events.bind_event_loop()

    async def disconnect(self, close_code):
        if self.player_id is not None:
            presence.closed(self.player_id)
            await self.channel_layer.group_discard(events.room_group(self.code), self.channel_name)
            await self.channel_layer.group_discard(events.player_group(self.player_id), self.channel_name)
            await database_sync_to_async(services.disconnect)(player_id=self.player_id)

    # --- incoming -------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        now = time.monotonic()
        try:
            message = protocol.parse_client_message(text_data if text_data is not None else bytes_data)
        except protocol.ProtocolError as exc:
            if self.limits.allow("invalid", now):
                await self.send(_dump(protocol.ErrorOut(code=exc.code, message=exc.message)))
            await self._close_if_abusive()
            return
        if not self.limits.allow(message.type, now):
            if not self.limits.abusive():
                await self.send_error(GameError(f"slow down: too many '{message.type}' messages", code="rate_limited"))
            await self._close_if_abusive()
            return
        if message.type not in ("join", "ping") and self.player_id is None:
            await self.send_error(GameError("join the room first", code="not_joined"))
            return
        handler = getattr(self, f"on_{message.type}")
        try:
            await handler(message)
        except GameError as exc:
            await self.send_error(exc)

    async def on_ping(self, message: protocol.Ping):
        await self.send(_dump(protocol.Pong()))

    async def on_join(self, message: protocol.Join):
        if self.player_id is not None:
            raise GameError("already joined", code="already_joined")
        player = await database_sync_to_async(services.join_room)(code=self.code, name=message.name, token=message.token)
        await database_sync_to_async(services.connect)(player_id=player.pk)
        self.player_id = player.pk
        # Room traffic only for sockets that took a seat.
        await self.channel_layer.group_add(events.room_group(self.code), self.channel_name)
        await self.channel_layer.group_add(events.player_group(player.pk), self.channel_name)
        presence.opened(player.pk)
        state = await self._snapshot()
        self.sent_version = state.version
        await self.send(_dump(protocol.Welcome(player_id=player.pk, token=player.token, state=state)))

    async def on_settings(self, message: protocol.UpdateSettings):
        await database_sync_to_async(services.update_settings)(
            player_id=self.player_id, **message.model_dump(exclude={"type"}, exclude_none=True)
        )

    async def on_start(self, message: protocol.Start):
        await database_sync_to_async(services.start_game)(player_id=self.player_id)

    async def on_play_again(self, message: protocol.PlayAgain):
        await database_sync_to_async(services.play_again)(player_id=self.player_id)

    async def on_choose_word(self, message: protocol.ChooseWord):
        await database_sync_to_async(services.choose_word)(player_id=self.player_id, word=message.word)

    async def on_kick(self, message: protocol.Kick):
        await database_sync_to_async(services.kick_player)(player_id=self.player_id, target_id=message.player_id)

    async def on_votekick(self, message: protocol.VoteKick):
        await database_sync_to_async(services.vote_kick)(player_id=self.player_id, target_id=message.player_id)

    async def on_leave(self, message: protocol.Leave):
        await database_sync_to_async(services.leave_room)(player_id=self.player_id)
        await self.close(code=1000)

    async def on_guess(self, message: protocol.GuessText):
        await database_sync_to_async(services.submit_guess)(player_id=self.player_id, text=message.text)

    def _late_drawing(self) -> bool:
        """The turn just ended under a drawer whose last points were on their way: not an error."""
        return self.drawing_turn is None and time.monotonic() - self.stopped_drawing_at < LATE_DRAWING_SECONDS

    async def on_points(self, message: protocol.Points):
        if self._late_drawing():
            return
        if self.drawing_turn is None:
            raise GameError("only the drawer can draw, and only while drawing", code="not_drawer")
        # Live relay only: nothing is stored until the stroke ends.
        payload = {"type": "points", "turn_id": self.drawing_turn, "stroke": message.stroke,
                   "points": message.points, "width": message.width}
        await self.channel_layer.group_send(
            events.room_group(self.code), events.room_event(payload, sender=self.channel_name)
        )
        self.live_stroke.extend(message.points)
        now = time.monotonic()
        if now - self.last_partial >= PARTIAL_INFERENCE_SECONDS and len(self.live_stroke) > 1:
            self.last_partial = now
            partial = [[p[0] for p in self.live_stroke], [p[1] for p in self.live_stroke]]
            await self._infer([*self.strokes, partial])

    async def on_stroke(self, message: protocol.StrokeEnd):
        if self._late_drawing():
            return
        # The AI hears of the stroke first: its answer need not wait for the database.
        if self.drawing_turn is not None:
            xs, ys = [p[0] for p in message.points], [p[1] for p in message.points]
            await self._infer([*self.strokes, [xs, ys]])
        room, turn = await database_sync_to_async(services.add_stroke)(
            player_id=self.player_id, index=message.stroke, points=message.points, width=message.width
        )
        self.strokes = turn.strokes
        self.live_stroke = []
        self.last_partial = time.monotonic()

    async def on_undo(self, message: protocol.Undo):
        room, turn = await database_sync_to_async(services.undo_stroke)(player_id=self.player_id)
        self.strokes, self.live_stroke = turn.strokes, []
        if self.strokes:
            await self._infer(self.strokes)

    async def on_clear(self, message: protocol.Clear):
        room, turn = await database_sync_to_async(services.clear_canvas)(player_id=self.player_id)
        self.strokes, self.live_stroke = [], []

    async def _infer(self, strokes: list) -> None:
        if self.drawing_turn is None:
            return
        await request_inference(
            self.channel_layer,
            room=self.code,
            drawing_id=self.drawing_turn,
            # Wall-clock milliseconds: newer versions always compare greater,
            # even after the drawer reconnects through another process.
            version=time.time_ns() // 1_000_000,
            strokes=strokes,
        )

    async def _close_if_abusive(self) -> None:
        if self.limits.abusive():
            log.warning("closing an abusive socket in room %s (player %s)", self.code, self.player_id)
            await self.close(code=ABUSE_CLOSE_CODE)

    # --- outgoing -------------------------------------------------------------------------

    async def send_error(self, exc: GameError):
        await self.send(_dump(protocol.ErrorOut(code=exc.code, message=exc.message)))

    async def _snapshot(self) -> protocol.Snapshot:
        state = await database_sync_to_async(selectors.snapshot)(room_id=self.room_id, player_id=self.player_id)
        drawing = state.phase == Phase.DRAWING and state.drawer_id == self.player_id
        if drawing and self.drawing_turn != state.turn_id:
            self.strokes = [[[p[0] for p in s.points], [p[1] for p in s.points], [p[2] for p in s.points]]
                            for s in state.canvas]
            self.live_stroke = []
        if self.drawing_turn is not None and not drawing:
            self.stopped_drawing_at = time.monotonic()
        self.drawing_turn = state.turn_id if drawing else None
        return state

    async def room_changed(self, event):
        if self.player_id is None:
            return
        try:
            state = await self._snapshot()
        except Room.DoesNotExist:  # cleaned up under us
            return
        if state.version == self.sent_version:
            return  # several changes, one read: this view went out already
        self.sent_version = state.version
        await self.send(_dump(protocol.State(state=state)))

    async def player_kicked(self, event):
        """The host removed this player: tell them, then stop serving this socket."""
        await self.send_error(GameError("the host removed you from the room", code="kicked"))
        await self.channel_layer.group_discard(events.room_group(self.code), self.channel_name)
        await self.channel_layer.group_discard(events.player_group(self.player_id), self.channel_name)
        presence.closed(self.player_id)
        self.player_id = None
        await self.close(code=4403)

    async def room_event(self, event):
        if event.get("sender") == self.channel_name:
            return  # the drawer already shows their own points
        text = event.get("text")
        if text is None:  # from a process still on the older message form, during a rolling deploy
            text = json.dumps(event["payload"])
        await self.send(text)
