"""Hostile frames for fuzzing the WebSocket protocol: random junk and mutations of valid messages.

Used by the property-based test (tests/test_fuzz.py, with hypothesis choosing
the seeds) and by `manage.py fuzz` against a running server.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

VALID: list[dict[str, Any]] = [
    {"type": "join", "name": "Fuzz", "token": None},
    {"type": "settings", "rounds": 3, "draw_seconds": 80, "word_choices": 3, "max_players": 8, "is_public": False},
    {"type": "start"},
    {"type": "play_again"},
    {"type": "choose_word", "word": "cat"},
    {"type": "points", "stroke": 0, "points": [[10.5, 20.0, 0], [30.0, 40.0, 16]], "width": 10},
    {"type": "stroke", "stroke": 0, "points": [[10.5, 20.0, 0], [30.0, 40.0, 16]], "width": 10},
    {"type": "undo"},
    {"type": "clear"},
    {"type": "guess", "text": "a cat?"},
    {"type": "kick", "player_id": 1},
    {"type": "ping"},
]

WEIRD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63), 1e308, -1e308, 1e-308, 0.5, "", " ", "x" * 10_000,
    "<img src=x onerror=alert(1)>", "\u0000", "\ud7ff", "💥" * 50, [], {}, [[]], [[1, 2]], [[1, 2, 3, 4]],
    [[float("nan"), 1, 0]], [[float("inf"), 1, 0]], [[1e9, 1e9, 1e9]], [[-5, -5, -5]], {"type": "ping"},
    [[0, 0, 0]] * 5000, list(range(200)),
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
