"""`manage.py fuzz`: hostile frames and abusive clients against a running server; the last line is one JSON object.

Sockets join a room and send random and mutated frames (tools/fuzzing.py), each
connection from a fresh loopback address; a socket closed for abuse (4008) is
replaced and the run goes on. Then normal bots play a game on the same server
while the abusive patterns (tools/abuse.py) run beside it from one shared address:
the game must still play. A 1011 close or a dropped connection is a server error.
"""

from __future__ import annotations

import asyncio
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tools.abuse import PATTERNS, parse_patterns
from tools.doodles import DrawingLibrary
from tools.fuzzing import DEFAULT_ABUSE, run_fuzz
from tools.server import http_base, loopback_problem


class Command(BaseCommand):
    help = "Fuzz the WebSocket protocol of a running server, then check a normal game still plays beside abusers."
    requires_system_checks: list[str] = []  # it only talks to another server

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="ws://HOST:PORT or http://HOST:PORT (this machine)")
        parser.add_argument("--frames", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--abuse",
            default=",".join(DEFAULT_ABUSE),
            help=f"abusive patterns running beside the normal game: comma-separated of "
            f"{', '.join(PATTERNS)}, all, or none",
        )
        parser.add_argument("--data", default=str(settings.QUICKDRAW_SAMPLE_DIR))
        parser.add_argument("--json", action="store_true", help="(the last line is always JSON)")

    def handle(self, *args, **o):
        if not 1 <= o["frames"] <= 1_000_000:
            raise CommandError("--frames must be between 1 and 1,000,000")
        try:
            abuse = parse_patterns(o["abuse"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        base = http_base(o["url"])
        if problem := loopback_problem(base):
            raise CommandError(problem)
        result = asyncio.run(
            run_fuzz(base, frames=o["frames"], seed=o["seed"], abuse=abuse, drawings=DrawingLibrary(o["data"]))
        )
        self.stdout.write(json.dumps(result))
        if (
            result["server_errors"]
            or result["unexpected_closes"]
            or result["invalid_server_frames"]
            or not result["normal_player_ok"]
        ):
            raise CommandError("the server misbehaved under fuzzing (see the JSON above)")
