"""A real server process for end-to-end tests: migrate a fresh SQLite file, run Daphne, tear down.

In-process test servers share the test's event loop, database connection
and channel layer, which hides exactly the bugs end-to-end tests are for
(origin checks, the game clock starting, the embedded AI worker, SQLite
locking across threads). So this starts ``python -m daphne`` as its own
process, as production does, on a free loopback port.

Use it in a test module (tests/conftest.py provides the fixture; importing it into a module would
start a server of that module's own)::

    def test_something(live_server_url):
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

from config import serve
from config.serve import DAPHNE_LIMITS, WEBSOCKET_LIMIT_BYTES  # noqa: F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parent.parent
# Daphne as deployed (Dockerfile, docker-compose.yml, `make run`): explicit WebSocket message and frame limits.
# A protocol frame is at most a few KiB (a points batch, a finished stroke), so 64 KiB is ample.


def daphne_args(port: int) -> list[str]:
    """Arguments after the Python executable that run Daphne on a loopback port, as production does."""
    return serve.daphne_args(host="127.0.0.1", port=port)


def make_run_args(host: str, port: int) -> list[str]:
    """Arguments after the Python executable of `make run HOST=host PORT=port`'s web server (see the Makefile)."""
    return ["-m", "config.serve", "--host", host, "--port", str(port)]


STARTUP_SECONDS = 60.0
SERVER_SETTINGS_FROM_SHELL = (
    "REDIS_URL",
    "EMBEDDED_SERVICES",
    "GAME_CLOCK_IN_WEB",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TRUSTED_PROXIES",
    "BIND_HOST",
    "HTTPS",
)
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


# Most tests here play from 127.0.0.1 (browsers cannot choose their address); the per-address limits have
# their own tests, and the tools' players each speak from a loopback address of their own (tools/addresses.py),
# so their tests run with the deployed limits (`deployed_limits=True`).
RAISED_LIMITS = {
    "ROOMS_PER_ADDRESS": "10000",
    "SEATS_PER_ADDRESS": "10000",
    "SOCKETS_PER_ADDRESS": "10000",
    "SOCKET_OPENS_PER_ADDRESS": "100000",
}
LIMITS_FROM_SHELL = (*RAISED_LIMITS, "CODES_PER_ADDRESS")


def server_env(db_path: Path, extra: dict[str, str] | None = None, *, deployed_limits: bool = False) -> dict[str, str]:
    """The embedded default (SQLite, in-memory layer, AI in the web process) on a private database."""
    # The defaults as `make run` has them: nothing from the caller's shell that changes what is exposed.
    env = {k: v for k, v in os.environ.items() if k not in (*SERVER_SETTINGS_FROM_SHELL, *LIMITS_FROM_SHELL)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{db_path}", PYTHONUNBUFFERED="1")
    if not deployed_limits:
        env.update(RAISED_LIMITS)
    env.update(extra or {})
    return env


def manage_shell(env: dict[str, str], code: str, *, timeout: float = 60) -> str:
    """Run `code` with `manage.py shell -c` on the server's database (`env`); its stdout, or the test fails."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _migrate(env: dict[str, str], log_path: Path) -> None:
    with open(log_path, "ab") as log:
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
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
def live_server(
    extra_env: dict[str, str] | None = None,
    startup_timeout: float = STARTUP_SECONDS,
    keep_files: bool = False,
    make_run_host: str | None = None,
    server_args: list[str] | None = None,
    port: int | None = None,
    deployed_limits: bool = False,
) -> Iterator[LiveServer]:
    """A migrated fresh database and a Daphne process serving it; stopped and cleaned up on exit.

    With `make_run_host` the server is started as `make run HOST=make_run_host` starts it (config.serve);
    with `server_args` (and the `port` they name) as those say, e.g. docker-compose.yml's command. The
    tests reach it on 127.0.0.1 either way. With `deployed_limits` the per-address limits are the defaults.
    """
    workdir = Path(tempfile.mkdtemp(prefix="doodle-live-"))
    log_path = workdir / "server.log"
    env = server_env(workdir / "db.sqlite3", extra_env, deployed_limits=deployed_limits)
    _migrate(env, log_path)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    args = server_args or (make_run_args(make_run_host, port) if make_run_host else daphne_args(port))
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
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

    Self-contained on purpose: it must not depend on another fixture from here. Provided by
    tests/conftest.py, so that the whole session shares it.
    The server's log is printed at teardown, which pytest shows when a test failed.
    """
    with live_server() as server:
        yield server.url
    print(f"--- live server log ({server.url}) ---\n{server.log[-20000:]}")
