"""`manage.py fuzz`: hostile frames against a running server; the last line is one JSON object.

Sockets join a room and send random and mutated frames (game/fuzzing.py).
A socket closed for abuse (4008) is replaced and the run goes on. A 1011
close or a dropped connection is a server error. Afterwards normal bots play
a game on the same server: it must still serve.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

from django.core.management.base import BaseCommand, CommandError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from game.bots import create_room_over_http, origin_for, run_game, ws_url_for
from game.fuzzing import frame
from game.management.commands.loadtest import http_base
from game.ratelimit import ABUSE_CLOSE_CODE

SOCKETS = 4


async def fuzz_socket(base: str, code: str, rng: random.Random, budget: list[int], stats: dict) -> None:
    while budget[0] > 0:
        try:
            async with connect(ws_url_for(base, code), origin=Origin(origin_for(base)), max_size=None) as ws:
                await ws.send(json.dumps({"type": "join", "name": f"fz{rng.randrange(1000)}"}))
                while budget[0] > 0:
                    budget[0] -= 1
                    await ws.send(frame(rng))
                    stats["frames_sent"] += 1
                    while True:  # read whatever came back, without waiting
                        try:
                            await asyncio.wait_for(ws.recv(), 0.001)
                        except TimeoutError:
                            break
        except ConnectionClosed as exc:
            code_ = exc.rcvd.code if exc.rcvd else None
            if code_ == ABUSE_CLOSE_CODE:
                stats["abuse_closes"] += 1
            elif code_ == 1011:
                stats["server_errors"] += 1
            elif code_ not in (1000, 1001, 4404):
                stats["unexpected_closes"] += 1
                stats["close_codes"].append(code_)
        except OSError as exc:
            stats["unexpected_closes"] += 1
            stats["close_codes"].append(repr(exc))
            await asyncio.sleep(0.2)


async def run(base: str, frames: int, seed: int) -> dict:
    began = time.monotonic()
    stats = {"frames_sent": 0, "server_errors": 0, "unexpected_closes": 0, "abuse_closes": 0, "close_codes": []}
    code = await asyncio.to_thread(create_room_over_http, base)
    rng = random.Random(seed)
    budget = [frames]
    await asyncio.gather(*(fuzz_socket(base, code, random.Random(rng.random()), budget, stats) for _ in range(SOCKETS)))
    normal_room = await asyncio.to_thread(create_room_over_http, base)
    game = await run_game(base, normal_room, players=2, rounds=1, timeout=120)
    stats["normal_player_ok"] = game.turns_played >= 1 and not game.errors
    stats["normal_player_errors"] = game.errors[:10]
    stats["room"] = code
    stats["seconds"] = round(time.monotonic() - began, 1)
    return stats


class Command(BaseCommand):
    help = "Fuzz the WebSocket protocol of a running server, then check a normal game still plays."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="ws://HOST:PORT or http://HOST:PORT")
        parser.add_argument("--frames", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="(the last line is always JSON)")

    def handle(self, *args, **o):
        if not 1 <= o["frames"] <= 1_000_000:
            raise CommandError("--frames must be between 1 and 1,000,000")
        result = asyncio.run(run(http_base(o["url"]), o["frames"], o["seed"]))
        self.stdout.write(json.dumps(result))
        if result["server_errors"] or result["unexpected_closes"] or not result["normal_player_ok"]:
            raise CommandError("the server misbehaved under fuzzing (see the JSON above)")
