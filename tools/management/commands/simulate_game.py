"""``manage.py simulate_game``: play one whole game against a running server with bot players.

It is the end-to-end smoke test of a deployment: HTTP (room creation with
CSRF), WebSockets through the origin check, the game clock, drawing relay and
the live AI, all exercised the way browsers do, in any mode (``--mode``:
classic, solo with one bot, race with several). On this machine each bot
speaks from a loopback address of its own, as players on their own devices
would. The last line of output is one JSON object (see
:class:`tools.bots.GameResult`) so scripts and tests can parse it; the exit
status is non-zero when the game was not whole and healthy.
"""

from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand, CommandError, CommandParser

from game.rules import MODES, SETTING_RANGES, Mode
from tools.addresses import LoopbackAddresses
from tools.bots import GameResult, run_game
from tools.server import create_room_over_http, is_loopback


class Command(BaseCommand):
    help = "Play a whole game with bot players over real WebSockets against a running server."
    # It only talks to another server over the network: no checks of this process's database.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument(
            "--mode",
            choices=MODES,
            default=Mode.CLASSIC.value,
            help="classic (one draws, the others and the AI guess), solo (one bot draws for the AI) "
            "or race (every bot draws the same word on its own canvas, the AI judges)",
        )
        parser.add_argument(
            "--players", type=int, default=None, help="bot players (classic, race: 2-16, default 3; solo: 1)"
        )
        parser.add_argument("--rounds", type=int, default=1, help="rounds (1-10; solo: words, 1-12)")
        parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
        parser.add_argument("--seed", type=int, default=None, help="make the bots' choices repeatable")

    def handle(
        self, *args, url: str, mode: str, players: int | None, rounds: int, timeout: float, seed: int | None, **options
    ) -> None:
        if mode == Mode.SOLO:
            players = 1 if players is None else players
            if players != 1:
                raise CommandError("a solo game has one player: --players 1 (or leave it out)")
        else:
            players = 3 if players is None else players
            if not 2 <= players <= 16:
                raise CommandError("--players must be between 2 and 16")
        most = SETTING_RANGES["solo_words" if mode == Mode.SOLO else "rounds"][1]
        if not 1 <= rounds <= most:
            raise CommandError(f"--rounds must be between 1 and {most}")
        addresses = LoopbackAddresses() if is_loopback(url) else None
        try:
            code = create_room_over_http(url, source_address=addresses.take() if addresses else None, mode=mode)
        except Exception as exc:  # any failure to reach the server is the answer, not a traceback
            problem = f"could not create a room at {url}: {exc}"
            # Still end with the JSON line: callers parse it whatever happened.
            self.stdout.write(
                GameResult(
                    room="",
                    turns_played=0,
                    ai_guesses_received={},
                    scores={},
                    errors=[problem],
                    seconds=0.0,
                    mode=mode,
                    race_winners=[] if mode == Mode.RACE else None,
                ).to_json()
            )
            raise CommandError(problem) from exc
        self.stdout.write(
            f"room {code} ({mode}): {players} bot(s), {rounds} {'word' if mode == Mode.SOLO else 'round'}(s)"
        )
        result: GameResult = asyncio.run(
            run_game(
                url, code, players=players, rounds=rounds, timeout=timeout, seed=seed, addresses=addresses, mode=mode
            )
        )
        self.stdout.write(result.to_json())
        problems = result.problems()
        if problems:
            raise CommandError("; ".join(problems))
