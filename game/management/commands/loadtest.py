"""`manage.py loadtest`: many simulated rooms against a running server; the last line is one JSON object."""

from __future__ import annotations

import asyncio
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from game.bots import DrawingLibrary
from game.loadtest import run_load


def http_base(url: str) -> str:
    """Accept ws://, wss://, http:// or https:// and return the http(s) base the bots expect."""
    if url.startswith("ws://"):
        return "http://" + url[5:].rstrip("/")
    if url.startswith("wss://"):
        return "https://" + url[6:].rstrip("/")
    return url.rstrip("/")


class Command(BaseCommand):
    help = "Load benchmark over real WebSockets: drawers replay Quick, Draw! drawings, guessers chat."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, action="append",
                            help="ws://HOST:PORT or http://HOST:PORT of a running server; repeat for several web "
                                 "processes (each room's players are spread over them)")
        parser.add_argument("--rooms", type=int, default=50)
        parser.add_argument("--players-per-room", type=int, default=4)
        parser.add_argument("--duration", type=float, default=60.0, help="seconds measured (after a warm-up)")
        parser.add_argument("--warmup", type=float, default=8.0)
        parser.add_argument("--data", default=str(settings.QUICKDRAW_SAMPLE_DIR))
        parser.add_argument("--flooders", type=int, default=0,
                            help="extra rooms whose drawer floods at --flood-factor x human pace, reconnecting "
                                 "whenever closed; the normal rooms are measured as usual")
        parser.add_argument("--flood-factor", type=float, default=10.0)
        parser.add_argument("--json", action="store_true", help="(the last line is always JSON)")

    def handle(self, *args, **o):
        if o["rooms"] < 1 or o["players_per_room"] < 2 or o["duration"] <= 0:
            raise CommandError("need at least 1 room, 2 players per room and a positive duration")
        if o["flooders"] < 0 or o["flood_factor"] < 1:
            raise CommandError("--flooders must be >= 0 and --flood-factor >= 1")
        if o["duration"] > 3600:
            raise CommandError("load tests are bounded: at most 3600 s")
        result = asyncio.run(
            run_load([http_base(u) for u in o["url"]], rooms=o["rooms"], players_per_room=o["players_per_room"],
                     duration=o["duration"], warmup=o["warmup"], drawings=DrawingLibrary(o["data"]),
                     flooders=o["flooders"], flood_factor=o["flood_factor"])
        )
        self.stdout.write(json.dumps(result))
