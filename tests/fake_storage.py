"""A local fake of the storage downloads come from (Google's bucket, the npm registry): loopback only.

It honours Range requests like Google's storage does, and can drop a connection
part-way or ignore Range, which is what real downloads of large files meet.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

BUCKET = "quickdraw_dataset"


@dataclass
class Request:
    path: str
    range: str | None
    status: int


@dataclass
class FakeBucket:
    """What the fake server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)  # unquoted URL path -> content
    requests: list[Request] = field(default_factory=list)
    cut_after: int | None = None  # drop the first response's connection after this many body bytes
    ignore_range: bool = False  # answer 200 with the whole file, like a server without Range support
    delay: float = 0.0  # seconds before each answer, like a slow link: downloads overlap
    base_url: str = ""

    def put(self, key: str, content: bytes) -> None:
        self.files[f"/{BUCKET}/{key}"] = content


class Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        bucket = self.server.bucket
        time.sleep(bucket.delay)
        range_header = self.headers.get("Range")
        status, body, headers = self._answer(bucket, unquote(self.path), range_header)
        # Recorded before replying: the client may look as soon as it has the body.
        bucket.requests.append(Request(unquote(self.path), range_header, status))
        cut, bucket.cut_after = bucket.cut_after, None  # only the first request is cut
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if cut is not None:
            # Announce the full length, send part of it, hang up: a dropped download.
            body = body[:cut]
            self.close_connection = True
        self.wfile.write(body)
        self.wfile.flush()

    @staticmethod
    def _answer(bucket: FakeBucket, path: str, range_header: str | None) -> tuple[int, bytes, dict[str, str]]:
        body = bucket.files.get(path)
        if body is None:
            return 404, b"not found", {}
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if not match or bucket.ignore_range:
            return 200, body, {}
        start = int(match.group(1))
        if start >= len(body):
            return 416, b"", {"Content-Range": f"bytes */{len(body)}"}
        return 206, body[start:], {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bucket: FakeBucket


@contextmanager
def running_bucket() -> Iterator[FakeBucket]:
    """A fake bucket served on a free loopback port for the duration of the block."""
    server = _Server(("127.0.0.1", 0), Handler)
    server.bucket = FakeBucket()
    server.bucket.base_url = f"http://127.0.0.1:{server.server_address[1]}/{BUCKET}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.bucket
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
