"""The WebSocket protocol: every message both ways, as pydantic models.

This module is the single source of truth: docs/protocol.md is generated from
it (`python manage.py protocol_docs`; a test fails when the file is stale),
and the tests check every frame they receive against SERVER_MESSAGES.
Incoming frames are parsed with :func:`parse_client_message`; anything that
does not validate becomes an ``error`` message back to the sender and the
connection stays open. Types are strict: "4" is not 4 and true is not 1.

Every frame the server sends fits the deployed WebSocket limit
(MAX_FRAME_BYTES, enforced by Daphne in both directions) whatever players
draw: points go out as compact [x, y] pairs, a drawing travels in `canvas`
chunks of at most OUT_CHUNK_BYTES, and the gallery and thumbnails are fetched
over HTTP. tests/test_frame_limits.py sends the largest legal drawing and game
through a deployed server.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from game import rules

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
# The drawer's colours. The AI reads strokes, not pixels: colour never changes its guesses.
PALETTE = ("#111111", "#e53935", "#fb8c00", "#fdd835", "#43a047", "#1e88e5", "#8e24aa", "#795548")
INK = PALETTE[0]
MAX_TEXT = 100
# Daphne's --websocket-max-message-size and --websocket-max-frame-size as deployed (both directions).
MAX_FRAME_BYTES = 64 * 1024
# A `canvas` frame carries strokes up to this many bytes of points (a 3,000-point stroke is at most
# 3,000 * len("[799.9,599.9],") = 42,000 bytes, so any one stroke fits).
OUT_CHUNK_BYTES = 48 * 1024

Coord = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=4 * rules.NAME_MAX_LENGTH)]  # cleaned (and measured) below
Color = Literal[PALETTE]  # type: ignore[valid-type]


def _setting(key: str):
    lo, hi = rules.SETTING_RANGES[key]
    return Annotated[int, Field(ge=lo, le=hi)] | None


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ClientFrame(Message):
    """A message from a client: strict types (a number in quotes, or true for 1, is refused)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


# --- client -> server ----------------------------------------------------------


class Join(ClientFrame):
    """Take a seat (the first message of a socket), or take yours back with the token the welcome gave."""

    type: Literal["join"]
    name: Name
    token: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _name_is_visible(self):
        self.name = rules.clean_name(self.name)
        problem = rules.name_problem(self.name, ())
        if problem:
            raise ValueError(problem)
        return self


class UpdateSettings(ClientFrame):
    """The host, between games: any of the settings (ranges: game.rules.SETTING_RANGES)."""

    type: Literal["settings"]
    rounds: _setting("rounds") = None
    draw_seconds: _setting("draw_seconds") = None
    word_choices: _setting("word_choices") = None
    max_players: _setting("max_players") = None
    solo_words: _setting("solo_words") = None
    is_public: bool | None = None
    ai_mode: Literal[rules.AI_MODES] | None = None  # type: ignore[valid-type]


class Start(ClientFrame):
    """The host starts the game."""

    type: Literal["start"]


class PlayAgain(ClientFrame):
    """The host, at game over: back to the lobby, scores reset."""

    type: Literal["play_again"]


class ChooseWord(ClientFrame):
    """The drawer picks one of the offered words."""

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
    width: Literal[BRUSH_SIZES] = 10  # type: ignore[valid-type]
    color: Color = INK

    @model_validator(mode="after")
    def _valid(self):
        _check_points(self.points)
        return self


class Points(_StrokeMessage):
    """A batch of the stroke being drawn ([x, y, ms] points), sent about every 50 ms for others to see live."""

    type: Literal["points"]
    points: Annotated[list[list[Coord]], Field(min_length=1, max_length=MAX_POINTS_PER_BATCH)]


class StrokeEnd(_StrokeMessage):
    """The finished stroke, whole: what is stored and what the AI sees."""

    type: Literal["stroke"]
    points: Annotated[list[list[Coord]], Field(min_length=1, max_length=MAX_POINTS_PER_STROKE)]


class Undo(ClientFrame):
    """Take back my last stroke."""

    type: Literal["undo"]


class Clear(ClientFrame):
    """Clear my canvas."""

    type: Literal["clear"]


class GuessText(ClientFrame):
    """A chat line: a guess while a word is being drawn."""

    type: Literal["guess"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class Kick(ClientFrame):
    """The host removes a player."""

    type: Literal["kick"]
    player_id: int


class VoteKick(ClientFrame):
    """Anyone seated: a vote to remove a player; a strict majority of the other addresses removes them."""

    type: Literal["votekick"]
    player_id: int


class Leave(ClientFrame):
    """I leave the room (my seat goes; the socket is closed)."""

    type: Literal["leave"]


class Ping(ClientFrame):
    """Keep-alive: answered with `pong`."""

    type: Literal["ping"]


class Sync(ClientFrame):
    """Send me the whole canvas again (a client that missed a stroke asks for it)."""

    type: Literal["sync"]


CLIENT_MESSAGES = (
    Join,
    UpdateSettings,
    Start,
    PlayAgain,
    ChooseWord,
    Points,
    StrokeEnd,
    Undo,
    Clear,
    GuessText,
    Kick,
    VoteKick,
    Leave,
    Ping,
    Sync,
)
ClientMessage = Annotated[
    Join
    | UpdateSettings
    | Start
    | PlayAgain
    | ChooseWord
    | Points
    | StrokeEnd
    | Undo
    | Clear
    | GuessText
    | Kick
    | VoteKick
    | Leave
    | Ping
    | Sync,
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


class PlayerView(Message):
    id: int
    name: str
    score: int
    connected: bool
    is_ai: bool
    is_host: bool
    is_drawer: bool
    guessed: bool
    kick_votes: int = 0  # votes to remove this player so far (one per address)
    kick_votes_needed: int = 0  # votes that would remove this player now


class AIGuess(Message):
    label: str  # masked ("▮▮▮") where it would give the word away to this player
    p: float


class StrokeView(Message):
    points: list[CompactPoint]
    width: int
    color: str = INK


class TimelineEntry(Message):
    ms: int
    guesses: list[list[Number | str]]  # [[label, p], ...], the top-3 when its top-1 changed


class CanvasResult(Message):
    """One canvas at the end of a turn: the AI's final top-3 and when it recognised the word, if it did."""

    owner_id: int
    name: str
    ai: list[AIGuess]
    recognised_ms: int | None


# The reveal shows the AI's changes of mind; a turn's timeline may be longer, but the reveal keeps its
# first entries and the last ones (where the AI ended up) so the state frame stays small.
MAX_TIMELINE_SHOWN = 30


class Reveal(Message):
    word: str
    drawer: str
    guessed: list[str]
    ai_timeline: list[TimelineEntry]
    ai_guessed_ms: int | None
    reason: str
    reason_text: str
    canvases: list[CanvasResult]


class Racer(Message):
    """One racer's canvas in a race round: how far it is, what the AI makes of it, and their place."""

    player_id: int
    name: str
    strokes: int
    ai_top: AIGuess | None
    place: int | None  # 1 = recognised first; None = not yet


class Snapshot(Message):
    """One player's view of the room. Bounded in size: the canvas and the gallery travel separately."""

    code: str
    mode: str  # classic | solo | race
    is_public: bool
    phase: str
    version: int
    game_no: int
    round: int  # classic, race: the round; solo: the word's number
    rounds: int  # classic: rounds; solo, race: words in the game
    draw_seconds: int
    word_choices: int
    max_players: int
    solo_words: int
    ai_mode: str  # shown | hidden | off
    players: list[PlayerView]
    kick_votes_needed: int  # votes a votekick against a player with an address of their own needs now
    host_id: int | None
    drawer_id: int | None
    turn_id: int | None  # the turn's number in this room
    word_mask: str | None
    word: str | None  # only for those who know it: the drawer, who guessed it, everyone after the turn
    choices: list[str] | None  # only the drawer, while choosing
    deadline_ms: int | None
    phase_seconds: int | None  # the current phase's full length, for the countdown ring
    server_ms: int
    can_draw: bool  # this player draws now (the drawer; in a race, every racer)
    ai: list[AIGuess] | None  # the AI's latest top-3 for the canvas this player watches; None: hidden
    ai_threshold: float  # below this top-1 probability the AI is "not sure yet"
    reveal: Reveal | None
    racers: list[Racer]  # race rounds only
    rule_lines: list[str]  # the rules panel, from the numbers the game scores with
    gallery_url: str | None  # at game over: where the drawings of this game are listed (GalleryItem)


class Welcome(Message):
    """The answer to `join`: who you are, the token that gives your seat back, and the room."""

    type: Literal["welcome"] = "welcome"
    player_id: int
    token: str
    state: Snapshot


class State(Message):
    """The room changed: your new view."""

    type: Literal["state"] = "state"
    state: Snapshot


class PointsOut(Message):
    """Part of the stroke being drawn (at most MAX_POINTS_PER_BATCH points)."""

    type: Literal["points"] = "points"
    turn_id: int
    owner: int  # whose canvas
    stroke: int
    points: list[CompactPoint]
    width: int
    color: str = INK


def points_frame(*, turn_id: int, owner: int, stroke: int, points, width: int, color: str) -> str:
    """A :class:`PointsOut` frame's JSON text, made without validating again what the server itself built.

    The busiest frame of all (every 50 ms per drawer, to their whole room): building and validating the
    model cost more than the rest of relaying a batch. The same text as `PointsOut(...).model_dump_json()`;
    a test holds the two equal.
    """
    return json.dumps(
        {
            "type": "points",
            "turn_id": turn_id,
            "owner": owner,
            "stroke": stroke,
            "points": compact_points(points),
            "width": width,
            "color": color,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


class StrokeOut(Message):
    """A finished stroke, whole (at most MAX_POINTS_PER_STROKE points)."""

    type: Literal["stroke"] = "stroke"
    turn_id: int
    owner: int
    stroke: int
    points: list[CompactPoint]
    width: int
    color: str = INK


class CanvasOut(Message):
    """Strokes `start`.. of a canvas, which has `total` strokes in all: drop any at or past `total`.

    After a join or a `sync` a whole drawing comes as several of these (start 0 first), each at
    most OUT_CHUNK_BYTES of points; after an undo or a clear one with no strokes says the new total.
    """

    type: Literal["canvas"] = "canvas"
    turn_id: int
    owner: int
    start: int
    total: int
    strokes: list[StrokeView]


# The longest a compact point can be: "[799.9,599.9]," (the logical canvas is 800x600).
_POINT_BYTES_MAX = 14
_STROKE_BYTES_MAX = 48  # {"points":[],"width":22,"color":"#111111"}, plus a comma


def canvas_frames(turn_id: int, owner: int, strokes: list[StrokeView]) -> list[CanvasOut]:
    """A whole drawing as `canvas` chunks, each at most OUT_CHUNK_BYTES of strokes (start 0 first).

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
            frames.append(CanvasOut(turn_id=turn_id, owner=owner, start=start, total=len(strokes), strokes=chunk))
            chunk, used, start = [], 0, index
        chunk.append(stroke)
        used += size
    frames.append(CanvasOut(turn_id=turn_id, owner=owner, start=start, total=len(strokes), strokes=chunk))
    return frames


class AIOut(Message):
    """The AI's newest top-3 for a canvas, as this player may read it (the word masked until they know it)."""

    type: Literal["ai"] = "ai"
    turn_id: int
    owner: int
    version: int
    guesses: list[AIGuess]
    confident: bool


class Chat(Message):
    """A chat line: a player's (guess), a correct guess, a private near miss (close), the game's (system),
    or the AI's (ai)."""

    type: Literal["chat"] = "chat"
    kind: Literal["guess", "correct", "close", "system", "ai"]
    text: str
    player_id: int | None = None
    name: str | None = None


class ChatHistory(Message):
    """After a join: the room's recent chat lines that this player may see (oldest first)."""

    type: Literal["chat_history"] = "chat_history"
    lines: list[Chat]


class ErrorOut(Message):
    """A refused message or move, in words for the player (`code` for programs)."""

    type: Literal["error"] = "error"
    code: str
    message: str


class Pong(Message):
    type: Literal["pong"] = "pong"


class GalleryItem(Message):
    """One drawing of a game, as `/rooms/<code>/games/<n>/gallery.json` lists it (HTTP, not the socket)."""

    drawing_id: int
    turn_id: int
    round: int
    word: str
    drawer: str
    thumb_url: str  # a small SVG, bounded whatever was drawn
    ai: list[AIGuess]
    ai_right: bool
    ai_ms: int | None  # when the AI named it, ms into the turn


SERVER_MESSAGES = (Welcome, State, PointsOut, StrokeOut, CanvasOut, AIOut, Chat, ChatHistory, ErrorOut, Pong)
ServerMessage = Annotated[
    Welcome | State | PointsOut | StrokeOut | CanvasOut | AIOut | Chat | ChatHistory | ErrorOut | Pong,
    Field(discriminator="type"),
]
_server_adapter: TypeAdapter = TypeAdapter(ServerMessage)


def parse_server_message(raw: str | bytes) -> BaseModel:
    """A frame the server sent, checked against its schema (tests check every frame they receive)."""
    if len(raw) > MAX_FRAME_BYTES:
        raise ValueError(f"a server frame of {len(raw)} bytes is over the {MAX_FRAME_BYTES}-byte limit")
    return _server_adapter.validate_json(raw)
