"""The fault web: small sites on loopback (127.0.4.x) that answer with exactly the bytes a test
gives them, for the faults an ordinary HTTP server will not make: a gzip body cut mid-stream or
with a bad CRC, a body shorter or longer than its ``Content-Length``, a charset header that lies,
a ``Retry-After`` for the whole host, robots.txt that disallows everything, redirects or is huge.

Each :class:`FaultSite` is a threaded raw TCP server: it reads one request (request line and
headers), answers with the bytes of its route and closes the connection (so a body longer than its
``Content-Length`` is not taken for the next response). It logs when each request arrived and when
its answer was written, so a test can tell which requests came after an answer.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from crawler.app.webserver import Reply

#: The first address of the fault web; each site takes its own (127.0.4.1, 127.0.4.2, ...).
FAULT_NET = "127.0.4."

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 429: "Too Many Requests"}
_REASONS |= {500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class RawReply:
    """An answer written byte for byte: a status line and headers (``head``, without the blank line) and a body."""

    head: bytes
    body: bytes = b""

    def to_bytes(self) -> bytes:
        """The whole answer as written on the wire."""
        return self.head.rstrip(b"\r\n") + b"\r\n\r\n" + self.body


@dataclass(frozen=True)
class FaultRecord:
    """One request the site saw: its path, when it arrived and when the answer was written (``time.time()``)."""

    path: str
    headers: dict[str, str]
    arrived: float
    answered: float
    status: int


Route = Reply | RawReply | Callable[[str], Reply | RawReply]


def raw_bytes(reply: Reply | RawReply) -> bytes:
    """The bytes of ``reply`` on the wire: a :class:`RawReply` as is, a :class:`Reply` as a well-formed answer."""
    if isinstance(reply, RawReply):
        return reply.to_bytes()
    headers = {"Content-Length": str(len(reply.body)), **reply.headers, "Connection": "close"}
    head = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + reply.body


def status_of(data: bytes) -> int:
    """The status code of an answer's bytes (0 if there is none)."""
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


class FaultSite:
    """A site at ``http://host:port`` that answers each path from a table of routes (404 otherwise)."""

    def __init__(self, name: str, host: str) -> None:
        self.name = name
        self.host = host
        self.routes: dict[str, Route] = {}
        self.log: list[FaultRecord] = []
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port = self._socket.getsockname()[1]
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def add(self, path: str, route: Route) -> str:
        """Answer ``path`` with ``route`` (a reply, or a function of the path giving one); its absolute URL."""
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this site."""
        return f"http://{self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        """The paths requested so far, in order of arrival."""
        with self._lock:
            return [record.path for record in self.log]

    def records(self, path: str | None = None) -> list[FaultRecord]:
        """The requests seen so far (of ``path`` only, if given), in order of arrival."""
        with self._lock:
            return [record for record in self.log if path is None or record.path == path]

    # -- serving -----------------------------------------------------------------------
    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            request = b""
            try:
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
            except OSError:
                return
            arrived = time.time()
            lines = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            route = self.routes.get(path)
            reply = route(path) if callable(route) else route
            data = raw_bytes(reply if reply is not None else Reply(404, b"not found", {"Content-Type": "text/plain"}))
            try:
                connection.sendall(data)
            except OSError:
                pass  # the client gave up
            with self._lock:
                self.log.append(FaultRecord(path, headers, arrived, time.time(), status_of(data)))

    def _serve(self) -> None:
        self._socket.listen(64)
        self._socket.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def __enter__(self) -> FaultSite:
        self._thread = threading.Thread(target=self._serve, name=f"fault-{self.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._socket.close()


# -- faulty bodies -----------------------------------------------------------------------
def gzip_truncated(body: bytes, keep: float = 0.5) -> bytes:
    """``body`` gzipped, then cut to ``keep`` of its compressed length (no end of stream, no trailer)."""
    packed = gzip.compress(body)
    return packed[: int(len(packed) * keep)]


def gzip_bad_crc(body: bytes) -> bytes:
    """``body`` gzipped whole, with a wrong CRC-32 in its trailer."""
    packed = bytearray(gzip.compress(body))
    crc = zlib.crc32(body) ^ 0xFFFFFFFF
    packed[-8:-4] = crc.to_bytes(4, "little")
    return bytes(packed)


def answer(
    status: int, body: bytes, headers: dict[str, str] | None = None, content_length: int | None = None
) -> RawReply:
    """An answer of ``status`` with ``headers``, whose ``Content-Length`` is ``content_length`` (default: the body's
    true length) however long the body written really is."""
    length = len(body) if content_length is None else content_length
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Length: {length}\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return RawReply(head.encode("latin-1"), body)


def rss(*links: str) -> Reply:
    """An RSS feed of ``links``."""
    items = "".join(f"<item><title>t</title><link>{link}</link></item>" for link in links)
    return Reply(200, f"<rss><channel>{items}</channel></rss>".encode(), {"Content-Type": "application/rss+xml"})


ALLOW_ALL = Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
