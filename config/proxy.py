"""Who the client is behind a reverse proxy: only what a trusted proxy saw is believed.

nginx (deploy/nginx.conf) sets X-Forwarded-For to the address it accepted the
connection from. Daphne's own --proxy-headers would believe the first entry of
whatever arrives, so a client could name itself anything and slip past the
per-address limits whenever a proxy appends instead of replacing. Here
uvicorn's ProxyHeadersMiddleware (used as plain ASGI middleware in front of
Daphne) applies the header only to connections from TRUSTED_PROXIES and takes
the rightmost entry no trusted proxy added.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def behind_trusted_proxies(app):
    """`app` with scope["client"] (and the scheme, from X-Forwarded-Proto) set from a trusted proxy's headers.

    Without TRUSTED_PROXIES (`make run`) forwarded headers are ignored: the peer is the client.
    """
    return ProxyHeadersMiddleware(app, trusted_hosts=settings.TRUSTED_PROXIES) if settings.TRUSTED_PROXIES else app


def request_client_address(request: HttpRequest) -> str | None:
    """The address Django has for the request (the proxy rules above already applied): for django-axes,
    which would otherwise read forwarded headers itself if django-ipware were ever installed."""
    return request.META.get("REMOTE_ADDR")
