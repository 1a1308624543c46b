"""A client that stops reading is dropped long before the ping timeout, and nobody else notices (issue 12).

Daphne never pushes back on a sender: everything sent to a client that does
not read piles up in the server's memory. Against Daphne run as deployed, a
seated player stops reading (a raw socket with a tiny receive buffer that is
never read) while the drawer sends the largest strokes the limits allow.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.parse

from game import protocol
from game.bots import create_room_over_http, origin_for
from tests.live_server import live_server
from tests.test_frame_limits import Player, widest_stroke


def _frame(text: str) -> bytes:
    """One masked client text frame (RFC 6455), as a browser sends it."""
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    header += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def stalled_player(base: str, code: str, name: str) -> socket.socket:
    """A player who joins and then never reads again (its receive buffer as small as the OS allows)."""
    host, port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall((f"GET /ws/room/{code}/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  f"Sec-WebSocket-Version: 13\r\nOrigin: {origin_for(base)}\r\n\r\n").encode())
    sock.settimeout(10)
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(1)
    assert reply.startswith(b"HTTP/1.1 101"), reply
    sock.sendall(_frame(json.dumps({"type": "join", "name": name})))
    return sock


def test_a_client_that_stops_reading_is_dropped_and_the_room_plays_on():
    with live_server() as server:
        base = server.url
        code = create_room_over_http(base)

        async def main():
            ana = await Player.join(base, code, "Ana")  # the host: draws first
            bo = await Player.join(base, code, "Bo")
            stalled = stalled_player(base, code, "Stalled")
            await bo.until(lambda m: m["type"] == "chat" and m.get("text") == "Stalled joined")
            await ana.send({"type": "start"})
            choosing = await ana.until(lambda m: m["type"] == "state" and m["state"]["phase"] == "choosing")
            assert choosing["state"]["drawer_id"] == ana.welcome["player_id"]
            await ana.send({"type": "choose_word", "word": choosing["state"]["choices"][0]})
            await bo.until(lambda m: m["type"] == "state" and m["state"]["phase"] == "drawing")
            stroke = widest_stroke(protocol.MAX_POINTS_PER_STROKE, 0)
            began, sent = time.monotonic(), 0
            while "not reading" not in server.read_log() and time.monotonic() - began < 60:
                await ana.send({"type": "stroke", "stroke": 0, "points": stroke, "width": 22})
                await ana.send({"type": "undo"})
                sent += 1
                got = await bo.until(lambda m: m["type"] == "stroke")
                assert len(got["points"]) == protocol.MAX_POINTS_PER_STROKE
                await asyncio.sleep(0.25)  # under the undo limit
            dropped_after = time.monotonic() - began
            assert "not reading" in server.read_log(), f"still held after {sent} strokes"
            assert dropped_after < 45, "dropped before Daphne's ping timeout would have"
            # Bo saw every stroke, and the room goes on.
            await ana.send({"type": "guess", "text": "hello"})
            await bo.still_open()
            stalled.settimeout(5)
            try:
                while stalled.recv(65536):
                    pass
                closed = True  # the server closed its end
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            except TimeoutError:
                closed = False
            assert closed, "the stalled socket was closed by the server"
            left = await bo.until(lambda m: m["type"] == "state" and any(
                p["name"] == "Stalled" and not p["connected"] for p in m["state"]["players"]))
            assert left
            for p in (ana, bo):
                await p.ws.close()

        asyncio.run(main())
