"""A running server as the tools reach it: its URLs, and rooms created over HTTP as a browser does.

Only the standard library (http.client): it binds the source address a simulated
player speaks from (tools/addresses.py), which `requests` cannot do without an adapter.
"""

from __future__ import annotations

import http.client
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from tools.addresses import is_loopback_host
from tools.client import ProtocolClient, WebSocketTransport


class RoomRefused(RuntimeError):
    """The server would not create a room; `status` is the HTTP status (429: too many from this address)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def http_base(url: str) -> str:
    """Accept ws://, wss://, http:// or https:// and return the http(s) base the tools expect."""
    if url.startswith("ws://"):
        return "http://" + url[5:].rstrip("/")
    if url.startswith("wss://"):
        return "https://" + url[6:].rstrip("/")
    return url.rstrip("/")


def ws_url_for(base_url: str, code: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/ws/room/{code}/"


def origin_for(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(base_url: str) -> bool:
    return is_loopback_host(urlsplit(base_url).hostname)


def loopback_problem(base_url: str) -> str | None:
    """Why a load tool must not run against `base_url` (None when it may): load stays on this machine."""
    if is_loopback(base_url):
        return None
    return (
        f"{base_url}: load tools only run against this machine's loopback (127.0.0.0/8 or localhost), "
        "where every simulated player can have an address of its own"
    )


def _connection(base_url: str, source_address: str | None, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    source = (source_address, 0) if source_address else None
    return cls(parts.hostname, parts.port, timeout=timeout, source_address=source)


def create_room_over_http(
    base_url: str, timeout: float = 15.0, *, source_address: str | None = None, mode: str = "classic"
) -> str:
    """Create a room as a browser does (CSRF cookie, token field, header, Referer); returns its code.

    `source_address`: the loopback address the request comes from (the server counts rooms per address).
    `mode`: classic, solo or race (game.rules.MODES), as the home page's buttons ask for.
    """
    home = base_url.rstrip("/") + "/"
    path = urlsplit(home).path
    conn = _connection(base_url, source_address, timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RoomRefused(f"GET {home} answered {response.status}", response.status)
        cookies = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        if "csrftoken" not in cookies:
            raise RuntimeError(f"GET {home} set no csrftoken cookie")
        token = cookies["csrftoken"].value
        conn.request(
            "POST",
            path + "rooms/new",
            body=urlencode({"csrfmiddlewaretoken": token, "mode": mode}),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": token,
                "Referer": home,
                "Cookie": "; ".join(f"{k}={m.value}" for k, m in cookies.items()),
            },
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    location = response.headers.get("Location", "")
    if response.status == 429:
        raise RoomRefused(f"the server refused more rooms from {source_address or 'this address'} (429)", 429)
    if response.status not in (301, 302, 303) or "/r/" not in location:
        raise RoomRefused(f"POST /rooms/new answered {response.status} {location!r}: {body[:200]!r}", response.status)
    return location.rstrip("/").rsplit("/", 1)[-1]


def room_client(
    base_url: str,
    code: str,
    name: str = "",
    *,
    local_address: str | None = None,
    origin: str | None = None,
    keep_inbox: bool = True,
    record_sizes: bool = False,
    check_frames: bool = True,
    **transport,
) -> ProtocolClient:
    """A client for room `code` of the server at `base_url`, speaking from `local_address` (not connected yet).

    `origin`: the Origin header (the server's own by default, as the game's pages send it).
    """
    return ProtocolClient(
        WebSocketTransport(
            ws_url_for(base_url, code), origin=origin or origin_for(base_url), local_address=local_address, **transport
        ),
        name,
        keep_inbox=keep_inbox,
        record_sizes=record_sizes,
        check_frames=check_frames,
    )


async def joined(
    base_url: str,
    code: str,
    name: str,
    *,
    token: str | None = None,
    local_address: str | None = None,
    timeout: float = 20.0,
    **options,
) -> tuple[ProtocolClient, dict]:
    """A client seated in room `code` (connected, joined) and its welcome; JoinRefused if refused."""
    client = room_client(base_url, code, name, local_address=local_address, **options)
    await client.connect()
    try:
        return client, await client.join(token, timeout)
    except BaseException:
        await client.close()
        raise
