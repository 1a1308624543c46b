"""The game's actions on a real PostgreSQL, the database of the scaled-out topology.

The drawing statements, the state's store and the data migrations are SQL written per database
(game.drawings, game.store, game/migrations); the rest of the suite runs on SQLite, so the actions' and the
migrations' tests run here once more on PostgreSQL, in a process of their own (pytest-django creates its test
database there).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.live_server import REPO
from tests.postgres_server import postgres_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.postgres


def test_game_actions_pass_on_postgres(postgres_url):  # noqa: F811
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "tests/test_game_actions.py",
            "tests/test_migrations.py",
        ],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": postgres_url},
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "database: postgresql" in result.stdout and " passed" in result.stdout
