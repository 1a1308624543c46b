"""The WebSocket protocol: every message both ways, as pydantic models.

This module is the single source of truth; docs/protocol.md describes it with
an example of each message. Incoming frames are parsed with
:func:`parse_client_message`; anything that does not validate becomes an
``error`` message back to the sender and the connection stays open.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

# The drawing surface is a fixed logical canvas; browsers scale it to fit, so
# every screen and the stored drawing share one coordinate system.
CANVAS_WIDTH = 800
CANVAS_HEIGHT = 600
MAX_POINTS_PER_BATCH = 120
MAX_POINTS_PER_STROKE = 3000
MAX_STROKES_PER_DRAWING = 400
MAX_STROKE_MS = 10 * 60 * 1000
BRUSH_SIZES = (4, 10, 22)
MAX_TEXT = 100
MAX_FRAME_BYTES = 64 * 1024

Coord = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=20)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# --- client -> server ----------------------------------------------------------


class Join(Message):
    type: Literal["join"]
    name: Name
    token: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _name_is_visible(self):
        self.name = " ".join(self.name.split())
        if not self.name or any(ord(c) < 32 for c in self.name):
            raise ValueError("name must have 1-20 visible characters")
        return self


class UpdateSettings(Message):
    type: Literal["settings"]
    rounds: Annotated[int, Field(ge=1, le=10)] | None = None
    draw_seconds: Annotated[int, Field(ge=30, le=240)] | None = None
    word_choices: Annotated[int, Field(ge=1, le=5)] | None = None
    max_players: Annotated[int, Field(ge=2, le=16)] | None = None
    is_public: bool | None = None


class Start(Message):
    type: Literal["start"]


class PlayAgain(Message):
    type: Literal["play_again"]


class ChooseWord(Message):
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


class _StrokeMessage(Message):
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


class Undo(Message):
    type: Literal["undo"]


class Clear(Message):
    type: Literal["clear"]


class GuessText(Message):
    type: Literal["guess"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class Kick(Message):
    type: Literal["kick"]
    player_id: int


class VoteKick(Message):
    """Anyone seated: a vote to remove a player; a strict majority of the others removes them."""

    type: Literal["votekick"]
    player_id: int


class Leave(Message):
    type: Literal["leave"]


class Ping(Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    Join | UpdateSettings | Start | PlayAgain | ChooseWord | Points | StrokeEnd | Undo | Clear | GuessText | Kick | VoteKick
    | Leave | Ping,
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
        detail = first.get("msg", "invalid")
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


class StrokeView(Message):
    points: list[list[float]]
    width: int


class GalleryItem(Message):
    turn_id: int
    word: str
    drawer: str
    strokes: list[StrokeView]
    ai: list[AIGuess]
    ai_right: bool


class Reveal(Message):
    word: str
    drawer: str
    guessed: list[str]
    ai_timeline: list[dict]
    ai_guessed_ms: int | None


class Snapshot(Message):
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
    canvas: list[StrokeView]
    ai: list[AIGuess]
    ai_threshold: float  # below this top-1 probability the AI is "not sure yet"
    reveal: Reveal | None
    gallery: list[GalleryItem] | None


class Welcome(Message):
    type: Literal["welcome"] = "welcome"
    player_id: int
    token: str
    state: Snapshot


class State(Message):
    type: Literal["state"] = "state"
    state: Snapshot


class PointsOut(Message):
    type: Literal["points"] = "points"
    turn_id: int
    stroke: int
    points: list[list[float]]
    width: int


class StrokeOut(Message):
    type: Literal["stroke"] = "stroke"
    turn_id: int
    stroke: int
    points: list[list[float]]
    width: int


class CanvasOut(Message):
    """The whole canvas after an undo or clear."""

    type: Literal["canvas"] = "canvas"
    turn_id: int
    strokes: list[StrokeView]


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
