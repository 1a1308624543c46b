"""The WebSocket handshake's own checks: the page's origin, and paths with no route.

Browsers send cookies with a WebSocket handshake from any page, so the Origin
header is what tells our own pages apart. Channels' AllowedHostsOriginValidator
compares host names only: a page served from another port of the same host
(another app on the same machine) could open game sockets. Here the Origin
must name the very host and port the request was sent to (its Host header,
itself one of ALLOWED_HOSTS), or be one of CSRF_TRUSTED_ORIGINS, the same list
Django's CSRF check trusts for forms.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _allowed_hosts() -> list[str]:
    # What Django's HttpRequest.get_host allows, DEBUG's fallback included.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


def _trusted(origin: str, scheme: str, netloc: str) -> bool:
    """Django's CSRF_TRUSTED_ORIGINS rule: an exact origin, or scheme://*.domain for its subdomains."""
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        trusted = trusted.lower()
        if trusted == origin:
            return True
        parts = urlsplit(trusted)
        if parts.scheme == scheme and parts.netloc.startswith("*") and is_same_domain(netloc, parts.netloc[1:]):
            return True
    return False


def origin_allowed(*, origin: str | None, host: str | None) -> bool:
    """Whether a handshake sent to `host` (the Host header) from a page at `origin` may go through."""
    if not origin or not host:
        return False
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return False
    origin = origin.strip().lower()
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # an unparseable port
        return False
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.username:
        return False
    if _trusted(origin, parts.scheme, parts.netloc):
        return True
    # A Host header without a port means the default port of the scheme the page was loaded with.
    request_port = int(port) if port else DEFAULT_PORTS[parts.scheme]
    origin_domain, _ = split_domain_port(parts.netloc)
    return origin_domain == domain and origin_port == request_port


async def refuse(scope: dict, receive, send) -> None:
    """Deny a handshake: a close before the accept, which Daphne answers with 403 (no consumer, no traceback)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


class SameOriginValidator:
    """ASGI middleware: WebSocket handshakes from another origin (or with no Origin) are refused."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator only guards WebSocket connections")
        if origin_allowed(origin=_header(scope, b"origin"), host=_header(scope, b"host")):
            return await self.application(scope, receive, send)
        return await refuse(scope, receive, send)
