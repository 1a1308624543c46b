"""A player on another machine, on loopback: a TCP forwarder whose connections reach the server from its own address.

The game's per-address rules (seats, sockets, votes) see every local test
browser as 127.0.0.1. A page opened through `another_machine(url, "127.4.0.2")`
reaches the same server from 127.4.0.2 (Linux routes all of 127.0.0.0/8 to
the loopback interface), so it counts as a different player's connection, as
on a LAN. Only loopback addresses are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.parse
from collections.abc import Iterator


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.contextmanager
def another_machine(url: str, source: str) -> Iterator[str]:
    """`url` (http://127.0.0.1:PORT/...) as reached from `source`: the same URL on the forwarder's port."""
    assert source.startswith("127."), "loopback only"
    parts = urllib.parse.urlsplit(url)
    target_host, target_port = parts.hostname, parts.port
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(
                target_host, target_port, local_addr=(source, 0)
            )
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        state["port"] = server.sockets[0].getsockname()[1]
        state["server"] = server
        ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            async with server:
                await server.serve_forever()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        pending = asyncio.all_tasks(loop)  # the connections still open: cut them
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{state['port']}"))
    finally:
        loop.call_soon_threadsafe(state["server"].close)
        thread.join(10)
