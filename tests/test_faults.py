"""Faults injected into a running server: the database locked for a moment."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests.live_server import live_server
from tools.server import create_room_over_http, origin_for, ws_url_for


def test_a_database_locked_for_a_moment_delays_but_loses_nothing_and_crashes_nothing():
    with live_server() as server:
        db_path = server.log_path.parent / "db.sqlite3"
        code = create_room_over_http(server.url)

        async def main():
            async def join(name):
                ws = await connect(ws_url_for(server.url, code), origin=Origin(origin_for(server.url)))
                await ws.send(json.dumps({"type": "join", "name": name}))
                while json.loads(await ws.recv())["type"] != "welcome":
                    pass
                return ws

            ana, bo = await join("Ana"), await join("Bo")
            # Another writer holds the database for 1.5 s (a backup, a migration, a slow disk).
            lock = sqlite3.connect(db_path, timeout=10, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            await bo.send(json.dumps({"type": "guess", "text": "while locked"}))
            await bo.send(json.dumps({"type": "start"}))  # not the host: refused, after the lock
            await asyncio.sleep(1.5)
            lock.execute("COMMIT")
            lock.close()
            seen = []
            async with asyncio.timeout(15):
                while not ({"chat", "error"} <= {m["type"] for m in seen}):
                    seen.append(json.loads(await bo.recv()))
            chat = next(m for m in seen if m["type"] == "chat" and m.get("text") == "while locked")
            error = next(m for m in seen if m["type"] == "error")
            assert chat["name"] == "Bo" and error["code"] == "not_host"
            # Both sockets are still served.
            for ws in (ana, bo):
                await ws.send(json.dumps({"type": "ping"}))
                async with asyncio.timeout(5):
                    while json.loads(await ws.recv())["type"] != "pong":
                        pass
                await ws.close()

        asyncio.run(main())
    assert "Traceback" not in server.log, server.log[-3000:]
