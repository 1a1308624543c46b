"""Loopback source addresses, one per simulated player: real players have addresses of their own.

The server counts seats, sockets and new rooms per address (game/address_limits.py,
SEATS_PER_ADDRESS and friends in config/settings.py). Were every simulated player to
connect from 127.0.0.1, a load test would measure those limits, not the game. Linux
routes all of 127.0.0.0/8 to the loopback interface, so a client may bind any of its
16 million addresses as its source (`local_addr`) and reach a server listening on
127.0.0.1: each player gets one, and the server sees as many households as players.

A run takes a /16 of its own (127.B.0.0/16, B picked at random), so two runs against
the same server (a test session) do not share per-address counters; abusers share one
address of that block on purpose, since that is what the per-address limits are for.
"""

from __future__ import annotations

import ipaddress
import random

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# 127.0.x.x is left alone: 127.0.0.1 is where everything else on the machine comes from.
FIRST_BLOCK, LAST_BLOCK = 16, 254
HOSTS_PER_ROW = 250  # 127.B.row.(1..250): players; 127.B.255.x: abusers


class LoopbackAddresses:
    """Hands out distinct source addresses from one random 127.B.0.0/16 (up to 64,000 players)."""

    def __init__(self, block: int | None = None):
        self.block = block if block is not None else random.SystemRandom().randint(FIRST_BLOCK, LAST_BLOCK)
        self.handed_out = 0
        self._abuser: str | None = None

    @property
    def network(self) -> str:
        return f"127.{self.block}.0.0/16"

    def take(self) -> str:
        """A source address nobody else in this run has."""
        n = self.handed_out
        if n >= 255 * HOSTS_PER_ROW:
            raise RuntimeError(f"out of loopback addresses in {self.network}")
        self.handed_out += 1
        return f"127.{self.block}.{n // HOSTS_PER_ROW}.{n % HOSTS_PER_ROW + 1}"

    def abuser(self) -> str:
        """The one address every abuser of this run shares."""
        if self._abuser is None:
            self._abuser = f"127.{self.block}.255.{random.SystemRandom().randint(1, 254)}"
        return self._abuser


def is_loopback_host(host: str | None) -> bool:
    """A host name or IPv4 address on this machine's loopback (where our sources can reach it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "") in LOOPBACK
    except ValueError:
        return False
