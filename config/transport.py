"""What Daphne has queued for one client and not yet written: how slow readers are found and dropped.

Daphne writes each frame into the socket's Twisted transport at once and
never pushes back: a client that stops reading makes the server hold
everything sent to it, in memory, until the ping timeout (tens of seconds,
megabytes per socket in a busy room). A consumer asks here before each send
and drops a client whose backlog is over its bound.

This reaches into Daphne 4 and Twisted: the ASGI `send` Daphne hands an
application is `functools.partial(server.handle_reply, protocol)`, and a
Twisted TCP transport keeps unwritten bytes in `dataBuffer` (from `offset`)
and `_tempDataLen` (both unchanged since Twisted 8). Under any other server
(the test communicator) nothing is known and nothing is dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def _transport(send: Callable) -> object | None:
    if not isinstance(send, functools.partial) or not send.args:
        return None
    return getattr(send.args[0], "transport", None)


def queued_bytes(send: Callable) -> int | None:
    """Bytes written to this client's connection but not yet taken by the client, or None if unknown."""
    transport = _transport(send)
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen  # type: ignore[union-attr]
    except (AttributeError, TypeError):
        return None


def drop(send: Callable) -> bool:
    """Close the connection now, without waiting to flush what is queued (that is the problem)."""
    transport = _transport(send)
    abort = getattr(transport, "abortConnection", None)
    if abort is None:
        return False
    abort()
    return True
