"""A real PostgreSQL server (Debian's package) on a free loopback port, for tests that need it.

The scaled-out game runs on PostgreSQL, and some of its statements are
written per database (game.hot_queries), so those tests run on the real thing.
PostgreSQL refuses to run as root: as root (CI), the server runs as the
`postgres` user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import free_port, wait_for_port

DATABASE = "doodle"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: run `make test` (it installs Debian's postgresql)")
    return Path(found[-1]).parent


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    # setpriv replaces itself with the command, so terminating it stops the server.
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


class PostgresServer:
    def __init__(self) -> None:
        bin_dir = _bin_dir()
        # Not under pytest's tmp_path: as root that sits in a directory the postgres user cannot enter.
        self.dir = Path(tempfile.mkdtemp(prefix="doodle-pg-"))
        data, sockets = self.dir / "data", self.dir / "sockets"
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(sockets, "postgres", "postgres")
        user = _as_server_user()
        subprocess.run(
            [
                *user,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                DATABASE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        # Durability off: these servers live for one test run.
        self.proc = subprocess.Popen(
            [
                *user,
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(sockets),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=30)
        createdb = [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DATABASE, DATABASE]
        end = time.monotonic() + 30
        while subprocess.run(createdb, capture_output=True).returncode != 0:  # still starting up
            if time.monotonic() > end or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.1)
        self.url = f"postgres://{DATABASE}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    server = PostgresServer()
    try:
        yield server.url
    finally:
        server.stop()
