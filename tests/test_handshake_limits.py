"""Defences below the protocol, against a real Daphne run as deployed: Origin check and frame limits."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import InvalidStatus

from config.websocket_security import origin_allowed
from tests.live_server import DAPHNE_LIMITS, REPO, WEBSOCKET_LIMIT_BYTES, live_server
from tools.addresses import LoopbackAddresses
from tools.client import ProtocolClient, WebSocketTransport
from tools.server import create_room_over_http, joined, origin_for, room_client, ws_url_for

ADDRESSES = LoopbackAddresses()


async def _chat_arrives(client: ProtocolClient, text: str) -> None:
    await client.send({"type": "guess", "text": text})
    await client.wait_for(lambda m: m["type"] == "chat" and m.get("text") == text, 10)


def _other_port(base_url: str) -> int:
    return urlsplit(base_url).port + 1


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1.evil.example",
        "null",
        # The same host on another port is another site (another app on that machine): refused too.
        "http://127.0.0.1:{other_port}",
        "http://127.0.0.1",
        # Another name this server answers to is still another origin than the one the socket was opened on.
        "http://localhost:{port}",
    ],
)
def test_a_cross_site_websocket_is_refused_at_the_handshake(live_server_url, origin):
    code = create_room_over_http(live_server_url, source_address=ADDRESSES.take())
    origin = origin.format(port=urlsplit(live_server_url).port, other_port=_other_port(live_server_url))

    async def main():
        evil = room_client(live_server_url, code, "Eve", local_address=ADDRESSES.take(), origin=origin, open_timeout=10)
        with pytest.raises(InvalidStatus) as refused:
            await evil.connect()
        assert refused.value.response.status_code == 403
        # The site's own pages still get in.
        ana, _ = await joined(live_server_url, code, "Ana", local_address=ADDRESSES.take())
        await _chat_arrives(ana, "hello")
        await ana.close()

    asyncio.run(main())


def test_a_frame_over_the_limit_closes_only_that_socket(live_server_url):
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


def test_a_websocket_path_with_no_route_is_refused_cleanly():
    """Refused at the handshake like any other refusal (today: a 500 and URLRouter's traceback in the log).
    A server of its own, to read exactly what these handshakes logged."""

    async def main(base_url: str) -> None:
        ws_base = ws_url_for(base_url, "X").split("/ws/")[0]
        for path in ("/ws/nope/", "/", "/ws/room/", "/ws/room/ABC123/extra/"):
            client = ProtocolClient(WebSocketTransport(ws_base + path, origin=origin_for(base_url), open_timeout=10))
            with pytest.raises(InvalidStatus) as refused:
                await client.connect()
            assert refused.value.response.status_code == 403, path

    with live_server() as server:
        asyncio.run(main(server.url))
    assert "Traceback" not in server.log and "No route found" not in server.log, server.log[-3000:]
    assert "/ws/nope/" in server.log, "the refusal is still logged as a request"


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", False),  # another port of the same host
        ("http://127.0.0.1", "127.0.0.1:8000", False),
        ("http://localhost", "localhost", True),  # no port in either: both the scheme's default
        ("http://localhost:80", "localhost", True),
        ("https://localhost", "localhost", True),  # behind TLS: the Host header carries no port
        ("https://localhost", "localhost:80", False),
        ("http://[::1]:8000", "[::1]:8000", True),
        ("http://evil.example:8000", "evil.example:8000", False),  # not in ALLOWED_HOSTS
        ("http://trusted.example", "127.0.0.1:8000", True),  # CSRF_TRUSTED_ORIGINS
        ("https://trusted.example", "127.0.0.1:8000", False),
        ("https://game.example.org", "127.0.0.1:8000", True),  # https://*.example.org
        ("https://example.org.evil.net", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000/path", "127.0.0.1:8000", False),
        ("http://127.0.0.1:99999", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        (None, "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000", None, False),
    ],
)
def test_the_origin_must_be_the_requests_own_host_and_port_or_trusted(settings, origin, host, allowed):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
    settings.CSRF_TRUSTED_ORIGINS = ["http://trusted.example", "https://*.example.org"]
    assert origin_allowed(origin=origin, host=host) is allowed
