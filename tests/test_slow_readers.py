"""A client that stops reading is dropped long before the ping timeout, and nobody else notices (issue 12).

Daphne never pushes back on a sender: everything sent to a client that does
not read piles up in the server's memory. Against Daphne run as deployed, a
seated player stops reading (a tiny receive buffer, never read after the
welcome) while the drawer sends the largest strokes the limits allow.
"""

from __future__ import annotations

import asyncio
import time

from game import protocol
from tests.live_server import live_server
from tests.test_frame_limits import ADDRESSES, player, still_open
from tools.doodles import widest_stroke
from tools.server import create_room_over_http, joined


def test_a_client_that_stops_reading_is_dropped_and_the_room_plays_on():
    with live_server() as server:
        base = server.url
        code = create_room_over_http(base, source_address=ADDRESSES.take())

        async def main():
            ana, welcome = await player(base, code, "Ana")  # the host: draws first
            bo, _ = await player(base, code, "Bo")
            # Joined by reading up to its welcome, then never read again: no keepalive pings either.
            stalled, _ = await joined(
                base,
                code,
                "Stalled",
                local_address=ADDRESSES.take(),
                receive_buffer=4096,
                max_queue=1,
                ping_interval=None,
            )
            await bo.wait_for(lambda m: m["type"] == "chat" and m.get("text") == "Stalled joined", 15)
            await ana.send({"type": "start"})
            choosing = await ana.wait_for(lambda m: m["type"] == "state" and m["state"]["phase"] == "choosing", 30)
            assert choosing["state"]["drawer_id"] == welcome["player_id"]
            await ana.send({"type": "choose_word", "word": choosing["state"]["choices"][0]})
            await bo.wait_for(lambda m: m["type"] == "state" and m["state"]["phase"] == "drawing", 30)
            stroke = widest_stroke(protocol.MAX_POINTS_PER_STROKE, 0)
            began, sent = time.monotonic(), 0
            while "not reading" not in server.read_log() and time.monotonic() - began < 60:
                await ana.send({"type": "stroke", "stroke": 0, "points": stroke, "width": 22})
                await ana.send({"type": "undo"})
                sent += 1
                got = await bo.wait_for(lambda m: m["type"] == "stroke", 30)
                assert len(got["points"]) == protocol.MAX_POINTS_PER_STROKE
                await asyncio.sleep(0.25)  # under the undo limit
            dropped_after = time.monotonic() - began
            assert "not reading" in server.read_log(), f"still held after {sent} strokes"
            assert dropped_after < 45, "dropped before Daphne's ping timeout would have"
            # Bo saw every stroke, and the room goes on.
            await ana.send({"type": "guess", "text": "hello"})
            await still_open(bo)
            # Reading again, the stalled client finds its connection gone (dropped: no close frame).
            assert await stalled.until(lambda: stalled.closed, 10), "the server closed the stalled socket"
            assert stalled.close_code == 1006
            left = await bo.wait_for(
                lambda m: (
                    m["type"] == "state"
                    and any(p["name"] == "Stalled" and not p["connected"] for p in m["state"]["players"])
                ),
                30,
            )
            assert left
            for p in (ana, bo):
                await p.close()

        asyncio.run(main())
