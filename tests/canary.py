"""A canary: a TCP server on loopback that no crawl may ever reach, and that records every connection.

It listens on one port on several loopback addresses (127.0.0.1, ::1 where the machine has IPv6, and any
other given), so that a request to any spelling of those addresses, or to a name that resolves to them,
would arrive. It answers like a news site (an article page), so that a connection the policy let through
would also show as a stored article. A test asserts that :attr:`Canary.connections` stayed empty.

Also here: the names this machine resolves to loopback without DNS (from ``/etc/hosts``), and a downloader
middleware for tests that leaves every URL unchecked, so that the resolver's judgement is seen alone.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from scrapy import Request

from crawler.crawl.addresses import AddressPolicyMiddleware

#: What the canary answers: an article, as the internal service a leak would reach might look to a crawler.
_PAGE = (
    b"<!DOCTYPE html><html><head><title>Internal admin</title></head><body><article><h1>Internal admin</h1>"
    + b"<p>This page is served by an internal service that no crawl may reach, whatever the URL says.</p>" * 12
    + b"</article></body></html>"
)
_REPLY = (
    b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: "
    + str(len(_PAGE)).encode()
    + b"\r\nConnection: close\r\n\r\n"
    + _PAGE
)


@dataclass(frozen=True)
class Connection:
    """One connection the canary accepted: the address it came in on and the first bytes it sent."""

    address: str
    request: bytes


class Canary:
    """A server on ``port`` (a free one by default) of every address in ``hosts`` plus 127.0.0.1 and, if the
    machine has it, ::1; every connection is recorded in :attr:`connections`."""

    def __init__(self, *hosts: str) -> None:
        self.hosts = tuple(dict.fromkeys(("127.0.0.1", *hosts)))
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets = self._bind()
        self.port: int = self._sockets[0].getsockname()[1]
        self._threads = [threading.Thread(target=self._serve, args=(s,), daemon=True) for s in self._sockets]

    @property
    def addresses(self) -> list[str]:
        """The addresses it listens on."""
        return [str(s.getsockname()[0]) for s in self._sockets]

    def _bind(self) -> list[socket.socket]:
        """Listening sockets on one port of every host (a few tries: the port must be free on all of them)."""
        for _ in range(20):
            first = _listen("127.0.0.1", 0)
            port = first.getsockname()[1]
            sockets = [first]
            try:
                sockets += [_listen(host, port) for host in self.hosts[1:]]
            except OSError:
                for opened in sockets:
                    opened.close()
                continue
            try:
                sockets.append(_listen("::1", port))
            except OSError:
                pass  # no IPv6 loopback here: nothing can connect to ::1 either
            return sockets
        raise RuntimeError(f"no port free on all of {self.hosts}")

    def _serve(self, listening: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listening.accept()
            except OSError:
                return  # closed: the canary stopped
            with client:
                client.settimeout(2)
                try:
                    request = client.recv(4096)
                except OSError:
                    request = b""
                with self._lock:
                    self.connections.append(Connection(str(listening.getsockname()[0]), request))
                try:
                    client.sendall(_REPLY)
                except OSError:
                    pass

    def url(self, host: str = "127.0.0.1", path: str = "/") -> str:
        """``http://HOST:PORT/PATH`` on the canary's port, ``host`` written as given (brackets added for IPv6)."""
        netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{netloc}:{self.port}{path}"

    def start(self) -> Canary:
        """Start accepting connections."""
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop, closing every listening socket."""
        self._stopping.set()
        for listening in self._sockets:
            try:
                listening.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listening.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Canary:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.bind((host, port))
        listening.listen(64)
    except OSError:
        listening.close()
        raise
    return listening


def loopback_names(hosts_file: Path = Path("/etc/hosts")) -> list[str]:
    """Host names that ``hosts_file`` maps to 127.0.0.1, other than ``localhost`` forms (the address policy
    knows those without resolving them): names only resolving shows to be internal. Empty when there are none."""
    names: list[str] = []
    try:
        lines = hosts_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or fields[0] != "127.0.0.1":
            continue
        for name in fields[1:]:
            lowered = name.lower().rstrip(".")
            if lowered != "localhost" and not lowered.endswith(".localhost") and lowered not in names:
                names.append(lowered)
    return names


class UncheckedUrlsMiddleware(AddressPolicyMiddleware):
    """For tests only: the address policy with the URL check left out (the crawl's policy is still handed to
    the resolver), so that a crawl shows what the resolver alone refuses."""

    def process_request(self, request: Request) -> None:
        """Let every URL through."""
        return None
