"""``manage.py simulate_game``: play one whole game against a running server with bot players.

It is the end-to-end smoke test of a deployment: HTTP (room creation with
CSRF), WebSockets through the origin check, the game clock, drawing relay and
the live AI, all exercised the way browsers do. On this machine each bot
speaks from a loopback address of its own, as players on their own devices
would. The last line of output is one JSON object (see
:class:`tools.bots.GameResult`) so scripts and tests can parse it; the exit
status is non-zero when the game was not whole and healthy.
"""

from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tools.addresses import LoopbackAddresses
from tools.bots import GameResult, run_game
from tools.server import create_room_over_http, is_loopback


class Command(BaseCommand):
    help = "Play a whole game with bot players over real WebSockets against a running server."
    # It only talks to another server over the network: no checks of this process's database.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument("--players", type=int, default=3, help="bot players (2-16)")
        parser.add_argument("--rounds", type=int, default=1, help="rounds (1-10)")
        parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
        parser.add_argument("--seed", type=int, default=None, help="make the bots' choices repeatable")

    def handle(self, *args, url: str, players: int, rounds: int, timeout: float, seed: int | None, **options) -> None:
        if not 2 <= players <= 16:
            raise CommandError("--players must be between 2 and 16")
        if not 1 <= rounds <= 10:
            raise CommandError("--rounds must be between 1 and 10")
        addresses = LoopbackAddresses() if is_loopback(url) else None
        try:
            code = create_room_over_http(url, source_address=addresses.take() if addresses else None)
        except Exception as exc:  # any failure to reach the server is the answer, not a traceback
            problem = f"could not create a room at {url}: {exc}"
            # Still end with the JSON line: callers parse it whatever happened.
            self.stdout.write(GameResult(room="", turns_played=0, ai_guesses_received={}, scores={},
                                         errors=[problem], seconds=0.0).to_json())
            raise CommandError(problem) from exc
        self.stdout.write(f"room {code}: {players} bots, {rounds} round(s)")
        result: GameResult = asyncio.run(run_game(url, code, players=players, rounds=rounds, timeout=timeout,
                                                  seed=seed, addresses=addresses))
        self.stdout.write(result.to_json())
        problems = result.problems()
        if problems:
            raise CommandError("; ".join(problems))
