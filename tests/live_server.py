"""A real server process for end-to-end tests: migrate a fresh SQLite file, run Daphne, tear down.

In-process test servers share the test's event loop, database connection
and channel layer, which hides exactly the bugs end-to-end tests are for
(origin checks, the game clock starting, the embedded AI worker, SQLite
locking across threads). So this starts ``python -m daphne`` as its own
process, as production does, on a free loopback port.

Use it in a test module::

    from tests.live_server import live_server_url  # noqa: F401  (the fixture)

    def test_something(live_server_url):  # noqa: F811  (ruff sees the argument shadow the import)
        requests.get(live_server_url + "/")

or directly, as a context manager::

    with live_server() as server:
        print(server.url)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Daphne as deployed (Dockerfile, docker-compose.yml): explicit WebSocket message and frame limits.
# A protocol frame is at most a few KiB (a points batch, a finished stroke), so 64 KiB is ample.
WEBSOCKET_LIMIT_BYTES = 65536
DAPHNE_LIMITS = ["--websocket-max-message-size", str(WEBSOCKET_LIMIT_BYTES),
                 "--websocket-max-frame-size", str(WEBSOCKET_LIMIT_BYTES)]


def daphne_args(port: int) -> list[str]:
    """Arguments after the Python executable that run Daphne on a loopback port, as production does."""
    return ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *DAPHNE_LIMITS, "config.asgi:application"]


STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log_path: Path
    log: str = ""  # the server's whole output, filled in once it stopped

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    """A port the OS says is free now (bind to 0); tiny race until Daphne binds it, fine on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The per-address limits are the deployed defaults: the tools give every simulated player a loopback
# address of its own (tools/addresses.py). Browsers cannot pick theirs, though: every room the browser
# tests create comes from 127.0.0.1, so the session's shared server allows that one address more rooms.
LIMITS_FOR_BROWSERS = {"ROOMS_PER_ADDRESS": "1000"}


def server_env(db_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The embedded default (SQLite, in-memory layer, AI in the web process) on a private database."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "EMBEDDED_SERVICES", "GAME_CLOCK_IN_WEB", "ROOMS_PER_ADDRESS", "SEATS_PER_ADDRESS",
                        "SOCKETS_PER_ADDRESS", "SOCKET_OPENS_PER_ADDRESS", "CODES_PER_ADDRESS")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{db_path}", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def _migrate(env: dict[str, str], log_path: Path) -> None:
    with open(log_path, "ab") as log:
        done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env,
                              stdout=log, stderr=subprocess.STDOUT, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{log_path.read_text(errors='replace')}")


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Poll until the server answers HTTP at all (any status), or fail with its log."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, just not with 200
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {timeout:g} s:\n{log_path.read_text(errors='replace')}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_SECONDS)


@contextmanager
def live_server(extra_env: dict[str, str] | None = None, startup_timeout: float = STARTUP_SECONDS,
                keep_files: bool = False) -> Iterator[LiveServer]:
    """A migrated fresh database and a Daphne process serving it; stopped and cleaned up on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="doodle-live-"))
    log_path = workdir / "server.log"
    env = server_env(workdir / "db.sqlite3", extra_env)
    _migrate(env, log_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, *daphne_args(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=url, process=process, log_path=log_path)
    try:
        _wait_until_up(url, process, log_path, startup_timeout)
        yield server
    finally:
        _stop(process)
        server.log = server.read_log()
        if not keep_files:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_server_url() -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT``) of one real server for the whole session.

    Self-contained on purpose: a fixture imported into a test module can only
    use fixtures visible there, so it must not depend on another one from here.
    The server's log is printed at teardown, which pytest shows when a test failed.
    Default per-address limits, but for the rooms the browser tests create (LIMITS_FOR_BROWSERS).
    """
    with live_server(LIMITS_FOR_BROWSERS) as server:
        yield server.url
    print(f"--- live server log ({server.url}) ---\n{server.log[-20000:]}")
