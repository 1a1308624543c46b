"""Per-connection rate limits: token buckets per message type, and when to give up on a client.

Pure and clock-injected, so tests drive time by hand. Limits sit well above
what a person does (a drawer's client sends points about 20 times a second,
a typist a few guesses a second; see scribble.rs #15 on guess flooding) and
far below what a script can.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

# message type -> (tokens per second, burst)
LIMITS: dict[str, tuple[float, float]] = {
    "points": (40.0, 80.0),
    "stroke": (10.0, 20.0),
    "undo": (5.0, 10.0),
    "clear": (2.0, 5.0),
    "guess": (5.0, 8.0),
    "join": (1.0, 3.0),
    "settings": (5.0, 10.0),
    "start": (1.0, 3.0),
    "play_again": (1.0, 3.0),
    "choose_word": (2.0, 5.0),
    "kick": (1.0, 3.0),
    "votekick": (1.0, 3.0),
    "leave": (1.0, 2.0),
    "ping": (2.0, 5.0),
    "sync": (1.0, 3.0),
    "invalid": (2.0, 10.0),  # malformed frames: a buggy client gets some slack, a fuzzer does not
}
# What a player is told when a limit refuses them (their own words, not the protocol's).
SLOW_DOWN = {
    "guess": "You're sending guesses too fast: wait a moment.",
    "points": "You're drawing faster than the server takes: slow down a little.",
    "stroke": "You're drawing faster than the server takes: slow down a little.",
    "undo": "You're undoing too fast: wait a moment.",
    "clear": "You're clearing too fast: wait a moment.",
    "join": "You're reconnecting too often: wait a moment.",
    "votekick": "You're voting too fast: wait a moment.",
}
SLOW_DOWN_DEFAULT = "You're doing that too fast: wait a moment."
# Seats whose limits this process remembers: a seat's new socket (a reload, a reconnect) carries on
# with the same buckets instead of starting full again.
REMEMBERED_SEATS = 5_000
# This many refusals within the window and the socket is closed.
ABUSE_REFUSALS = 40
ABUSE_WINDOW_SECONDS = 10.0
# WebSocket close code for a client closed for abuse (4000-4999: application codes).
ABUSE_CLOSE_CODE = 4008


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def allow(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class ConnectionLimits:
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    refusals: deque = field(default_factory=deque)

    def allow(self, kind: str, now: float) -> bool:
        bucket = self.buckets.get(kind)
        if bucket is None:
            rate, burst = LIMITS.get(kind, (5.0, 10.0))
            bucket = self.buckets[kind] = TokenBucket(rate, burst)
        if bucket.allow(now):
            return True
        self.refused(now)
        return False

    def refused(self, now: float) -> None:
        self.refusals.append(now)
        while self.refusals and now - self.refusals[0] > ABUSE_WINDOW_SECONDS:
            self.refusals.popleft()

    def abusive(self) -> bool:
        return len(self.refusals) >= ABUSE_REFUSALS


def slow_down(kind: str) -> str:
    return SLOW_DOWN.get(kind, SLOW_DOWN_DEFAULT)


_seat_limits: OrderedDict[int, ConnectionLimits] = OrderedDict()


def for_seat(player_id: int) -> ConnectionLimits:
    """The limits of one seat in this process, shared by every socket it has had here."""
    limits = _seat_limits.get(player_id)
    if limits is None:
        limits = _seat_limits[player_id] = ConnectionLimits()
    _seat_limits.move_to_end(player_id)
    while len(_seat_limits) > REMEMBERED_SEATS:
        _seat_limits.popitem(last=False)
    return limits
