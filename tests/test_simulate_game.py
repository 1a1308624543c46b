"""Whole games in every mode, played by bots over real HTTP and WebSockets against a real Daphne process.

This is where nothing is in-process: room creation with CSRF (and the mode asked for), the origin
check, the game clock, the embedded AI worker and the shipped model all run as they do for players,
so what passes here works in a browser. Every game shares the session's server.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.live_server import REPO

BOTS = ("Bot1", "Bot2", "Bot3")
# Worst case (nobody guesses, e.g. a 345-word model): 3 x (30 s drawing + 6 s reveal) ~ 110 s;
# a healthy run with the AI helping the guessers takes about 25 s.
GAME_TIMEOUT_SECONDS = 130
PROCESS_TIMEOUT_SECONDS = 170


def _command(url: str, mode: str, players: int, rounds: int) -> list[str]:
    return [
        sys.executable,
        "manage.py",
        "simulate_game",
        "--url",
        url,
        "--mode",
        mode,
        "--players",
        str(players),
        "--rounds",
        str(rounds),
        "--timeout",
        str(GAME_TIMEOUT_SECONDS),
    ]


def _result(code: int, out: str, err: str) -> tuple[int, dict, str]:
    """The exit status, the JSON last line and what to show when an assertion fails."""
    lines = out.strip().splitlines()
    assert lines, f"no output; stderr:\n{err}"
    return code, json.loads(lines[-1]), f"result: {lines[-1]}\nstderr:\n{err[-4000:]}"


def _common(result: dict, mode: str, names: tuple[str, ...], turns: int, context: str) -> None:
    assert result["mode"] == mode and result["errors"] == [], context
    assert result["turns_played"] == turns, context
    assert set(result["ai_guesses_received"]) == set(names), context
    assert all(n > 0 for n in result["ai_guesses_received"].values()), context
    assert result["room"] and result["seconds"] < GAME_TIMEOUT_SECONDS, context


def test_three_bots_play_a_whole_game_with_the_live_ai(live_server_url):
    done = subprocess.run(
        _command(live_server_url, "classic", 3, 1),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_SECONDS,
    )
    code, result, context = _result(done.returncode, done.stdout, done.stderr)
    _common(result, "classic", BOTS, 3, context)
    assert set(BOTS) <= set(result["scores"]) and "AI" in result["scores"], context
    assert "race_winners" not in result, context
    assert code == 0, context


def test_a_solo_word_and_a_race_round_play_to_the_end_judged_by_the_ai(live_server_url):
    # Both games at once on the shared server: each is mostly waiting on a human pace.
    running = {
        mode: subprocess.Popen(
            _command(live_server_url, mode, players, 1),
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for mode, players in (("solo", 1), ("race", 3))
    }
    finished = {}
    try:
        for mode, process in running.items():
            out, err = process.communicate(timeout=PROCESS_TIMEOUT_SECONDS)
            finished[mode] = _result(process.returncode, out, err)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    code, solo, context = finished["solo"]
    _common(solo, "solo", BOTS[:1], 1, context)
    assert set(solo["scores"]) == {"Bot1"} and "race_winners" not in solo, "solo: no AI seat, no race"
    assert code == 0, context

    code, race, context = finished["race"]
    _common(race, "race", BOTS, 1, context)
    assert set(race["scores"]) == set(BOTS), "the AI judges a race: it has no seat"
    # One round: the racers the AI recognised, in order, each once; exactly they scored.
    (winners,) = race["race_winners"]
    assert set(winners) <= set(BOTS) and len(set(winners)) == len(winners), context
    assert {name for name, score in race["scores"].items() if score > 0} == set(winners), context
    assert sorted(winners, key=lambda name: -race["scores"][name]) == winners, "earlier places score more"
    assert code == 0, context
