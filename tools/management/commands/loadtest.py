"""`manage.py loadtest`: many simulated rooms against a running server; the last line is one JSON object."""

from __future__ import annotations

import asyncio
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tools.abuse import PATTERNS, parse_patterns
from tools.doodles import DrawingLibrary
from tools.loadtest import GRACE_SECONDS, LOAD_MODES, run_load
from tools.server import http_base, loopback_problem


class Command(BaseCommand):
    help = "Load benchmark over real WebSockets: drawers replay Quick, Draw! drawings, guessers chat."
    requires_system_checks: list[str] = []  # it only talks to another server

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            required=True,
            action="append",
            help="ws://HOST:PORT or http://HOST:PORT of a running server on this machine; repeat for "
            "several web processes (each room's players are spread over them)",
        )
        parser.add_argument(
            "--mode",
            choices=LOAD_MODES,
            default=LOAD_MODES[0],
            help="classic: one drawer per room, the others chat; race: every player draws the same "
            "word on its own canvas and the AI judges each",
        )
        parser.add_argument("--rooms", type=int, default=50)
        parser.add_argument("--players-per-room", type=int, default=4)
        parser.add_argument("--duration", type=float, default=60.0, help="seconds measured (after a warm-up)")
        parser.add_argument("--warmup", type=float, default=8.0)
        parser.add_argument("--data", default=str(settings.QUICKDRAW_SAMPLE_DIR))
        parser.add_argument(
            "--flooders",
            type=int,
            default=0,
            help="extra rooms whose drawer floods at --flood-factor x human pace, reconnecting "
            "whenever closed; the normal rooms are measured as usual (reported as `flood`)",
        )
        parser.add_argument("--flood-factor", type=float, default=10.0)
        parser.add_argument(
            "--abuse",
            default="",
            help=f"abusive patterns beside the normal rooms, from one shared address: comma-separated "
            f"of {', '.join(PATTERNS)}, or all (reported per pattern as `abuse`)",
        )
        parser.add_argument(
            "--baseline",
            action="store_true",
            help="measure the normal rooms quietly for --duration first, then with the abusers for "
            "another --duration; `baseline` reports both p99s and their ratio",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=GRACE_SECONDS,
            help="seconds after the measuring for what was sent to arrive before it counts as lost",
        )
        parser.add_argument(
            "--check-frames",
            action="store_true",
            help="hold every frame the players receive to its schema in game/protocol.py (costs the "
            "generator about a fifth of its CPU, which shows in its latencies; the tests always check)",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="(the last line is always JSON)")

    def handle(self, *args, **o):
        if o["rooms"] < 1 or o["players_per_room"] < 2 or o["duration"] <= 0:
            raise CommandError("need at least 1 room, 2 players per room and a positive duration")
        if o["flooders"] < 0 or o["flood_factor"] < 1:
            raise CommandError("--flooders must be >= 0 and --flood-factor >= 1")
        if not 0 <= o["grace"] <= 120:
            raise CommandError("--grace must be between 0 and 120 seconds")
        if o["duration"] > 3600 or o["rooms"] * o["players_per_room"] > 5000:
            raise CommandError("load tests are bounded: at most 3600 s and 5,000 players")
        try:
            abuse = parse_patterns(o["abuse"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        bases = [http_base(u) for u in o["url"]]
        for base in bases:
            if problem := loopback_problem(base):
                raise CommandError(problem)
        result = asyncio.run(
            run_load(
                bases,
                rooms=o["rooms"],
                players_per_room=o["players_per_room"],
                duration=o["duration"],
                warmup=o["warmup"],
                drawings=DrawingLibrary(o["data"]),
                seed=o["seed"],
                flooders=o["flooders"],
                flood_factor=o["flood_factor"],
                abuse=abuse,
                baseline=o["baseline"],
                grace=o["grace"],
                check_frames=o["check_frames"],
                mode=o["mode"],
            )
        )
        self.stdout.write(json.dumps(result))
