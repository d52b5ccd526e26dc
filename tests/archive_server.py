"""A real HTTP archive mirror on 127.0.0.1 with per-path fault injection, for fetch tests.

The server serves a directory tree (an archive mirror written by :mod:`simulator.archive`)
the way a static file host does: ``200`` with ``Content-Length`` for a file, ``404`` for
anything else. Tests queue faults per archive-relative path; each request to that path
consumes one fault, and once the queue is empty the path is served normally.

Faults:

``"500"`` / ``"503"`` / ``"429"`` / ``"403"``
    that HTTP status with a small text body.
``"404"``
    a 404 even though the file exists.
``"reset"``
    read the request, then close the connection with a TCP reset and no response.
``"short"``
    a ``200`` whose ``Content-Length`` is the full size but whose body stops halfway.
``"slow"``
    sleep :attr:`ArchiveServer.slow_seconds` before answering (normally afterwards).
``"html"``
    ``200`` with ``text/html`` (an error page a CDN or captive portal might return).
``"chunked"``
    the real file with ``Transfer-Encoding: chunked`` and no ``Content-Length``.
``"gzip"``
    the real file gzip-compressed with ``Content-Encoding: gzip`` and the
    ``Content-Length`` of the compressed bytes (RFC 9110), when the client accepts gzip.
``"bad-gzip"``
    ``Content-Encoding: gzip`` with a body that is not gzip at all.
``"redirect"``
    ``302`` back to the same URL (queue many for a redirect loop).
"""

import gzip
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal

Fault = Literal[
    "500",
    "503",
    "429",
    "403",
    "404",
    "reset",
    "short",
    "slow",
    "html",
    "chunked",
    "gzip",
    "bad-gzip",
    "redirect",
]

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
    b"<body><h1>Please try again later</h1></body></html>\n"
)


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        archive = self.server.archive
        relpath = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        fault = archive._begin(relpath)
        # A request counts as in flight until its answer starts: the client may send its next
        # request the moment the answer arrives, before this handler has returned.
        try:
            if archive.delay_seconds:
                time.sleep(archive.delay_seconds)
        finally:
            archive._end()
        self._answer(relpath, fault)

    def _answer(self, relpath: str, fault: Fault | None) -> None:
        archive = self.server.archive
        if fault == "slow":
            time.sleep(archive.slow_seconds)
            fault = None
        if fault in ("500", "503", "429", "403", "404"):
            assert fault is not None
            self._send(int(fault), f"injected {fault}\n".encode(), "text/plain")
            return
        if fault == "reset":
            # SO_LINGER with a zero timeout makes the close an abortive one (RST, not FIN).
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if fault == "html":
            self._send(200, HTML_PAGE, "text/html; charset=utf-8")
            return
        if fault == "redirect":
            self.send_response(302)
            self.send_header("Location", archive.base_url + relpath)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "bad-gzip":
            self._send(200, b"this is not gzip data", archive.content_type(relpath), gzip=True)
            return
        body = archive.read(relpath)
        if body is None:
            self._send(404, b"<Error><Code>NoSuchKey</Code></Error>\n", "application/xml")
            return
        content_type = archive.content_type(relpath)
        if fault == "short":
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "chunked":
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1024):
                chunk = body[start : start + 1024]
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if fault == "gzip" and "gzip" in self.headers.get("Accept-Encoding", ""):
            self._send(200, gzip.compress(body, mtime=0), content_type, gzip=True)
            return
        self._send(200, body, content_type)

    def _send(self, status: int, body: bytes, content_type: str, gzip: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if gzip:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    archive: "ArchiveServer"

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hang up on slow or faulty answers on purpose; that is not worth a trace."""


class ArchiveServer:
    """Serve ``root`` over HTTP on an ephemeral 127.0.0.1 port; use as a context manager."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[str] = []
        self.delay_seconds = 0.0
        self.slow_seconds = 1.5
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.archive = self
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host!s}:{port}/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> "ArchiveServer":
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def inject(self, relpath: str, *faults: Fault, times: int = 1) -> None:
        """Queue ``faults`` (``times`` over) for ``relpath``; each request consumes one."""
        with self._lock:
            self.faults.setdefault(relpath, []).extend(list(faults) * times)

    def count(self, relpath: str) -> int:
        """How many requests reached ``relpath`` so far."""
        with self._lock:
            return Counter(self.requests)[relpath]

    def requested(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self.requests))

    def read(self, relpath: str) -> bytes | None:
        path = (self.root / relpath).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path.read_bytes()

    @staticmethod
    def content_type(relpath: str) -> str:
        return "application/zip" if relpath.endswith(".zip") else "text/plain"

    def _begin(self, relpath: str) -> Fault | None:
        with self._lock:
            self.requests.append(relpath)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            queue = self.faults.get(relpath)
            return queue.pop(0) if queue else None

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1
