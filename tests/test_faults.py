"""Faults injected into a running server: the database locked for a moment."""

from __future__ import annotations

import asyncio
import sqlite3

from tests.live_server import live_server
from tools.addresses import LoopbackAddresses
from tools.server import create_room_over_http, joined

ADDRESSES = LoopbackAddresses()


def test_a_database_locked_for_a_moment_delays_but_loses_nothing_and_crashes_nothing():
    with live_server() as server:
        db_path = server.log_path.parent / "db.sqlite3"
        code = create_room_over_http(server.url, source_address=ADDRESSES.take())

        async def main():
            (ana, _), (bo, _) = [
                await joined(server.url, code, name, local_address=ADDRESSES.take()) for name in ("Ana", "Bo")
            ]
            # Another writer holds the database for 1.5 s (a backup, a migration, a slow disk).
            lock = sqlite3.connect(db_path, timeout=10, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            await bo.send({"type": "guess", "text": "while locked"})
            await bo.send({"type": "start"})  # not the host: refused, after the lock
            await asyncio.sleep(1.5)
            lock.execute("COMMIT")
            lock.close()
            chat = await bo.wait_for(lambda m: m["type"] == "chat" and m.get("text") == "while locked", 15)
            error = await bo.wait_for(lambda m: m["type"] == "error", 15)
            assert chat["name"] == "Bo" and error["code"] == "not_host"
            # Both sockets are still served.
            for client in (ana, bo):
                await client.send({"type": "ping"})
                await client.wait_for(lambda m: m["type"] == "pong", 5)
                await client.close()

        asyncio.run(main())
    assert "Traceback" not in server.log, server.log[-3000:]
