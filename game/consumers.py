"""The room's WebSocket consumer: parse, validate, call one service, send.

Rules live in game.services and game.rules; this only translates between
frames and function calls. What it keeps in memory is a cache of facts the
database already holds (who this socket is, whether it is the drawer now),
refreshed on every room change, so any web process can serve any player.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from config import transport
from config.consumers import DirectDispatchMixin, SerialLane
from config.layers import ROOM_LAYER
from game import address_limits, events, presence, protocol, ratelimit, room_reads, selectors, services
from game.errors import GameError
from game.models import Phase, Room
from game.ratelimit import ABUSE_CLOSE_CODE, ConnectionLimits
from inference.consumers import request_inference

log = logging.getLogger(__name__)

# At most one mid-stroke classification request per this many seconds.
PARTIAL_INFERENCE_SECONDS = 0.3
# Points already in flight when a turn ends are dropped quietly for this long.
LATE_DRAWING_SECONDS = 3.0
# Handled in the dispatch loop: no database call before their answer. Everything
# else goes through the socket's lane (one database call at a time, in order).
IMMEDIATE = frozenset({"ping", "points", "stroke", "undo", "clear"})
# Closed after an unexpected server-side failure (channel layer or database unreachable): reconnect.
SERVER_FAILURE_CLOSE_CODE = 4500
# The same seat was taken by a newer socket (another tab, a reload): this one stops, without reconnecting.
REPLACED_CLOSE_CODE = 4409
# Too many sockets from one address, or one that never joined: refused.
TOO_MANY_CLOSE_CODE = 4429
JOIN_TIMEOUT_CLOSE_CODE = 4408
# A socket must take a seat this soon after opening, or it is closed (idle sockets cost memory).
JOIN_TIMEOUT_SECONDS = 15.0
# What Daphne may hold unsent for one client; past it the client is not reading and is dropped.
OUTBOX_LIMIT_BYTES = 256 * 1024


def _dump(message: protocol.Message) -> str:
    return message.model_dump_json()


class GameConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    channel_layer_alias = ROOM_LAYER
    player_id: int | None = None
    room_id: int | None = None
    code: str = ""
    address: str = ""
    counted: bool = False  # this socket is counted against its address (address_limits.socket_opened)
    seat_epoch: int = 0  # which of the seat's sockets this is: a newer one replaces it
    drawing_turn: int | None = None  # set while this player is drawing
    strokes: list  # the current drawing's finished strokes (drawer only; set in connect)
    drawing_points: int = 0  # points in `strokes`
    live_stroke: list  # points of the stroke being drawn (drawer only)
    live_index: int = -1  # the stroke index the client gave the points in `live_stroke`
    live_refused: bool = False  # the stroke being drawn ran over a limit: the player was told once
    last_partial: float = 0.0
    stopped_drawing_at: float = -1e9
    sent_version: int = -1
    seen_version: int = -1
    gone: bool = False  # the socket closed (or is being dropped): nothing more is sent
    refreshing: asyncio.Task | None = None
    join_timer: asyncio.TimerHandle | None = None
    wanted_version: int = -1
    joins_pending: int = 0

    async def connect(self):
        self.strokes, self.live_stroke = [], []
        self.limits = ConnectionLimits()
        self.lane = SerialLane(on_failure=self._failed)
        self.code = self.scope["url_route"]["kwargs"]["code"].upper()
        self.address = address_limits.client_address(self.scope)
        await self.accept()
        refused = address_limits.socket_opened(self.address)
        if refused:
            await self.send_error(GameError(refused, code="too_many_connections"))
            await self.close(code=TOO_MANY_CLOSE_CODE)
            return
        self.counted = True
        try:
            room = await database_sync_to_async(address_limits.room_by_code)(code=self.code, address=self.address)
        except GameError as exc:  # too many unknown codes from this address
            await self.send_error(exc)
            await self.close(code=ABUSE_CLOSE_CODE)
            return
        if room is None:
            await self.send_error(GameError("no room with that code", code="no_room"))
            await self.close(code=4404)
            return
        self.room_id = room.pk
        self.join_timer = asyncio.get_running_loop().call_later(JOIN_TIMEOUT_SECONDS, self._join_timed_out)
        events.bind_event_loop()

    def _join_timed_out(self) -> None:
        if self.player_id is None and not self.joins_pending and not self.gone:
            asyncio.ensure_future(self.close(code=JOIN_TIMEOUT_CLOSE_CODE))

    async def disconnect(self, close_code):
        await self._let_go()
        await self.lane.drain()

    async def close(self, code=None, reason=None):
        """Closed by the server (abuse, a newer tab, a kick...): let go at once, not when the client answers."""
        await self._let_go()
        await super().close(code=code, reason=reason)

    async def crashed(self, exc: BaseException) -> None:
        """An unexpected exception ended this consumer: its seat must not stay taken by a dead socket."""
        await self._let_go()
        await self.lane.drain()

    async def _let_go(self) -> None:
        """Give back what this socket holds: its count against the address, its groups, its seat's connection.

        Runs once, whichever way the socket ends (closed by the client, dropped, crashed)."""
        self.gone = True
        if self.join_timer is not None:
            self.join_timer.cancel()
        if self.counted:
            self.counted = False
            address_limits.socket_closed(self.address)
        if self.player_id is not None:
            player_id, self.player_id = self.player_id, None
            await self._leave_groups(player_id)
            # After whatever this socket still had queued (a last guess, a `leave`).
            self.lane.submit(database_sync_to_async(services.disconnect), player_id=player_id)

    async def _leave_groups(self, player_id: int) -> None:
        """This socket no longer holds its seat here: no more room traffic, no more presence beats."""
        presence.closed(player_id)
        await self.channel_layer.group_discard(events.room_group(self.code), self.channel_name)
        await self.channel_layer.group_discard(events.player_group(player_id), self.channel_name)

    async def _failed(self, exc: BaseException) -> None:
        """Something unexpected (the channel layer or database down): drop this socket; the client rejoins."""
        if not self.gone:
            await self.close(code=SERVER_FAILURE_CLOSE_CODE)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.gone:
            return
        queued = transport.queued_bytes(self.base_send)
        if queued is not None and queued > OUTBOX_LIMIT_BYTES:
            # The client has stopped reading: holding more for it only grows this process.
            log.warning("dropping a client in room %s that is not reading (%d bytes queued)", self.code, queued)
            self.gone = True
            transport.drop(self.base_send)
            return
        try:
            await super().send(text_data, bytes_data, close)
        except Disconnected:  # the client went away; Channels hears of it next (websocket.disconnect)
            self.gone = True

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
                await self.send_error(GameError(ratelimit.slow_down(message.type), code="rate_limited"))
            await self._close_if_abusive()
            return
        # Until a join is through, everything waits behind it: in order, as the client sent it.
        if message.type in IMMEDIATE and not self.joins_pending:
            await self._handle(message)
        elif self.lane.full():
            await self.send_error(GameError("the server is busy: try that again in a moment", code="busy"))
        else:
            self.joins_pending += message.type == "join"
            self.lane.submit(self._handle, message)

    async def _handle(self, message: protocol.ClientMessage) -> None:
        if message.type not in ("join", "ping") and self.player_id is None:
            await self.send_error(GameError("join the room first", code="not_joined"))
            return
        try:
            await getattr(self, f"on_{message.type}")(message)
        except GameError as exc:
            await self.send_error(exc)

    async def on_ping(self, message: protocol.Ping):
        await self.send(_dump(protocol.Pong()))

    async def on_join(self, message: protocol.Join):
        try:
            await self._join(message)
        finally:
            self.joins_pending -= 1

    async def _join(self, message: protocol.Join):
        if self.player_id is not None:
            raise GameError("already joined", code="already_joined")
        if self.gone:
            return
        player = await database_sync_to_async(services.join_room)(
            code=self.code, name=message.name, token=message.token, address=address_limits.address_key(self.address)
        )
        player = await database_sync_to_async(services.connect)(player_id=player.pk)
        self.player_id, self.seat_epoch = player.pk, player.seat_epoch
        # One socket per seat: an older one (another tab, a connection not yet noticed dead) gives way.
        await self.channel_layer.group_add(events.player_group(player.pk), self.channel_name)
        await self.channel_layer.group_send(events.player_group(player.pk), {
            "type": "seat.taken", "epoch": self.seat_epoch, "channel": self.channel_name})
        # Room traffic only for sockets that took a seat.
        await self.channel_layer.group_add(events.room_group(self.code), self.channel_name)
        presence.opened(player.pk)
        self.limits = ratelimit.for_seat(player.pk)  # a reload does not refill the seat's allowance
        state = await self._snapshot()
        self.sent_version = max(self.sent_version, state.version)
        await self.send(_dump(protocol.Welcome(player_id=player.pk, token=player.token, state=state)))
        if state.turn_id is not None and state.phase in (Phase.DRAWING, Phase.TURN_END):
            strokes = await self._send_canvas(state.turn_id)
            if self.drawing_turn == state.turn_id:
                self._hold_drawing(strokes)

    async def seat_taken(self, event):
        """A newer socket took this seat: this one stops (and says why), unless it is the newer one."""
        if event["channel"] == self.channel_name or event["epoch"] <= self.seat_epoch or self.player_id is None:
            return
        await self.send_error(GameError("You opened this room in another tab or window; this one has stopped.",
                                        code="replaced"))
        await self.close(code=REPLACED_CLOSE_CODE)

    async def on_sync(self, message: protocol.Sync):
        if self.drawing_turn is None:  # the drawer's own page is the reference: it never needs the copy
            turn_id = self.seen_turn
            if turn_id is not None:
                await self._send_canvas(turn_id)

    async def _send_canvas(self, turn_id: int) -> list:
        """Send this socket the stored drawing of `turn_id` in bounded chunks; returns its strokes."""
        stored = await database_sync_to_async(selectors.drawing)(turn_id=turn_id)
        strokes, widths = stored or ([], [])
        for frame in protocol.canvas_frames(turn_id, selectors.stroke_views(strokes, widths)):
            await self.send(_dump(frame))
        return strokes

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

    def _hold_drawing(self, strokes: list) -> None:
        """The drawer's copy of the drawing (what the AI is shown), as stored."""
        self.strokes = [[list(s[0]), list(s[1])] for s in strokes]
        self.drawing_points = sum(len(s[0]) for s in strokes)
        self.live_stroke, self.live_index, self.live_refused = [], -1, False

    async def on_points(self, message: protocol.Points):
        if self._late_drawing():
            return
        if self.drawing_turn is None:
            raise GameError(services.NOT_DRAWING, code="not_drawer")
        if message.stroke != self.live_index:  # a new stroke began (its end may never have come)
            self.live_stroke, self.live_index, self.live_refused = [], message.stroke, False
        room = min(protocol.MAX_POINTS_PER_STROKE - len(self.live_stroke),
                   protocol.MAX_POINTS_PER_DRAWING - self.drawing_points - len(self.live_stroke))
        points = message.points[:max(0, room)]
        if len(points) < len(message.points) and not self.live_refused:
            # An endless stroke: nothing more of it is kept, relayed or classified until it ends.
            self.live_refused = True
            await self.send_error(GameError("That line is too long: lift the pen and start a new one.",
                                            code="stroke_too_long"))
        if not points:
            return
        # Live relay only: nothing is stored until the stroke ends.
        payload = protocol.PointsOut(turn_id=self.drawing_turn, stroke=message.stroke,
                                     points=protocol.compact_points(points), width=message.width)
        await self.channel_layer.group_send(
            events.room_group(self.code), events.room_event(payload, sender=self.channel_name)
        )
        self.live_stroke.extend(points)
        now = time.monotonic()
        if now - self.last_partial >= PARTIAL_INFERENCE_SECONDS and len(self.live_stroke) > 1:
            self.last_partial = now
            partial = [[p[0] for p in self.live_stroke], [p[1] for p in self.live_stroke]]
            await self._infer([*self.strokes, partial], partial=True)

    # Strokes, undo and clear change the AI's copy of the drawing at once (it
    # answers without waiting for the database) and are stored through the
    # lane, in order; the stored drawing is what everyone else is shown.

    async def on_stroke(self, message: protocol.StrokeEnd):
        if self._late_drawing():
            return
        points = message.points
        if self.drawing_turn is not None and self.drawing_points + len(points) <= protocol.MAX_POINTS_PER_DRAWING:
            self.strokes.append([[p[0] for p in points], [p[1] for p in points]])
            self.drawing_points += len(points)
            self.live_stroke, self.live_index, self.live_refused = [], -1, False
            self.last_partial = time.monotonic()
            await self._infer([*self.strokes])
        self.lane.submit(
            self._store, services.add_stroke, {"index": message.stroke, "points": points, "width": message.width}
        )

    async def on_undo(self, message: protocol.Undo):
        if self.drawing_turn is not None:
            if self.strokes:
                self.drawing_points -= len(self.strokes[-1][0])
            self.strokes, self.live_stroke, self.live_index = self.strokes[:-1], [], -1
            if self.strokes:
                await self._infer([*self.strokes])
        self.lane.submit(self._store, services.undo_stroke, {})

    async def on_clear(self, message: protocol.Clear):
        if self.drawing_turn is not None:
            self._hold_drawing([])
        self.lane.submit(self._store, services.clear_canvas, {})

    async def _store(self, change, fields: dict) -> None:
        """Store one drawing change (in the lane). Refused, the AI's copy is reloaded from the database."""
        if self.player_id is None:
            return  # removed by the host since (_handle checked the seat): this socket is closing
        try:
            await database_sync_to_async(change)(player_id=self.player_id, **fields)
        except GameError as exc:
            if self.drawing_turn is not None:
                stored = await database_sync_to_async(selectors.drawing)(turn_id=self.drawing_turn)
                self._hold_drawing(stored[0] if stored else [])
            if not (exc.code == "not_drawer" and self._late_drawing()):
                await self.send_error(exc)

    async def _infer(self, strokes: list, *, partial: bool = False) -> None:
        if self.drawing_turn is None:
            return
        await request_inference(
            room=self.code,
            drawing_id=self.drawing_turn,
            # Wall-clock milliseconds: newer versions always compare greater,
            # even after the drawer reconnects through another process.
            version=time.time_ns() // 1_000_000,
            strokes=strokes,
            partial=partial,
        )

    async def _close_if_abusive(self) -> None:
        if self.limits.abusive():
            log.warning("closing an abusive socket in room %s (player %s)", self.code, self.player_id)
            await self.close(code=ABUSE_CLOSE_CODE)

    # --- outgoing -------------------------------------------------------------------------

    async def send_error(self, exc: GameError):
        await self.send(_dump(protocol.ErrorOut(code=exc.code, message=exc.message)))

    seen_turn: int | None = None  # the turn of the newest view this socket knows

    async def _snapshot(self) -> protocol.Snapshot:
        state = await database_sync_to_async(selectors.snapshot)(room_id=self.room_id, player_id=self.player_id)
        return self._apply(state)

    def _apply(self, state: protocol.Snapshot) -> protocol.Snapshot:
        """What this socket keeps of a view of the room: whether it is drawing (a new turn starts empty)."""
        if state.version < self.seen_version:
            return state  # an older read that finished late: what this socket knows is newer
        self.seen_version = state.version
        self.seen_turn = state.turn_id
        drawing = state.phase == Phase.DRAWING and state.drawer_id == self.player_id
        if drawing and self.drawing_turn != state.turn_id:
            self._hold_drawing([])  # a turn starts with an empty canvas; a rejoin loads it (_join)
        if self.drawing_turn is not None and not drawing:
            self.stopped_drawing_at = time.monotonic()
        self.drawing_turn = state.turn_id if drawing else None
        return state

    async def room_changed(self, event):
        """Send this player's new view, made beside the dispatch loop from a read shared with the room's sockets here."""
        version = event.get("version", self.sent_version + 1)
        if self.player_id is None or version <= self.sent_version:
            return  # this view went out already
        self.wanted_version = max(self.wanted_version, version)
        if self.refreshing is None or self.refreshing.done():
            self.refreshing = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        try:
            await self._send_views()
        except Exception as exc:  # noqa: BLE001 - never a silent dead task: logged, and the client rejoins
            log.exception("sending room %s's state to player %s failed", self.code, self.player_id)
            await self._failed(exc)

    async def _send_views(self) -> None:
        while self.wanted_version > self.sent_version and self.player_id is not None and not self.gone:
            try:
                read = await room_reads.room_read(self.room_id, version=self.wanted_version)
            except Room.DoesNotExist:  # cleaned up under us
                return
            if self.player_id is None:
                return
            state = self._apply(selectors.view_of(read, player_id=self.player_id))
            if state.version <= self.sent_version:
                return
            self.sent_version = state.version
            await self.send(_dump(protocol.State(state=state)))

    async def player_kicked(self, event):
        """The host removed this player: tell them, then stop serving this socket."""
        await self.send_error(GameError("the host removed you from the room", code="kicked"))
        player_id, self.player_id = self.player_id, None  # the seat is gone already: nothing to disconnect
        if player_id is not None:
            await self._leave_groups(player_id)
        await self.close(code=4403)

    async def room_event(self, event):
        if event.get("sender") == self.channel_name:
            return  # the drawer already shows their own points
        text = event.get("text")
        if text is None:  # from a process still on the older message form, during a rolling deploy
            text = json.dumps(event["payload"])
        await self.send(text)
