"""Shared fixtures. Real parts wherever users have real parts (see README: Tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The session's real server, defined here once: a fixture imported into a test module is that module's own,
# so every module that imported it started a "session" server of its own (8 of them in a full run).
from tests.live_server import live_server_url  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
SHARED_QUICKDRAW = REPO.parent / "shared" / "quickdraw" / "simplified"


def pytest_report_header(config) -> str:
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"


# The files whose tests take minutes (real training workers, browsers, whole games over real servers).
# `make test` runs the suite on two pytest-xdist workers, a file at a time each: these start first,
# so that no long file begins last while the other worker sits idle.
LONG_FILES = (
    "test_jobs.py",
    "test_job_recovery.py",
    "test_admin_browser.py",
    "test_multiprocess.py",
    "test_simulate_game.py",
    "test_live_commands.py",
    "test_frame_limits.py",
    "test_training.py",
    "test_browser_modes.py",
    "test_browser_playtest.py",
    "test_slow_readers.py",
    "test_model_swaps.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order


def read_drawings(category: str, n: int = 5) -> list[dict]:
    with open(SHARED_QUICKDRAW / f"{category}.ndjson") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


@pytest.fixture
def shared_quickdraw() -> Path:
    if not SHARED_QUICKDRAW.is_dir():
        pytest.fail(f"the shared Quick, Draw! sample is missing at {SHARED_QUICKDRAW}")
    return SHARED_QUICKDRAW
