"""The load benchmark and the fuzzer, run as commands against a real server process.

This module's server runs as deployed, with the default per-address limits (3 seats in a room, 16 open
sockets and 60 new a minute, 10 new rooms in 10 minutes): simulated players each speak from a loopback
address of their own, as real players would, and the abusers share one address, which those limits are for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from game import ratelimit
from game.consumers import JOIN_TIMEOUT_CLOSE_CODE, REPLACED_CLOSE_CODE, TOO_MANY_CLOSE_CODE
from tests.live_server import REPO, live_server
from tools.abuse import PATTERNS

# What the server may answer an abuser with: the documented closes, and a dropped connection (1006).
ANSWER_CLOSES = {
    str(c)
    for c in (ratelimit.ABUSE_CLOSE_CODE, REPLACED_CLOSE_CODE, TOO_MANY_CLOSE_CODE, JOIN_TIMEOUT_CLOSE_CODE, 1006)
}


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A server of this module's own with the deployed limits: the load here is spread over addresses."""
    with live_server(deployed_limits=True) as server:
        yield server.url
    print(f"--- live server log ({server.url}) ---\n{server.log[-20000:]}")


# What was sent has this long to arrive (the run ends sooner once everything has): a busy machine is slow, not lossy.
GRACE = ("--grace", "20")


def run_command(*args: str, timeout: float = 200) -> tuple[int, dict, str]:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"{args[0]} printed nothing (exit {done.returncode}):\n{done.stderr[-5000:]}"
    return done.returncode, json.loads(lines[-1]), done.stderr


def test_loadtest_spreads_players_over_addresses_and_loses_nothing(server_url):
    # 22 sockets in 11 rooms: more than one address may hold (16), and more rooms than it may create (10).
    code, result, err = run_command(
        "loadtest",
        "--check-frames",
        "--url",
        server_url.replace("http", "ws"),
        "--rooms",
        "11",
        "--players-per-room",
        "2",
        "--duration",
        "6",
        "--warmup",
        "10",
        *GRACE,
        "--json",
    )
    assert code == 0, err
    assert result["players_connected"] == 22 and result["addresses"]["players"] == 22
    assert result["frames_checked"] is True, "every frame these players got was held to the protocol"
    assert result["addresses"]["block"].startswith("127.") and result["addresses"]["abusers"] is None
    assert result["strokes_per_s"] > 1 and result["messages_in_per_s"] > 10 and result["messages_out_per_s"] > 10
    for key in ("stroke_to_guess_ms", "points_ms"):
        p = result[key]
        assert 0 < p["p50"] <= p["p95"] <= p["p99"], (key, p)
    assert result["lost"] == 0 and result["errors"] == [], result


def test_a_race_room_draws_on_every_canvas_and_hears_the_ai_for_each(server_url):
    code, result, err = run_command(
        "loadtest",
        "--check-frames",
        "--mode",
        "race",
        "--url",
        server_url,
        "--rooms",
        "1",
        "--players-per-room",
        "3",
        "--duration",
        "20",
        "--warmup",
        "5",
        *GRACE,
        "--json",
    )
    assert code == 0, err
    assert result["mode"] == "race" and result["players_connected"] == 3
    # Racers draw on canvases of their own, and each stroke's AI answer reached every racer. A round all three
    # won ends early and the next starts after its reveal (6 s without strokes); the strokes of its last seconds
    # count as crossing the turn's end: the window is long enough to hold a round's drawing whatever it meets.
    assert result["canvases_drawn"] >= 2 and result["strokes_measured"] >= 3, result
    for key in ("stroke_to_guess_ms", "points_ms"):
        p = result[key]
        assert 0 < p["p50"] <= p["p95"] <= p["p99"], (key, p)
    assert result["lost"] == 0 and result["errors"] == [], result


def test_fuzz_finds_no_server_error_and_a_normal_game_plays_beside_the_abusers(server_url):
    code, result, err = run_command("fuzz", "--url", server_url, "--frames", "400", "--json", timeout=300)
    assert code == 0, (result.get("normal_player_errors"), result.get("close_codes"), err[-2000:])
    assert result["frames_sent"] >= 390
    assert result["server_errors"] == 0 and result["unexpected_closes"] == 0
    assert result["normal_player_ok"] is True, result["normal_player_errors"]
    patterns = result["patterns"]
    assert set(patterns) == {"junk", "endless-stroke", "tabs", "seats", "slow-reader"}
    assert patterns["junk"]["refusals"].get("invalid_message", 0) > 0, "junk is answered with errors"
    endless = patterns["endless-stroke"]
    assert endless["refusals"].get("stroke_too_long") == 1, "told once"
    assert endless["points_sent"] > 3 * endless["stroke_limit"] >= endless["most_relayed_of_one_stroke"] > 0
    seats = patterns["seats"]
    assert seats["seats_held_max"] <= 3 and sum(seats["refusals"].values()) > 0, seats
    tabs = patterns["tabs"]
    assert tabs["closes"].get(str(REPLACED_CLOSE_CODE), 0) >= 1, tabs
    rate, burst = ratelimit.LIMITS["guess"]
    assert tabs["chat_relayed"] <= burst + rate * result["seconds"], "several tabs still make one seat"
    # Readers seated; whether one is dropped within the game depends on the machine's socket buffers.
    assert patterns["slow-reader"]["joins"] >= 2 and patterns["slow-reader"]["syncs_sent"] > 0, patterns["slow-reader"]
    for name, stats in patterns.items():
        assert set(stats["closes"]) <= ANSWER_CLOSES and "failed" not in stats, (name, stats)


def test_a_flooding_drawer_is_refused_and_closed_while_other_rooms_lose_nothing(server_url):
    code, result, err = run_command(
        "loadtest",
        "--check-frames",
        "--url",
        server_url.replace("http", "ws"),
        "--rooms",
        "2",
        "--players-per-room",
        "3",
        "--duration",
        "6",
        "--warmup",
        "3",
        "--flooders",
        "1",
        "--flood-factor",
        "10",
        *GRACE,
        "--json",
    )
    assert code == 0, err
    flood = result["flood"]
    # Faster than any drawer (how much faster depends on how busy the machine is: the pace is in the JSON),
    # even though a seat closed for abuse comes back with its allowance spent.
    assert flood["strokes_sent"] > 10 and flood["frames_per_s"] > 0, flood
    assert flood["refused"] > 0 and flood["abuse_closes"] >= 1, "refused, then closed with the abuse code"
    assert flood["connects"] >= 2 and flood["other_closes"] == 0 and flood["other_errors"] == {}, flood
    assert flood["closes"] == {"4008": flood["abuse_closes"]} and flood["reconnects"] >= 1, flood
    # Everyone else plays on: every points batch and every AI guess arrived, no error, no close.
    assert result["players_connected"] == 6 and result["strokes_measured"] > 3
    assert result["lost"] == 0 and result["errors"] == [], result


def test_every_abuse_pattern_is_answered_and_measured_against_a_quiet_baseline(server_url):
    code, result, err = run_command(
        "loadtest",
        "--check-frames",
        "--url",
        server_url,
        "--rooms",
        "2",
        "--players-per-room",
        "3",
        "--duration",
        "8",
        "--warmup",
        "3",
        "--abuse",
        "all",
        "--baseline",
        *GRACE,
        "--json",
    )
    assert code == 0, err
    baseline = result["baseline"]
    for window in ("quiet", "abused"):
        assert baseline[window]["strokes_measured"] > 0 and baseline[window]["lost"] == 0, baseline
        assert baseline[window]["stroke_to_guess_ms"]["p99"] > 0 and baseline[window]["points_ms"]["p99"] > 0
    assert baseline["abused"]["stroke_to_guess_ms"] == result["stroke_to_guess_ms"], "the headline is the abused run"
    ratio = baseline["ratio"]
    expected = baseline["abused"]["points_ms"]["p99"] / baseline["quiet"]["points_ms"]["p99"]
    assert ratio["points_p99"] == pytest.approx(expected, abs=0.01) and isinstance(baseline["within_2x"], bool)
    abuse = result["abuse"]
    assert list(abuse["patterns"]) == list(PATTERNS) and abuse["address"] == result["addresses"]["abusers"]
    for name, stats in abuse["patterns"].items():
        assert stats["frames_sent"] > 0 or stats["refusals"], (name, stats)
        assert set(stats["closes"]) <= ANSWER_CLOSES and "failed" not in stats, (name, stats)
    answered = sum(sum(s["refusals"].values()) + sum(s["closes"].values()) for s in abuse["patterns"].values())
    assert answered > 0, "the server pushed back on the abusers"
    # The normal rooms, each player on an address of its own, lost nothing.
    assert result["players_connected"] == 6 and result["lost"] == 0 and result["errors"] == [], result
