"""Fuzzing the WebSocket protocol: hostile frames, and `manage.py fuzz` against a running server.

:func:`frame` makes random junk and mutations of valid messages; the
property-based test (tests/test_fuzz.py, with hypothesis choosing the seeds)
sends them through the real consumer in process. :func:`run_fuzz` sends them
over real sockets to a running server, then plays a normal game there while
the abusive patterns (tools/abuse.py) run beside it: the server must answer
junk with errors, close only for abuse, and still serve a normal game.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from typing import Any

from websockets.exceptions import WebSocketException

from game.consumers import JOIN_TIMEOUT_CLOSE_CODE, REPLACED_CLOSE_CODE, TOO_MANY_CLOSE_CODE
from game.protocol import MAX_FRAME_BYTES
from game.ratelimit import ABUSE_CLOSE_CODE
from tools.abuse import AbuseContext, PatternStats, make_patterns, run_patterns
from tools.addresses import LoopbackAddresses
from tools.bots import run_game
from tools.client import ABNORMAL_CLOSE, Closed
from tools.doodles import DrawingLibrary
from tools.server import create_room_over_http, room_client

SOCKETS = 4
# Patterns run beside the normal game unless asked otherwise (flood is the load test's).
DEFAULT_ABUSE = ("endless-stroke", "tabs", "seats", "slow-reader")
# A 2-player, 1-round game takes 20-80 s; a busy machine and the abusers beside it may slow it down.
NORMAL_GAME_TIMEOUT_SECONDS = 180
# The abusers' head start: all of them are at it before the normal game's room is made.
ABUSE_HEAD_START_SECONDS = 3.0
# Closes that are answers, not failures: the client's own, a room that is not there, the documented refusals.
ANSWER_CLOSES = frozenset(
    {1000, 1001, 4404, ABUSE_CLOSE_CODE, TOO_MANY_CLOSE_CODE, JOIN_TIMEOUT_CLOSE_CODE, REPLACED_CLOSE_CODE}
)
SERVER_ERROR_CLOSE = 1011
# A frame over the deployed limit never reaches the parser: Daphne fails that connection (drops it: 1006, or 1009).
CLOSES_FOR_SIZE = frozenset({ABNORMAL_CLOSE, 1009})

VALID: list[dict[str, Any]] = [
    {"type": "join", "name": "Fuzz", "token": None},
    {"type": "settings", "rounds": 3, "draw_seconds": 80, "word_choices": 3, "max_players": 8, "is_public": False},
    {"type": "settings", "solo_words": 6, "ai_mode": "hidden"},
    {"type": "start"},
    {"type": "play_again"},
    {"type": "choose_word", "word": "cat"},
    {"type": "points", "stroke": 0, "points": [[10.5, 20.0, 0], [30.0, 40.0, 16]], "width": 10},
    {"type": "stroke", "stroke": 0, "points": [[10.5, 20.0, 0], [30.0, 40.0, 16]], "width": 10, "color": "#e53935"},
    {"type": "undo"},
    {"type": "clear"},
    {"type": "guess", "text": "a cat?"},
    {"type": "kick", "player_id": 1},
    {"type": "votekick", "player_id": 1},
    {"type": "leave"},
    {"type": "sync"},
    {"type": "ping"},
]
# Every client message has its example (tests/test_fuzz.py checks it against protocol.CLIENT_MESSAGES).

WEIRD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63,
    -(2**63),
    1e308,
    -1e308,
    1e-308,
    0.5,
    "",
    " ",
    "x" * 10_000,
    "<img src=x onerror=alert(1)>",
    "\u0000",
    "\ud7ff",
    "💥" * 50,
    [],
    {},
    [[]],
    [[1, 2]],
    [[1, 2, 3, 4]],
    [[float("nan"), 1, 0]],
    [[float("inf"), 1, 0]],
    [[1e9, 1e9, 1e9]],
    [[-5, -5, -5]],
    {"type": "ping"},
    [[0, 0, 0]] * 5000,
    list(range(200)),
]


def _mutate_value(value: Any, rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(WEIRD_VALUES)
    if isinstance(value, list) and value:
        items = list(value)
        op = rng.randrange(3)
        if op == 0:
            items.pop(rng.randrange(len(items)))
        elif op == 1:
            items.append(rng.choice(items))
        else:
            i = rng.randrange(len(items))
            items[i] = _mutate_value(items[i], rng)
        return items
    if isinstance(value, int | float) and not isinstance(value, bool):
        return rng.choice([value * -1, value * 1e6, value + 0.5, math.nan, math.inf, str(value)])
    if isinstance(value, str):
        return rng.choice([value * 100, value[::-1], value.upper(), "", value + "\n\r\t"])
    return rng.choice(WEIRD_VALUES)


def mutated_message(rng: random.Random) -> dict:
    msg = dict(rng.choice(VALID))
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(4)
        keys = list(msg)
        if op == 0 and keys:
            k = rng.choice(keys)
            msg[k] = _mutate_value(msg[k], rng)
        elif op == 1 and keys:
            msg.pop(rng.choice(keys))
        elif op == 2:
            msg[rng.choice(["extra", "type", "player_id", "points", "__proto__"])] = rng.choice(WEIRD_VALUES)
        else:
            msg["type"] = rng.choice(["ping", "join", "points", "stroke", "guess", "nope", "", "PING", 5, None])
    return msg


def frame(rng: random.Random) -> str | bytes:
    """One hostile frame: mostly mutated messages, some raw junk, the odd binary frame."""
    roll = rng.random()
    if roll < 0.75:
        try:
            return json.dumps(mutated_message(rng), allow_nan=True)
        except (TypeError, ValueError):
            return "{}"
    if roll < 0.9:
        base = json.dumps(rng.choice(VALID))
        cut = rng.randrange(len(base))
        return rng.choice([base[:cut], base[cut:], base + "}", "[" + base, base.replace('"', "'")])
    if roll < 0.97:
        return rng.choice(["", "null", "[]", "42", '"str"', "{" * 500, "NaN", "\x00\x01", "🙂"])
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))


# --- against a running server ---------------------------------------------------------------


async def fuzz_socket(
    base: str, code: str, rng: random.Random, budget: list[int], junk: PatternStats, addresses: LoopbackAddresses
) -> None:
    """Send hostile frames until the budget is spent, reconnecting whenever closed.

    Every connection comes from a fresh address: this is about the parser, not the per-address
    limits (the abuse patterns test those), so the fuzzer is not stopped at the door.
    """
    while budget[0] > 0:
        client = room_client(
            base, code, f"fz{rng.randrange(1000)}", local_address=addresses.take(), keep_inbox=False, close_timeout=1
        )
        try:
            await client.connect()
        except (OSError, WebSocketException) as exc:
            junk.closes[repr(exc)] += 1
            await asyncio.sleep(0.2)
            continue
        junk.connects += 1
        client.listen()  # reads whatever comes back, without waiting for it
        joined = oversized = False
        try:
            await client.send({"type": "join", "name": client.name})
            joined = True
            while budget[0] > 0 and not client.closed:
                budget[0] -= 1
                junk_frame = frame(rng)
                if len(junk_frame.encode() if isinstance(junk_frame, str) else junk_frame) > MAX_FRAME_BYTES:
                    oversized = True
                    junk.extra["over_frame_limit"] += 1
                await client.send(junk_frame)
                await asyncio.sleep(0)
        except (Closed, OSError, WebSocketException):
            pass
        await asyncio.sleep(0.05)  # the server's close, if it was closing
        await client.close()
        if oversized and client.close_code in CLOSES_FOR_SIZE:  # the documented answer to a frame over the limit
            junk.extra["closed_for_size"] += 1
            client.close_code = None
        junk.absorb(client)
        junk.frames_sent -= joined  # the join each connection opens with is not junk


def _junk_summary(junk: PatternStats, seconds: float) -> dict:
    """The fields `fuzz` has always reported, from the junk pattern's counts."""
    unexpected = {
        code: n
        for code, n in junk.closes.items()
        if not (code.isdigit() and int(code) in ANSWER_CLOSES) and code != str(SERVER_ERROR_CLOSE)
    }
    return {
        "frames_sent": junk.frames_sent,
        "server_errors": junk.closes.get(str(SERVER_ERROR_CLOSE), 0),
        "unexpected_closes": sum(unexpected.values()),
        "abuse_closes": junk.closes.get(str(ABUSE_CLOSE_CODE), 0),
        "close_codes": sorted(unexpected),
    }


async def run_fuzz(
    base: str,
    *,
    frames: int,
    seed: int,
    drawings: DrawingLibrary,
    abuse: list[str] | None = None,
    addresses: LoopbackAddresses | None = None,
) -> dict:
    """Junk frames from SOCKETS sockets, then a normal 2-player game with the abuse patterns running beside it."""
    abuse = list(DEFAULT_ABUSE if abuse is None else abuse)
    addresses = addresses or LoopbackAddresses()
    began = time.monotonic()
    code = await asyncio.to_thread(create_room_over_http, base, source_address=addresses.take())
    rng = random.Random(seed)
    junk = PatternStats(extra={"over_frame_limit": 0, "closed_for_size": 0})
    budget = [frames]
    await asyncio.gather(
        *(fuzz_socket(base, code, random.Random(rng.random()), budget, junk, addresses) for _ in range(SOCKETS))
    )
    junk_seconds = time.monotonic() - began

    stop = asyncio.Event()
    ctx = AbuseContext(
        base=base, address=addresses.abuser(), drawings=drawings, rng=random.Random(rng.random()), stop=stop
    )
    patterns = make_patterns(abuse, ctx)
    abuse_began = time.monotonic()
    abusers = asyncio.ensure_future(run_patterns(patterns))
    if patterns:
        await asyncio.sleep(ABUSE_HEAD_START_SECONDS)
    normal_room = await asyncio.to_thread(create_room_over_http, base, source_address=addresses.take())
    game = await run_game(
        base,
        normal_room,
        players=2,
        rounds=1,
        timeout=NORMAL_GAME_TIMEOUT_SECONDS,
        drawings=drawings,
        addresses=addresses,
    )
    stop.set()
    await asyncio.wait_for(abusers, 30)
    abuse_seconds = time.monotonic() - abuse_began

    result = _junk_summary(junk, junk_seconds)
    result["server_errors"] += sum(p.stats.closes.get(str(SERVER_ERROR_CLOSE), 0) for p in patterns)
    # Every frame the clients received was held to the protocol's schema: one that was not is the server's fault.
    result["invalid_server_frames"] = junk.bad_frames + sum(p.stats.bad_frames for p in patterns)
    result.update(
        normal_player_ok=game.turns_played >= 1 and not game.errors,
        normal_player_errors=game.errors[:10],
        normal_game_seconds=game.seconds,
        room=code,
        abuse_address=ctx.address if patterns else None,
        patterns={"junk": junk.to_json(junk_seconds), **{p.name: p.stats.to_json(abuse_seconds) for p in patterns}},
        seconds=round(time.monotonic() - began, 1),
    )
    return result
