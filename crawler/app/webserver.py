"""A small web server bound to a loopback address, serving a routing table of replies.

It is the engine of the offline demo (``ai4s demo``) and of the test suite's local
news web: each site is one server on its own loopback address (127.0.0.x), so that
per-site politeness, robots.txt and host checks behave as they do on the real web.
It is deliberately not a general web framework: routes map a path to a fixed
:class:`Reply` or to a function building one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One HTTP answer: status, body bytes, headers, and an optional delay before it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class RequestRecord:
    """What the server saw of one request, for tests and the demo summary."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    time: float


Handler = Callable[["RequestRecord"], Reply]


class _Server(ThreadingHTTPServer):
    """A threading HTTP server with a listen backlog of a real web server's size (nginx: 511): with
    socketserver's 5, a crawler opening 16 connections at once has SYNs dropped and retried after
    1, 3, 7 seconds."""

    request_queue_size = 511
    daemon_threads = True


class LocalSite:
    """A site served on ``host`` (a loopback address) at a free port, from a table of routes.

    Routes are looked up by the full path with its query string first, then by the path
    alone, then by the longest registered prefix; anything else is a 404.
    """

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0, etags: bool = False) -> None:
        self.name = name
        self.etags = etags  # send an ETag with every 200 and answer a matching If-None-Match with 304
        self.extra_delay: Callable[[RequestRecord], float] | None = None  # a slower site, for tests
        self.host = host
        self.port = port
        self.routes: dict[str, Reply | Handler] = {}
        self.prefixes: dict[str, Reply | Handler] = {}
        self.log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server: ThreadingHTTPServer | None = self._bind()
        self.port = self._server.server_address[1]

    # -- routing -----------------------------------------------------------------
    def add(self, path: str, reply: Reply | Handler) -> str:
        """Serve ``reply`` at ``path`` (which may carry a query string); return its absolute URL."""
        self.routes[path] = reply
        return self.url(path)

    def add_prefix(self, prefix: str, reply: Reply | Handler) -> None:
        """Serve ``reply`` for every path that starts with ``prefix`` and has no exact route."""
        self.prefixes[prefix] = reply

    def remove(self, path: str) -> None:
        """Stop serving ``path`` (it answers 404 from now on)."""
        self.routes.pop(path, None)

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this site."""
        return f"{self.base_url}{path if path.startswith('/') else '/' + path}"

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the site (the port is bound when the site is made)."""
        return f"http://{self.host}:{self.port}"

    def resolve(self, record: RequestRecord) -> Reply:
        """The reply for one request, by exact path, bare path, then longest prefix."""
        bare = urlsplit(record.path).path
        target = self.routes.get(record.path) or self.routes.get(bare)
        if target is None:
            for prefix in sorted(self.prefixes, key=len, reverse=True):
                if bare.startswith(prefix):
                    target = self.prefixes[prefix]
                    break
        if target is None:
            return Reply(
                404, b"<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html; charset=utf-8"}
            )
        reply = target(record) if callable(target) else target
        return self._conditional(record, reply) if self.etags else reply

    @staticmethod
    def _conditional(record: RequestRecord, reply: Reply) -> Reply:
        """``reply`` with an ETag (a hash of its body), or a 304 when the client already has that body."""
        if reply.status != 200:
            return reply
        etag = '"' + hashlib.sha1(reply.body).hexdigest()[:20] + '"'
        asked = {tag.strip() for tag in record.headers.get("If-None-Match", "").split(",")}
        if etag in asked:
            return Reply(304, b"", {"ETag": etag}, reply.delay)
        return Reply(reply.status, reply.body, {**reply.headers, "ETag": etag}, reply.delay)

    def requests_for(self, path: str) -> list[RequestRecord]:
        """The logged requests whose path (with query) equals ``path``."""
        with self._lock:
            return [r for r in self.log if r.path == path]

    # -- life cycle --------------------------------------------------------------
    def _bind(self) -> ThreadingHTTPServer:
        """Bind the listening socket now, so the site's URL is known before it serves."""
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as web servers set it (nginx's tcp_nodelay): the headers and the body are two writes,
            # and with Nagle's algorithm the body would wait for the client's delayed ACK of the headers (40 ms)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return  # the site keeps its own log

            def _answer(self, send_body: bool) -> None:
                record = RequestRecord(self.command, self.path, dict(self.headers.items()), 0, time.time())
                try:
                    reply = site.resolve(record)
                except Exception as exc:  # a broken handler is a 500, as on a real site
                    reply = Reply(500, f"handler error: {exc}".encode(), {"Content-Type": "text/plain"})
                with site._lock:
                    site.log.append(
                        RequestRecord(record.method, record.path, record.headers, reply.status, record.time)
                    )
                delay = reply.delay + (site.extra_delay(record) if site.extra_delay else 0.0)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(reply.status)
                    length = 0 if reply.status in (204, 304) else len(reply.body)
                    headers = {"Content-Length": str(length), **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if send_body and reply.status not in (204, 304):
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout on its side): nothing to do

            def do_GET(self) -> None:  # noqa: N802
                self._answer(send_body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(send_body=False)

        return _Server((self.host, self.port), _Handler)

    def start(self) -> str:
        """Start serving in a background thread; return the base URL."""
        if self._server is None:
            self._server = self._bind()
            self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"site-{self.name}", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread = None
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def html_reply(html: str | bytes, charset: str = "utf-8", status: int = 200, **headers: str) -> Reply:
    """A text/html reply, the body encoded in ``charset`` (declared in Content-Type unless ``charset`` is empty)."""
    body = html if isinstance(html, bytes) else html.encode(charset or "utf-8")
    content_type = f"text/html; charset={charset}" if charset else "text/html"
    return Reply(status, body, {"Content-Type": content_type, **headers})
