"""The room's WebSocket consumer: parse, validate, call one action, send.

Rules live in game.machine and game.rules, changes in game.actions; this only
translates between frames and function calls. What it keeps in memory is a
cache of facts the database already holds (who this socket is, whether it
draws now, whether its player knows the word), refreshed on every view it
sends, so any web process can serve any player.
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
from game import actions, address_limits, events, presence, protocol, ratelimit, room_reads, selectors
from game.ai import canvas_context, canvas_key
from game.errors import GameError
from game.models import Room
from game.ratelimit import ABUSE_CLOSE_CODE, ConnectionLimits
from game.rules import Mode
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
KICKED_CLOSE_CODE = 4403
NO_ROOM_CLOSE_CODE = 4404
# A socket must take a seat this soon after opening, or it is closed (idle sockets cost memory).
JOIN_TIMEOUT_SECONDS = 15.0
# What Daphne may hold unsent for one client; past it the client is not reading and is dropped.
OUTBOX_LIMIT_BYTES = 1024 * 1024
# A whole canvas is sent a chunk at a time, each once the client has taken most of the last.
OUTBOX_PACE_BYTES = 128 * 1024
PACE_WAIT_SECONDS = 20.0


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
    mode: str = Mode.CLASSIC
    canvas_turn: int | None = None  # the turn whose canvas this player draws now (None: not drawing)
    known_turn: int | None = None  # the turn whose word this player knows
    strokes: list  # this player's canvas as the AI sees it: finished strokes (set in connect)
    drawing_points: int = 0  # points in `strokes`
    live_stroke: list  # points of the stroke being drawn
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
            await self.send_error(GameError("There is no room with that code", code="no_room"))
            await self.close(code=NO_ROOM_CLOSE_CODE)
            return
        self.room_id, self.mode = room.pk, room.mode
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
            self.lane.submit(database_sync_to_async(actions.do_disconnect), player_id=player_id)

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

    async def _paced(self) -> None:
        """Wait (bounded) until the client has taken most of what was sent: before the next chunk of a burst."""
        end = time.monotonic() + PACE_WAIT_SECONDS
        while not self.gone and time.monotonic() < end:
            queued = transport.queued_bytes(self.base_send)
            if queued is None or queued <= OUTBOX_PACE_BYTES:
                return
            await asyncio.sleep(0.05)

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
            await self.send_error(GameError("The server is busy: try that again in a moment", code="busy"))
        else:
            self.joins_pending += message.type == "join"
            self.lane.submit(self._handle, message)

    async def _handle(self, message: protocol.ClientMessage) -> None:
        if message.type not in ("join", "ping") and self.player_id is None:
            await self.send_error(GameError("Join the room first", code="not_joined"))
            return
        try:
            await getattr(self, f"on_{message.type}")(message)
        except GameError as exc:
            await self.send_error(exc)

    async def _act(self, action, **fields) -> None:
        """One game action for this socket's player, in the database thread."""
        await database_sync_to_async(action)(player_id=self.player_id, room_id=self.room_id, **fields)

    async def on_ping(self, message: protocol.Ping):
        await self.send(_dump(protocol.Pong()))

    async def on_join(self, message: protocol.Join):
        try:
            await self._join(message)
        finally:
            self.joins_pending -= 1

    async def _join(self, message: protocol.Join):
        if self.player_id is not None:
            raise GameError("You have joined already", code="already_joined")
        if self.gone:
            return
        player = await database_sync_to_async(actions.do_join)(
            code=self.code, name=message.name, token=message.token, address=address_limits.address_key(self.address)
        )
        player = await database_sync_to_async(actions.do_connect)(player_id=player.pk)
        self.player_id, self.seat_epoch = player.pk, player.seat_epoch
        # One socket per seat: an older one (another tab, a connection not yet noticed dead) gives way.
        await self.channel_layer.group_add(events.player_group(player.pk), self.channel_name)
        await self.channel_layer.group_send(
            events.player_group(player.pk),
            {"type": "seat.taken", "epoch": self.seat_epoch, "channel": self.channel_name},
        )
        # Room traffic only for sockets that took a seat.
        await self.channel_layer.group_add(events.room_group(self.code), self.channel_name)
        presence.opened(player.pk)
        self.limits = ratelimit.for_seat(player.pk)  # a reload does not refill the seat's allowance
        read = await database_sync_to_async(selectors.read_room)(room_id=self.room_id)  # with this seat in it
        state = self._apply(selectors.view_of(read, player_id=player.pk))
        self.sent_version = max(self.sent_version, state.version)
        await self.send(_dump(protocol.Welcome(player_id=player.pk, token=player.token, state=state)))
        history = await database_sync_to_async(selectors.chat_history)(
            room_id=self.room_id, state=read.state, player_id=player.pk
        )
        if history:
            await self.send(_dump(protocol.ChatHistory(lines=history)))
        if state.turn_id is not None:
            for owner in selectors.canvases_to_show(read.state, player.pk):
                strokes = await self._send_canvas(state.turn_id, owner)
                if owner == player.pk and self.canvas_turn == state.turn_id:
                    self._hold_drawing(strokes)

    async def seat_taken(self, event):
        """A newer socket took this seat: this one stops (and says why), unless it is the newer one."""
        if event["channel"] == self.channel_name or event["epoch"] <= self.seat_epoch or self.player_id is None:
            return
        await self.send_error(
            GameError("You opened this room in another tab or window; this one has stopped.", code="replaced")
        )
        await self.close(code=REPLACED_CLOSE_CODE)

    async def on_sync(self, message: protocol.Sync):
        read = await room_reads.room_read(self.room_id, version=0)
        turn = read.state.turn
        if turn is None:
            return
        for owner in selectors.canvases_to_show(read.state, self.player_id):
            if owner != self.player_id or self.canvas_turn is None:  # a drawer's own page is the reference
                await self._send_canvas(turn.turn_no, owner)

    async def _send_canvas(self, turn_no: int, owner: int) -> list:
        """Send this socket one stored canvas in bounded, paced chunks; returns its strokes."""
        strokes, widths, colors = await database_sync_to_async(selectors.canvas)(
            room_id=self.room_id, turn_no=turn_no, owner=owner
        )
        for frame in protocol.canvas_frames(turn_no, owner, selectors.stroke_views(strokes, widths, colors)):
            await self._paced()
            await self.send(_dump(frame))
        return strokes

    async def on_settings(self, message: protocol.UpdateSettings):
        await self._act(actions.do_update_settings, **message.model_dump(exclude={"type"}, exclude_none=True))

    async def on_start(self, message: protocol.Start):
        await self._act(actions.do_start)

    async def on_play_again(self, message: protocol.PlayAgain):
        await self._act(actions.do_play_again)

    async def on_choose_word(self, message: protocol.ChooseWord):
        await self._act(actions.do_choose_word, word=message.word)

    async def on_kick(self, message: protocol.Kick):
        await self._act(actions.do_kick, target_id=message.player_id)

    async def on_votekick(self, message: protocol.VoteKick):
        await self._act(actions.do_votekick, target_id=message.player_id)

    async def on_leave(self, message: protocol.Leave):
        await self._act(actions.do_leave)
        await self.close(code=1000)

    async def on_guess(self, message: protocol.GuessText):
        await self._act(actions.do_guess, text=message.text)

    # --- drawing ----------------------------------------------------------------------------

    def _late_drawing(self) -> bool:
        """The turn just ended under a drawer whose last points were on their way: not an error."""
        return self.canvas_turn is None and time.monotonic() - self.stopped_drawing_at < LATE_DRAWING_SECONDS

    def _hold_drawing(self, strokes: list) -> None:
        """This player's canvas as the AI is shown it, as stored."""
        self.strokes = [[list(s[0]), list(s[1])] for s in strokes]
        self.drawing_points = sum(len(s[0]) for s in strokes)
        self.live_stroke, self.live_index, self.live_refused = [], -1, False

    async def on_points(self, message: protocol.Points):
        if self._late_drawing():
            return
        if self.canvas_turn is None:
            raise GameError("Only the drawer can draw, and only while drawing", code="not_drawer")
        if message.stroke != self.live_index:  # a new stroke began (its end may never have come)
            self.live_stroke, self.live_index, self.live_refused = [], message.stroke, False
        room = min(
            protocol.MAX_POINTS_PER_STROKE - len(self.live_stroke),
            protocol.MAX_POINTS_PER_DRAWING - self.drawing_points - len(self.live_stroke),
        )
        points = message.points[: max(0, room)]
        if len(points) < len(message.points) and not self.live_refused:
            # An endless stroke: nothing more of it is kept, relayed or classified until it ends.
            self.live_refused = True
            await self.send_error(
                GameError("That line is too long: lift the pen and start a new one.", code="stroke_too_long")
            )
        if not points:
            return
        if self.mode == Mode.CLASSIC:  # live points for the guessers (racers see each other's finished strokes)
            frame = protocol.points_frame(
                turn_id=self.canvas_turn,
                owner=self.player_id,
                stroke=message.stroke,
                points=points,
                width=message.width,
                color=message.color,
            )
            await self.channel_layer.group_send(
                events.room_group(self.code), events.room_event(frame, sender=self.channel_name)
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
        if self.canvas_turn is not None and self.drawing_points + len(points) <= protocol.MAX_POINTS_PER_DRAWING:
            self.strokes.append([[p[0] for p in points], [p[1] for p in points]])
            self.drawing_points += len(points)
            self.live_stroke, self.live_index, self.live_refused = [], -1, False
            self.last_partial = time.monotonic()
            await self._infer([*self.strokes])
        self.lane.submit(
            self._store, actions.do_stroke, {"points": points, "width": message.width, "color": message.color}
        )

    async def on_undo(self, message: protocol.Undo):
        if self.canvas_turn is not None:
            if self.strokes:
                self.drawing_points -= len(self.strokes[-1][0])
            self.strokes, self.live_stroke, self.live_index = self.strokes[:-1], [], -1
            if self.strokes:
                await self._infer([*self.strokes])
        self.lane.submit(self._store, actions.do_undo, {})

    async def on_clear(self, message: protocol.Clear):
        if self.canvas_turn is not None:
            self._hold_drawing([])
        self.lane.submit(self._store, actions.do_clear, {})

    async def _store(self, change, fields: dict) -> None:
        """Store one drawing change (in the lane). Refused, the AI's copy is reloaded from the database."""
        if self.player_id is None:
            return  # removed since (_handle checked the seat): this socket is closing
        try:
            await self._act(change, **fields)
        except GameError as exc:
            if self.canvas_turn is not None:
                strokes, _, _ = await database_sync_to_async(selectors.canvas)(
                    room_id=self.room_id, turn_no=self.canvas_turn, owner=self.player_id
                )
                self._hold_drawing(strokes)
            if not (exc.code == "not_drawer" and self._late_drawing()):
                await self.send_error(exc)

    async def _infer(self, strokes: list, *, partial: bool = False) -> None:
        if self.canvas_turn is None:
            return
        await request_inference(
            key=canvas_key(self.room_id, self.canvas_turn, self.player_id),
            context=canvas_context(self.room_id, self.canvas_turn, self.player_id),
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

    def _apply(self, state: protocol.Snapshot) -> protocol.Snapshot:
        """What this socket keeps of a view: whether it draws now, whether its player knows the word."""
        if state.version < self.seen_version:
            return state  # an older read that finished late: what this socket knows is newer
        self.seen_version = state.version
        self.known_turn = state.turn_id if state.word is not None else None
        drawing = state.can_draw and state.turn_id is not None
        if drawing and self.canvas_turn != state.turn_id:
            self._hold_drawing([])  # a turn starts with an empty canvas; a rejoin loads it (_join)
        if self.canvas_turn is not None and not drawing:
            self.stopped_drawing_at = time.monotonic()
        self.canvas_turn = state.turn_id if drawing else None
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
        """The host (or a vote) removed this player: tell them, then stop serving this socket."""
        await self.send_error(GameError("You were removed from the room", code="kicked"))
        player_id, self.player_id = self.player_id, None  # the seat is gone already: nothing to disconnect
        if player_id is not None:
            await self._leave_groups(player_id)
        await self.close(code=KICKED_CLOSE_CODE)

    async def room_event(self, event):
        if event.get("sender") == self.channel_name:
            return  # the drawer already shows their own points
        if "text_knowers" in event:  # a frame in two versions: the plain one only for who knows the word
            text = event["text_knowers"] if self.known_turn == event.get("turn") else event.get("text")
        else:
            text = event.get("text")
            if text is None and "payload" in event:  # from a process still on the older form, during a deploy
                text = json.dumps(event["payload"])
        if text is not None:
            await self.send(text)
