"""`make run`: the game served by Daphne exactly as deployed, on the host and port asked for.

    python -m config.serve --host 0.0.0.0 --port 8000

Prints the URLs to share (every LAN address of this machine for a wildcard
host), then replaces itself with Daphne, run with the deployed WebSocket
limits. BIND_HOST tells the settings which addresses to allow (config.hosts).
No Django here: Daphne's process loads the settings itself.
"""

from __future__ import annotations

import argparse
import os
import sys

from config import hosts

# The protocol never needs a frame over 64 KiB (game/protocol.py); the Dockerfile, docker-compose.yml and
# the tests' live server run Daphne with these same limits.
WEBSOCKET_LIMIT_BYTES = 65536
DAPHNE_LIMITS = [
    "--websocket-max-message-size",
    str(WEBSOCKET_LIMIT_BYTES),
    "--websocket-max-frame-size",
    str(WEBSOCKET_LIMIT_BYTES),
]
ASGI_APPLICATION = "config.asgi:application"


def daphne_args(*, host: str, port: int) -> list[str]:
    """Arguments after the Python executable that run Daphne as deployed."""
    return ["-m", "daphne", "-b", host.strip("[]"), "-p", str(port), *DAPHNE_LIMITS, ASGI_APPLICATION]


def banner(*, host: str, port: int) -> str:
    local = "127.0.0.1" if hosts.is_wildcard(host) or host in ("127.0.0.1", "localhost") else None
    lines = ["Guess the Doodle is starting."]
    if local:
        lines.append(f"  On this machine:       http://{local}:{port}/")
    shared = hosts.lan_urls(bind_host=host, port=port)
    if shared:
        lines.append("  Friends on your network open one of:")
        lines += [f"    {url}" for url in shared]
    elif local:
        lines.append("  Only this machine can connect; for friends on your network: make run HOST=0.0.0.0")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    print(banner(host=args.host, port=args.port), flush=True)
    os.environ["BIND_HOST"] = args.host
    os.execv(sys.executable, [sys.executable, *daphne_args(host=args.host, port=args.port)])


if __name__ == "__main__":
    main()
