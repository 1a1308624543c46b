"""Defences below the protocol, against a real Daphne run as deployed: Origin check and frame limits."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from websockets.exceptions import InvalidStatus

from tests.live_server import DAPHNE_LIMITS, REPO, WEBSOCKET_LIMIT_BYTES, live_server_url  # noqa: F401
from tools.addresses import LoopbackAddresses
from tools.client import ProtocolClient
from tools.server import create_room_over_http, joined, room_client

ADDRESSES = LoopbackAddresses()


async def _chat_arrives(client: ProtocolClient, text: str) -> None:
    await client.send({"type": "guess", "text": text})
    await client.wait_for(lambda m: m["type"] == "chat" and m.get("text") == text, 10)


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1.evil.example", "null"])
def test_a_cross_site_websocket_is_refused_at_the_handshake(live_server_url, origin):  # noqa: F811
    code = create_room_over_http(live_server_url, source_address=ADDRESSES.take())

    async def main():
        evil = room_client(live_server_url, code, "Eve", local_address=ADDRESSES.take(), origin=origin,
                           open_timeout=10)
        with pytest.raises(InvalidStatus) as refused:
            await evil.connect()
        assert refused.value.response.status_code == 403
        # The site's own pages still get in.
        ana, _ = await joined(live_server_url, code, "Ana", local_address=ADDRESSES.take())
        await _chat_arrives(ana, "hello")
        await ana.close()

    asyncio.run(main())


def test_a_frame_over_the_limit_closes_only_that_socket(live_server_url):  # noqa: F811
    code = create_room_over_http(live_server_url, source_address=ADDRESSES.take())

    async def main():
        ana, _ = await joined(live_server_url, code, "Ana", local_address=ADDRESSES.take())
        eve, _ = await joined(live_server_url, code, "Eve", local_address=ADDRESSES.take())
        # Just under the limit: an oversized but deliverable frame is a protocol error, answered and survived.
        await eve.send(json.dumps({"type": "guess", "text": "x" * (WEBSOCKET_LIMIT_BYTES - 100)}))
        m = await eve.wait_for(lambda m: m["type"] == "error", 10)
        assert m["code"] in ("too_large", "invalid_message"), m
        await _chat_arrives(eve, "still here")
        # Over the limit: Daphne (autobahn) fails the connection before the app sees the frame: it drops
        # the TCP connection (its failByDrop default) or, configured otherwise, closes with 1009.
        await eve.send(json.dumps({"type": "guess", "text": "x" * (WEBSOCKET_LIMIT_BYTES + 1)}))
        assert await eve.until(lambda: eve.closed, 10), "the server closed the socket"
        assert eve.close_code in (1006, 1009), eve.close_code
        await _chat_arrives(ana, "nobody else noticed")
        await ana.close()

    asyncio.run(main())


@pytest.mark.parametrize("path", ["Dockerfile", "docker-compose.yml"])
def test_deployed_daphne_runs_with_the_tested_limits(path):
    text = (REPO / path).read_text()
    found = re.findall(r'"(--websocket-max-(?:message|frame)-size)",\s*"(\d+)"', text)
    assert sorted(found) == sorted(zip(DAPHNE_LIMITS[::2], DAPHNE_LIMITS[1::2], strict=True)), found
