"""Per-address limits (rooms created, room codes tried), counted in Django's cache.

Fixed windows are enough here: the aim is to stop one address from creating
rooms by the thousand or walking the code space, not to meter fairly. With
REDIS_URL the cache is Redis, so the count holds across web processes.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.cache import cache

from game import runtime, selectors
from game.errors import GameError

# kind -> (allowed per window, window seconds); settings.ADDRESS_LIMITS overrides
# (a load test from one machine needs more rooms than a person does).
LIMITS = {
    "create_room": (10, 600),
    "try_code": (30, 60),
    "open_socket": (60, 60),
}


def limit_for(kind: str) -> tuple[int, int]:
    return getattr(settings, "ADDRESS_LIMITS", {}).get(kind, LIMITS[kind])


def client_address(scope_or_meta: dict) -> str:
    """The peer address from an ASGI scope or a request's META (the proxy's forwarded-for is not trusted)."""
    if "client" in scope_or_meta:
        client = scope_or_meta.get("client") or ("unknown", 0)
        return str(client[0])
    return str(scope_or_meta.get("REMOTE_ADDR", "unknown"))


def allow(kind: str, address: str) -> bool:
    """Count one attempt; False once the address is over its limit for this window."""
    limit, window = limit_for(kind)
    key = f"gtd:limit:{kind}:{address}"
    if cache.add(key, 1, timeout=window):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return True
    return count <= limit


def room_by_code(*, code: str, address: str):
    """The room with `code`, or None; an unknown code counts against `address`, and past the limit the
    lookup is refused with GameError `rate_limited` (so nobody walks the code space, by page or socket)."""
    room = selectors.room_by_code(code=code)
    if room is None and not allow("try_code", address):
        raise GameError("too many room codes tried; wait a minute", code="rate_limited")
    return room


def address_key(address: str) -> str:
    """What the database keeps of an address (per-address rules in a room): a keyed hash, not the address."""
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:24]


def socket_opened(address: str) -> str | None:
    """Count a new game socket from `address`; the reason it must be refused, or None."""
    if not allow("open_socket", address):
        return "Too many new connections from your address: wait a minute."
    # Open game sockets per address in this process: the per-seat rule keeps one socket per seat; this
    # stops one address from holding hundreds of idle sockets.
    sockets = runtime.current().sockets_by_address
    if sockets[address] >= settings.SOCKETS_PER_ADDRESS:
        return "Too many open connections from your address: close some tabs."
    sockets[address] += 1
    return None


def socket_closed(address: str) -> None:
    """A socket counted by `socket_opened` is gone."""
    sockets = runtime.current().sockets_by_address
    sockets[address] -= 1
    if sockets[address] <= 0:
        del sockets[address]
