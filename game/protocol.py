"""The WebSocket protocol: every message both ways, as pydantic models.

This module is the single source of truth; docs/protocol.md describes it with
an example of each message. Incoming frames are parsed with
:func:`parse_client_message`; anything that does not validate becomes an
``error`` message back to the sender and the connection stays open. Types are
strict: "4" is not 4 and true is not 1.

Every frame the server sends fits the deployed WebSocket limit
(MAX_FRAME_BYTES, enforced by Daphne in both directions) whatever players
draw: points go out as compact [x, y] pairs, a drawing travels in `canvas`
chunks of at most OUT_CHUNK_BYTES, and the gallery and thumbnails are fetched
over HTTP. tests/test_frame_limits.py sends the largest legal drawing and game
through a deployed server.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from game.names import MAX_NAME, clean_name, name_problem

# The drawing surface is a fixed logical canvas; browsers scale it to fit, so
# every screen and the stored drawing share one coordinate system.
CANVAS_WIDTH = 800
CANVAS_HEIGHT = 600
MAX_POINTS_PER_BATCH = 120
MAX_POINTS_PER_STROKE = 3000
MAX_STROKES_PER_DRAWING = 400
# All strokes of one drawing together: far above a detailed drawing (1,000-3,500 points), and what one
# player may make the server store and replay to everyone.
MAX_POINTS_PER_DRAWING = 20_000
MAX_STROKE_MS = 10 * 60 * 1000
BRUSH_SIZES = (4, 10, 22)
MAX_TEXT = 100
# Daphne's --websocket-max-message-size and --websocket-max-frame-size as deployed (both directions).
MAX_FRAME_BYTES = 64 * 1024
# A `canvas` frame carries strokes up to this many bytes of points (a 3,000-point stroke is at most
# 3,000 * len("[799.9,599.9],") = 42,000 bytes, so any one stroke fits).
OUT_CHUNK_BYTES = 48 * 1024

Coord = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=4 * MAX_NAME)]  # cleaned (and measured) below


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ClientFrame(Message):
    """A message from a client: strict types (a number in quotes, or true for 1, is refused)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


# --- client -> server ----------------------------------------------------------


class Join(ClientFrame):
    type: Literal["join"]
    name: Name
    token: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _name_is_visible(self):
        self.name = clean_name(self.name)
        problem = name_problem(self.name)
        if problem:
            raise ValueError(problem)
        return self


class UpdateSettings(ClientFrame):
    type: Literal["settings"]
    rounds: Annotated[int, Field(ge=1, le=10)] | None = None
    draw_seconds: Annotated[int, Field(ge=30, le=240)] | None = None
    word_choices: Annotated[int, Field(ge=1, le=5)] | None = None
    max_players: Annotated[int, Field(ge=2, le=16)] | None = None
    is_public: bool | None = None


class Start(ClientFrame):
    type: Literal["start"]


class PlayAgain(ClientFrame):
    type: Literal["play_again"]


class ChooseWord(ClientFrame):
    type: Literal["choose_word"]
    word: Annotated[str, Field(min_length=1, max_length=100)]


def _check_points(points: list[list[float]]) -> None:
    for p in points:
        if len(p) != 3:
            raise ValueError("a point is [x, y, t]")
        x, y, t = p
        if not (0 <= x <= CANVAS_WIDTH and 0 <= y <= CANVAS_HEIGHT):
            raise ValueError(f"points must lie on the {CANVAS_WIDTH}x{CANVAS_HEIGHT} canvas")
        if not (0 <= t <= MAX_STROKE_MS * 100):
            raise ValueError("t must be milliseconds since the turn started")


class _StrokeMessage(ClientFrame):
    stroke: Annotated[int, Field(ge=0, le=MAX_STROKES_PER_DRAWING)]
    points: list[list[Coord]]
    width: Literal[4, 10, 22] = 10

    @model_validator(mode="after")
    def _valid(self):
        _check_points(self.points)
        return self


class Points(_StrokeMessage):
    """A batch of the stroke being drawn, sent about every 50 ms for others to see live."""

    type: Literal["points"]
    points: Annotated[list[list[Coord]], Field(min_length=1, max_length=MAX_POINTS_PER_BATCH)]


class StrokeEnd(_StrokeMessage):
    """The finished stroke, whole: what is stored and what the AI sees."""

    type: Literal["stroke"]
    points: Annotated[list[list[Coord]], Field(min_length=1, max_length=MAX_POINTS_PER_STROKE)]


class Undo(ClientFrame):
    type: Literal["undo"]


class Clear(ClientFrame):
    type: Literal["clear"]


class GuessText(ClientFrame):
    type: Literal["guess"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class Kick(ClientFrame):
    type: Literal["kick"]
    player_id: int


class VoteKick(ClientFrame):
    """Anyone seated: a vote to remove a player; a strict majority of the others removes them."""

    type: Literal["votekick"]
    player_id: int


class Leave(ClientFrame):
    type: Literal["leave"]


class Ping(ClientFrame):
    type: Literal["ping"]


class Sync(ClientFrame):
    """Send me the whole canvas again (a client that missed a stroke asks for it)."""

    type: Literal["sync"]


ClientMessage = Annotated[
    Join | UpdateSettings | Start | PlayAgain | ChooseWord | Points | StrokeEnd | Undo | Clear | GuessText | Kick | VoteKick
    | Leave | Ping | Sync,
    Field(discriminator="type"),
]
_client_adapter: TypeAdapter = TypeAdapter(ClientMessage)


class ProtocolError(ValueError):
    """A frame that is not a valid client message; `.message` is safe to show the sender."""

    def __init__(self, message: str, code: str = "invalid_message"):
        super().__init__(message)
        self.message = message
        self.code = code


def parse_client_message(raw: str | bytes) -> ClientMessage:
    if isinstance(raw, bytes):
        raise ProtocolError("send JSON text frames, not binary")
    if len(raw) > MAX_FRAME_BYTES:
        raise ProtocolError(f"message too large (over {MAX_FRAME_BYTES} bytes)", code="too_large")
    try:
        return _client_adapter.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = first.get("msg", "invalid").removeprefix("Value error, ")
        if first.get("type") == "value_error":  # our own checks speak to the player already
            raise ProtocolError(detail) from exc
        raise ProtocolError(f"invalid message: {where}: {detail}" if where else f"invalid message: {detail}") from exc


# --- server -> client ----------------------------------------------------------


class PlayerView(Message):
    id: int
    name: str
    score: int
    connected: bool
    is_ai: bool
    is_host: bool
    is_drawer: bool
    guessed: bool
    kick_votes: int = 0  # votes to remove this player so far


class AIGuess(Message):
    label: str
    p: float


Number = int | float  # integers stay integers on the wire (15234, never 15234.0)
CompactPoint = list[Number]  # [x, y] on the logical canvas, one decimal at most


def compact_points(points) -> list[CompactPoint]:
    """Points as the server sends them: [x, y], one decimal, integral values as integers.

    Viewers need no timestamps; dropping them and the float form keeps a
    3,000-point stroke under 42 kB, inside one frame with room to spare.
    """
    out = []
    for p in points:
        x, y = round(float(p[0]), 1), round(float(p[1]), 1)
        out.append([int(x) if x.is_integer() else x, int(y) if y.is_integer() else y])
    return out


class StrokeView(Message):
    points: list[CompactPoint]
    width: int


class GalleryItem(Message):
    """One drawing of a finished game, as `/rooms/<code>/gallery.json` lists it (not over the socket)."""

    turn_id: int
    word: str
    drawer: str
    thumb_url: str  # a small SVG, bounded whatever was drawn
    ai: list[AIGuess]
    ai_right: bool
    ai_ms: int | None  # when the AI named it, ms into the turn


class TimelineEntry(Message):
    ms: int
    guesses: list[list[Number | str]]  # [[label, p], ...], the top-3 when its top-1 changed


# The reveal shows the AI's changes of mind; a turn's timeline may be longer, but the reveal keeps its
# first entries and the last ones (where the AI ended up) so the state frame stays small.
MAX_TIMELINE_SHOWN = 30


class Reveal(Message):
    word: str
    drawer: str
    guessed: list[str]
    ai_timeline: list[TimelineEntry]
    ai_guessed_ms: int | None


class Snapshot(Message):
    """One player's view of the room. Bounded in size: the canvas and the gallery travel separately."""

    code: str
    is_public: bool
    phase: str
    version: int
    game_no: int
    round: int
    rounds: int
    draw_seconds: int
    word_choices: int
    max_players: int
    players: list[PlayerView]
    kick_votes_needed: int  # votes a votekick against any one player needs now
    drawer_id: int | None
    turn_id: int | None
    word_mask: str | None
    word: str | None  # only the drawer's copy, or everyone's once the turn is over
    choices: list[str] | None  # only the drawer, while choosing
    deadline_ms: int | None
    phase_seconds: int | None  # the current phase's full length, for the countdown ring
    server_ms: int
    ai: list[AIGuess]
    ai_threshold: float  # below this top-1 probability the AI is "not sure yet"
    reveal: Reveal | None
    gallery_url: str | None  # at game over: where the drawings of this game are listed (GalleryItem)


class Welcome(Message):
    type: Literal["welcome"] = "welcome"
    player_id: int
    token: str
    state: Snapshot


class State(Message):
    type: Literal["state"] = "state"
    state: Snapshot


class PointsOut(Message):
    """Part of the stroke being drawn (at most MAX_POINTS_PER_BATCH points)."""

    type: Literal["points"] = "points"
    turn_id: int
    stroke: int
    points: list[CompactPoint]
    width: int


class StrokeOut(Message):
    """A finished stroke, whole (at most MAX_POINTS_PER_STROKE points)."""

    type: Literal["stroke"] = "stroke"
    turn_id: int
    stroke: int
    points: list[CompactPoint]
    width: int


class CanvasOut(Message):
    """Strokes `start`.. of the drawing, which has `total` strokes in all: drop any at or past `total`.

    After a join or a `sync` the whole drawing comes as several of these (start 0 first), each at
    most OUT_CHUNK_BYTES of points; after an undo or a clear one with no strokes says the new total.
    """

    type: Literal["canvas"] = "canvas"
    turn_id: int
    start: int
    total: int
    strokes: list[StrokeView]


# The longest a compact point can be: "[799.9,599.9]," (the logical canvas is 800x600).
_POINT_BYTES_MAX = 14
_STROKE_BYTES_MAX = 32  # {"points":[],"width":22}, plus a comma


def canvas_frames(turn_id: int, strokes: list[StrokeView]) -> list[CanvasOut]:
    """The whole drawing as `canvas` chunks, each at most OUT_CHUNK_BYTES of strokes (start 0 first).

    Sizes are worst-case bounds per point, not measured: whatever the
    coordinates, a chunk never exceeds its budget. A drawing with no strokes
    is one empty chunk (total 0), which also clears what the client shows.
    """
    frames: list[CanvasOut] = []
    chunk: list[StrokeView] = []
    used = 0
    start = 0
    for index, stroke in enumerate(strokes):
        size = _STROKE_BYTES_MAX + _POINT_BYTES_MAX * len(stroke.points)
        if chunk and used + size > OUT_CHUNK_BYTES:
            frames.append(CanvasOut(turn_id=turn_id, start=start, total=len(strokes), strokes=chunk))
            chunk, used, start = [], 0, index
        chunk.append(stroke)
        used += size
    frames.append(CanvasOut(turn_id=turn_id, start=start, total=len(strokes), strokes=chunk))
    return frames


class AIOut(Message):
    type: Literal["ai"] = "ai"
    turn_id: int
    version: int
    guesses: list[AIGuess]
    confident: bool


class Chat(Message):
    type: Literal["chat"] = "chat"
    kind: Literal["guess", "correct", "close", "system", "ai"]
    text: str
    player_id: int | None = None
    name: str | None = None


class ErrorOut(Message):
    type: Literal["error"] = "error"
    code: str
    message: str


class Pong(Message):
    type: Literal["pong"] = "pong"
