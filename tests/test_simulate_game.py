"""A whole 3-player game, played by bots over real HTTP and WebSockets against a real Daphne process.

This is the one test where nothing is in-process: room creation with CSRF,
the origin check, the game clock, the embedded AI worker and the shipped
model all run as they do for players, so what passes here works in a browser.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.live_server import REPO, live_server_url  # noqa: F401  (the session's real server)

BOTS = ("Bot1", "Bot2", "Bot3")
# Worst case (nobody guesses, e.g. a 345-word model): 3 x (30 s drawing + 6 s reveal) ~ 110 s;
# a healthy run with the AI helping the guessers takes about 25 s.
GAME_TIMEOUT_SECONDS = 130
PROCESS_TIMEOUT_SECONDS = 170


def _simulate(url: str, players: int, rounds: int) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run(
        [sys.executable, "manage.py", "simulate_game", "--url", url, "--players", str(players),
         "--rounds", str(rounds), "--timeout", str(GAME_TIMEOUT_SECONDS)],
        cwd=REPO, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_SECONDS,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{done.stderr}"
    return done, json.loads(lines[-1])


def test_three_bots_play_a_whole_game_with_the_live_ai(live_server_url):  # noqa: F811
    done, result = _simulate(live_server_url, players=3, rounds=1)
    context = f"result: {result}\nstderr:\n{done.stderr[-4000:]}"
    assert result["errors"] == [], context
    assert result["turns_played"] == 3, context
    assert set(result["ai_guesses_received"]) == set(BOTS), context
    assert all(n > 0 for n in result["ai_guesses_received"].values()), context
    assert set(BOTS) <= set(result["scores"]) and "AI" in result["scores"], context
    assert result["room"] and result["seconds"] < GAME_TIMEOUT_SECONDS, context
    assert done.returncode == 0, context
