"""docs/protocol.md, generated from game.protocol: every message's purpose, fields and a real example.

`python manage.py protocol_docs` writes the file; tests/test_protocol_docs.py fails when the
committed file differs from what this module makes (the models changed, the page did not).
Examples are built with the game itself (a small game played through the pure state machine
with fixed seeds and times), so they are valid messages by construction, and the test checks
each against its schema.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from game import commands as cmd
from game import machine, protocol, rules

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
_T0 = 1_764_000_000_000  # the examples' clock: fixed, so the page is the same every time


def _example_game():
    """A classic game two turns in (Ana draws "cat", Bo has guessed it), and a race in its first round."""
    state = machine.new_room(mode="classic", seed="docs", vocabulary=("cat", "dog", "school bus", "tree"), now=_T0)
    for pid, name in ((1, "Ana"), (2, "Bo"), (3, "Cy")):
        state, _ = machine.apply(state, cmd.Join(player_id=pid, name=name, address=f"a{pid}"), _T0)
    state, _ = machine.apply(state, cmd.Start(player_id=1), _T0 + 1000)
    state, _ = machine.apply(
        state, cmd.ChooseWord(player_id=state.turn.drawer_id, word=state.turn.choices[0]), _T0 + 3000
    )
    state, _ = machine.apply(state, cmd.Stroke(player_id=state.turn.drawer_id), _T0 + 5000)
    state, _ = machine.apply(
        state,
        cmd.AIAnswer(
            canvas_owner=state.turn.drawer_id,
            turn_no=1,
            version=_T0 + 5100,
            guesses=(("dog", 0.34), (state.turn.word, 0.22), ("tree", 0.1)),
            n_labels=345,
        ),
        _T0 + 5200,
    )
    guesser = next(p.id for p in state.humans if p.id != state.turn.drawer_id)
    state, _ = machine.apply(state, cmd.Guess(player_id=guesser, text=state.turn.word), _T0 + 9000)
    race = machine.new_room(mode="race", seed="docs", vocabulary=("cat", "dog", "tree"), now=_T0)
    for pid, name in ((1, "Ana"), (2, "Bo")):
        race, _ = machine.apply(race, cmd.Join(player_id=pid, name=name, address=f"a{pid}"), _T0)
    race, _ = machine.apply(race, cmd.Start(player_id=1), _T0 + 1000)
    race, _ = machine.apply(
        race,
        cmd.AIAnswer(
            canvas_owner=2,
            turn_no=1,
            version=_T0 + 4000,
            guesses=((race.turn.word, 0.81), ("dog", 0.07), ("tree", 0.02)),
            n_labels=345,
        ),
        _T0 + 4100,
    )
    return state, race


def _snapshot(state, viewer: int, code: str = "E4DAXK") -> protocol.Snapshot:
    from game.selectors import RoomRead, view_of

    # In the race, Ana has drawn 3 strokes and Bo, whose drawing the AI recognised, 5.
    counts = {1: 3, 2: 5} if state.mode == "race" else {}
    snapshot = view_of(RoomRead(room_id=1, code=code, state=state, timeline=[], stroke_counts=counts), player_id=viewer)
    return snapshot.model_copy(update={"server_ms": _T0 + 9500})


def examples() -> dict[type[BaseModel], list[BaseModel]]:
    """One example or more of every message, keyed by its model."""
    state, race = _example_game()
    drawer = state.turn.drawer_id
    seeker = next(p.id for p in state.humans if p.id != drawer and not state.knows_word(p.id))
    word = state.turn.word
    stroke = [[310.0, 138.0, 1504], [312.5, 140.0, 1520], [318.0, 146.5, 1536]]
    ai = [
        protocol.AIGuess(label="dog", p=0.34),
        protocol.AIGuess(label=rules.mask_word_in(word, word), p=0.22),
        protocol.AIGuess(label="tree", p=0.1),
    ]
    return {
        protocol.Join: [protocol.Join(type="join", name="Ana", token="f_XL2i77jelDuJaAAf_I934GX7T0hhlb")],
        protocol.UpdateSettings: [
            protocol.UpdateSettings(
                type="settings",
                rounds=3,
                draw_seconds=80,
                word_choices=3,
                max_players=8,
                is_public=False,
                ai_mode="shown",
            )
        ],
        protocol.Start: [protocol.Start(type="start")],
        protocol.PlayAgain: [protocol.PlayAgain(type="play_again")],
        protocol.ChooseWord: [protocol.ChooseWord(type="choose_word", word="cat")],
        protocol.Points: [protocol.Points(type="points", stroke=0, points=stroke[1:], width=10)],
        protocol.StrokeEnd: [
            protocol.StrokeEnd(type="stroke", stroke=0, points=stroke, width=10, color=protocol.PALETTE[5])
        ],
        protocol.Undo: [protocol.Undo(type="undo")],
        protocol.Clear: [protocol.Clear(type="clear")],
        protocol.GuessText: [protocol.GuessText(type="guess", text="a cat?")],
        protocol.Kick: [protocol.Kick(type="kick", player_id=3)],
        protocol.VoteKick: [protocol.VoteKick(type="votekick", player_id=3)],
        protocol.Leave: [protocol.Leave(type="leave")],
        protocol.Ping: [protocol.Ping(type="ping")],
        protocol.Sync: [protocol.Sync(type="sync")],
        protocol.Welcome: [
            protocol.Welcome(player_id=seeker, token="f_XL2i77jelDuJaAAf_I934GX7T0hhlb", state=_snapshot(state, seeker))
        ],
        protocol.State: [protocol.State(state=_snapshot(race, 1))],
        protocol.PointsOut: [
            protocol.PointsOut(turn_id=1, owner=drawer, stroke=0, points=protocol.compact_points(stroke[1:]), width=10)
        ],
        protocol.StrokeOut: [
            protocol.StrokeOut(turn_id=1, owner=drawer, stroke=0, points=protocol.compact_points(stroke), width=10)
        ],
        protocol.CanvasOut: [
            protocol.CanvasOut(
                turn_id=1,
                owner=drawer,
                start=0,
                total=1,
                strokes=[protocol.StrokeView(points=protocol.compact_points(stroke), width=10)],
            ),
            protocol.CanvasOut(turn_id=1, owner=drawer, start=0, total=0, strokes=[]),
        ],
        protocol.AIOut: [protocol.AIOut(turn_id=1, owner=drawer, version=_T0 + 5100, guesses=ai, confident=True)],
        protocol.Chat: [
            protocol.Chat(kind="guess", text="a cat?", player_id=seeker, name="Cy"),
            protocol.Chat(kind="close", text="'cats' is close!"),
            protocol.Chat(kind="ai", text="The AI got it!"),
        ],
        protocol.ChatHistory: [
            protocol.ChatHistory(
                lines=[
                    protocol.Chat(kind="system", text="Bo joined"),
                    protocol.Chat(kind="guess", text="hi!", player_id=2, name="Bo"),
                ]
            )
        ],
        protocol.ErrorOut: [
            protocol.ErrorOut(code="rate_limited", message="You're sending guesses too fast: wait a moment.")
        ],
        protocol.Pong: [protocol.Pong()],
        protocol.GalleryItem: [
            protocol.GalleryItem(
                drawing_id=12,
                turn_id=1,
                round=1,
                word="cat",
                drawer="Ana",
                thumb_url="/rooms/E4DAXK/drawings/12.svg",
                ai=[protocol.AIGuess(label="cat", p=0.83)],
                ai_right=True,
                ai_ms=4100,
            )
        ],
    }


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]" if args else "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _fields(model: type[BaseModel]) -> list[str]:
    rows = ["| field | type | |", "| --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if name == "type":
            continue
        required = "required" if field.is_required() else f"default `{json.dumps(field.default)}`"
        if name in rules.SETTING_RANGES:
            required += " (from {} to {})".format(*rules.SETTING_RANGES[name])
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {required} |")
    return rows if len(rows) > 2 else []


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _message_name(model: type[BaseModel]) -> str:
    field = model.model_fields.get("type")
    if field is not None:
        return typing.get_args(field.annotation)[0] if typing.get_args(field.annotation) else field.default
    return model.__name__


def _section(model: type[BaseModel], samples: list[BaseModel]) -> list[str]:
    name = _message_name(model)
    lines = [f'<a id="{model.__name__.lower()}"></a>', f"### {name}", "", _doc(model), ""]
    lines += _fields(model)
    lines.append("")
    for sample in samples:
        lines += ["```json", sample.model_dump_json(exclude_none=False), "```", ""]
    return lines


def render() -> str:
    samples = examples()
    limits = (
        f"{protocol.MAX_POINTS_PER_BATCH} points per `points` batch, {protocol.MAX_POINTS_PER_STROKE} points per "
        f"stroke, {protocol.MAX_STROKES_PER_DRAWING} strokes and {protocol.MAX_POINTS_PER_DRAWING:,} points per "
        f"drawing, {protocol.MAX_TEXT} characters of chat, {rules.NAME_MAX_LENGTH} of a name, "
        f"{protocol.MAX_FRAME_BYTES // 1024} KiB per frame. Brush widths: "
        f"{', '.join(str(b) for b in protocol.BRUSH_SIZES)}; colours: {', '.join(protocol.PALETTE)}."
    )
    out = [
        "# WebSocket protocol",
        "",
        "<!-- Generated by `python manage.py protocol_docs` from game/protocol.py: edit the models, not this file. -->",
        "",
        "One socket per player and room: `ws(s)://HOST/ws/room/<CODE>/`. Frames are JSON text. The pydantic models",
        "in [`game/protocol.py`](../game/protocol.py) are the single source of truth; this page is generated from",
        "them, with a real example of every message.",
        "",
        "Rules that hold for every frame:",
        "",
        "- A client frame must be one of the client messages below: unknown `type`s, missing or extra fields, wrong",
        '  types (`"4"` is not 4, `true` is not 1), NaN or infinite numbers, coordinates off the canvas and',
        "  over-long batches, strokes or text are refused with an [`error`](#errorout). The socket stays open.",
        "- What a player may do is decided on the server by the game's state machine (game/machine.py): only the",
        "  host changes settings and starts, only the drawer (in a race: every racer) draws, a player acts only for",
        "  themselves. A refused action gets an `error` whose `message` is written for the player.",
        f"- Coordinates are in the fixed logical canvas of **{protocol.CANVAS_WIDTH} x {protocol.CANVAS_HEIGHT}**",
        "  units. A client sends points as `[x, y, t]` (`t`: ms since the turn started); the server sends",
        "  `[x, y]`, one decimal at most, integers as integers.",
        f"- Limits: {limits}",
        "- Every frame the server sends fits the 64 KiB limit whatever players draw: a drawing travels in",
        f"  [`canvas`](#canvasout) chunks of at most {protocol.OUT_CHUNK_BYTES // 1024} KiB of points, and the",
        "  gallery and thumbnails by HTTP (`/rooms/<CODE>/games/<n>/gallery.json`, [`GalleryItem`](#galleryitem)).",
        "- The word is a secret: no frame reaches a player who has not guessed it with the word in it, the AI's",
        f"  labels included (masked as `{rules.mask_word_in('school bus', 'school bus')}`).",
        "- One socket per seat: a newer socket with the seat's token replaces the older one (`error` `replaced`,",
        "  close 4409). Close codes: 4008 abuse, 4403 removed, 4404 no such room, 4408 no join in time, 4409",
        "  replaced, 4429 too many connections from one address, 4500 a server failure (reconnect).",
        "- The handshake: only pages of the site itself (the request's own host and port, or",
        "  `CSRF_TRUSTED_ORIGINS`) may open a socket; other origins and unknown paths get 403.",
        "",
        "## Client to server",
        "",
    ]
    for model in protocol.CLIENT_MESSAGES:
        out += _section(model, samples[model])
    out += ["## Server to client", ""]
    for model in protocol.SERVER_MESSAGES:
        out += _section(model, samples[model])
    out += ["## Parts of messages", ""]
    for model in (
        protocol.Snapshot,
        protocol.PlayerView,
        protocol.AIGuess,
        protocol.StrokeView,
        protocol.Reveal,
        protocol.CanvasResult,
        protocol.TimelineEntry,
        protocol.Racer,
        protocol.GalleryItem,
    ):
        out += [f'<a id="{model.__name__.lower()}"></a>', f"### {model.__name__}", "", _doc(model), ""]
        out += _fields(model) + [""]
        if model in samples:
            out += ["```json", samples[model][0].model_dump_json(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def write(path: Path = DOC_PATH) -> bool:
    """Write the page; True if it changed."""
    text = render()
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True
