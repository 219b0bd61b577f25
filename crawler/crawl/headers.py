"""Response headers are bounded: a server that sends header lines without end (never the blank line that ends
them) had Twisted's HTTP client keep every one until the download timeout, 1.5 GB for one request in 20 s, and
``DOWNLOAD_MAXSIZE`` counts only the body. Past :data:`MAX_HEADER_BYTES` the response fails (a failed fetch,
recorded as any network error)."""

from __future__ import annotations

from typing import Any

from twisted.web import _newclient

#: Bytes of a response's status line and headers read at most. Real responses send a few KiB (nginx reads at
#: most 32 KiB a line); the longest seen on news sites are cookie and policy headers of tens of KiB.
MAX_HEADER_BYTES = 256 * 1024


class HeadersTooLarge(Exception):
    """A response whose status line and headers are longer than the crawl reads."""


def bound_response_headers(limit: int = MAX_HEADER_BYTES) -> None:
    """Make every HTTP/1.1 response this process's Twisted client reads (Scrapy's parser included, a subclass) fail
    once what came before its body passes ``limit`` bytes (:class:`HeadersTooLarge`)."""
    parser: Any = _newclient.HTTPClientParser
    unbounded = parser.__dict__.get("_unbounded_data_received", parser.dataReceived)

    def data_received(self: Any, data: bytes) -> None:
        if self.state != _newclient.BODY:  # counted by the chunk: the last may hold the body's first bytes too
            self._header_bytes = getattr(self, "_header_bytes", 0) + len(data)
            if self._header_bytes > limit:
                raise HeadersTooLarge(f"response headers longer than {limit} bytes")
        unbounded(self, data)

    parser._unbounded_data_received = unbounded
    parser.dataReceived = data_received
