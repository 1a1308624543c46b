"""The load benchmark and the fuzzer, run as commands against a real server process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.live_server import REPO, live_server_url  # noqa: F401


def run_command(*args: str, timeout: float = 200) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    last = done.stdout.strip().splitlines()[-1]
    return done.returncode, json.loads(last), done.stderr


def test_loadtest_reports_latencies_and_loses_nothing(live_server_url):  # noqa: F811
    code, result, err = run_command("loadtest", "--url", live_server_url.replace("http", "ws"), "--rooms", "2",
                                    "--players-per-room", "3", "--duration", "6", "--warmup", "3", "--json")
    assert code == 0, err
    assert result["players_connected"] == 6
    assert result["strokes_per_s"] > 0.5 and result["messages_in_per_s"] > 10 and result["messages_out_per_s"] > 10
    for key in ("stroke_to_guess_ms", "points_ms"):
        p = result[key]
        assert 0 < p["p50"] <= p["p95"] <= p["p99"], (key, p)
    assert result["lost"] == 0 and result["errors"] == []


def test_fuzz_command_finds_no_server_error_and_a_normal_game_still_plays(live_server_url):  # noqa: F811
    code, result, err = run_command("fuzz", "--url", live_server_url, "--frames", "400", "--json")
    assert code == 0, (result, err)
    assert result["frames_sent"] >= 390
    assert result["server_errors"] == 0 and result["unexpected_closes"] == 0
    assert result["normal_player_ok"] is True


def test_a_flooding_drawer_is_refused_and_closed_while_other_rooms_lose_nothing(live_server_url):  # noqa: F811
    code, result, err = run_command("loadtest", "--url", live_server_url.replace("http", "ws"), "--rooms", "2",
                                    "--players-per-room", "3", "--duration", "8", "--warmup", "3",
                                    "--flooders", "1", "--flood-factor", "10", "--json")
    assert code == 0, err
    flood = result["flood"]
    # Ten times a drawer's pace, even though a seat closed for abuse comes back with its allowance spent.
    assert flood["strokes_sent"] > 10 and flood["frames_per_s"] > 50, flood
    assert flood["refused"] > 0 and flood["abuse_closes"] >= 1, "refused, then closed with the abuse code"
    assert flood["connects"] >= 2 and flood["other_closes"] == 0 and flood["other_errors"] == {}, flood
    # Everyone else plays on: every points batch and every AI guess arrived, no error, no close.
    assert result["players_connected"] == 6 and result["strokes_measured"] > 5
    assert result["lost"] == 0 and result["errors"] == [], result
