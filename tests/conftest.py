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


def read_drawings(category: str, n: int = 5) -> list[dict]:
    with open(SHARED_QUICKDRAW / f"{category}.ndjson") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


@pytest.fixture
def shared_quickdraw() -> Path:
    if not SHARED_QUICKDRAW.is_dir():
        pytest.fail(f"the shared Quick, Draw! sample is missing at {SHARED_QUICKDRAW}")
    return SHARED_QUICKDRAW
