"""A response body is used whole or not at all: compressed bodies are decompressed strictly.

Scrapy's :class:`~scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware` returns "as
much data as possible" of a gzip stream cut short or with a wrong CRC, and of a truncated deflate or
zstd stream: data lost on the way would be taken for the page. Here a compressed body that does not
end as its format says (end of stream, CRC-32 and length of gzip, Adler-32 of zlib) raises
:class:`CorruptResponse`: the fetch failed (outcome ``network_error``, tried again at the next crawl).

A body shorter or longer than its ``Content-Length`` is Scrapy's data loss
(``DOWNLOAD_FAIL_ON_DATALOSS``, on in :mod:`crawler.crawl.settings`): a failed fetch too.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from io import BytesIO
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils._compression import _check_max_size, brotli

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

if sys.version_info >= (3, 14):  # pragma: no cover - the project runs on 3.11+
    from compression import zstd
else:
    from backports import zstd

#: Bytes decompressed per step, so that ``DOWNLOAD_MAXSIZE`` stops a decompression bomb early.
CHUNK = 64 * 1024
#: Gzip members read at most in one body: a server sends one, or a few; a body of thousands of empty members
#: (20 bytes each, nothing for the size limit to count) is an attack on the crawl's time.
MAX_GZIP_MEMBERS = 1000
GZIP_MAGIC = b"\x1f\x8b"


class CorruptResponse(IgnoreRequest):
    """A response whose body is damaged (a compressed stream cut short or failing its checksum): a failed
    fetch, never a page."""


def _zlib_stream(data: bytes, wbits: int, max_size: int, what: str) -> bytes:
    """Every member of a zlib-family stream (gzip members follow one another), checked to its end."""
    view, position = memoryview(data), 0
    output, size = BytesIO(), 0
    for _ in range(MAX_GZIP_MEMBERS):
        decompressor = zlib.decompressobj(wbits=wbits)
        try:  # fed a chunk at a time: what a member leaves is copied, and the body may hold many members
            while not decompressor.eof:
                piece = decompressor.unconsumed_tail or view[position : position + CHUNK]
                if not piece:
                    break
                if not decompressor.unconsumed_tail:
                    position += len(piece)
                chunk = decompressor.decompress(piece, CHUNK)
                size += len(chunk)
                _check_max_size(size, max_size)
                output.write(chunk)
        except zlib.error as exc:
            raise CorruptResponse(f"corrupt {what} body: {exc}") from None
        if not decompressor.eof:
            raise CorruptResponse(f"corrupt {what} body: the compressed stream is cut short")
        position -= len(decompressor.unused_data)
        if wbits != 31 or position == len(data):
            return output.getvalue()
        if data[position : position + 2] != GZIP_MAGIC and data.count(b"\0", position) == len(data) - position:
            return output.getvalue()  # zero padding after the last gzip member is harmless
    raise CorruptResponse(f"corrupt {what} body: more than {MAX_GZIP_MEMBERS} gzip members")


def gunzip_strict(data: bytes, max_size: int = 0) -> bytes:
    """A gzip body decompressed, every member checked (end of stream, CRC-32, length)."""
    return _zlib_stream(data, 31, max_size, "gzip")


def inflate_strict(data: bytes, max_size: int = 0) -> bytes:
    """A deflate body (zlib-wrapped, or raw as some servers send it) decompressed and checked to its end."""
    wrapped = len(data) >= 2 and (data[0] & 0x0F) == 8 and int.from_bytes(data[:2], "big") % 31 == 0
    return _zlib_stream(data, 15 if wrapped else -15, max_size, "deflate")


def unbrotli_strict(data: bytes, max_size: int = 0) -> bytes:
    """A brotli body decompressed, refused unless the stream ends."""
    decompressor = brotli.Decompressor()
    output, size = BytesIO(), 0
    try:
        chunk = decompressor.process(data, output_buffer_limit=CHUNK)
        while chunk:
            size += len(chunk)
            _check_max_size(size, max_size)
            output.write(chunk)
            if decompressor.is_finished():
                break
            chunk = decompressor.process(b"", output_buffer_limit=CHUNK)
    except brotli.error as exc:
        raise CorruptResponse(f"corrupt br body: {exc}") from None
    if not decompressor.is_finished():
        raise CorruptResponse("corrupt br body: the compressed stream is cut short")
    return output.getvalue()


def unzstd_strict(data: bytes, max_size: int = 0) -> bytes:
    """A zstd body decompressed, refused unless its frame ends."""
    decompressor = zstd.ZstdDecompressor()
    output, size = BytesIO(), 0
    try:
        chunk = decompressor.decompress(data, CHUNK)
        while True:
            size += len(chunk)
            _check_max_size(size, max_size)
            output.write(chunk)
            if decompressor.eof or decompressor.needs_input:
                break
            chunk = decompressor.decompress(b"", CHUNK)
    except zstd.ZstdError as exc:
        raise CorruptResponse(f"corrupt zstd body: {exc}") from None
    if not decompressor.eof:
        raise CorruptResponse("corrupt zstd body: the compressed stream is cut short")
    return output.getvalue()


DECODERS: dict[bytes, Callable[[bytes, int], bytes]] = {
    b"gzip": gunzip_strict,
    b"x-gzip": gunzip_strict,
    b"deflate": inflate_strict,
    b"br": unbrotli_strict,
    b"zstd": unzstd_strict,
}


class StrictHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression of ``Content-Encoding``, except that a damaged body raises
    :class:`CorruptResponse` (counted as ``ai4s/corrupt_responses``) instead of passing as the part of it
    that could be read."""

    @staticmethod
    def _decode(body: bytes, encoding: bytes, max_size: int) -> bytes:
        decoder = DECODERS.get(encoding)
        return decoder(body, max_size) if decoder else body

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        """The response with its body decompressed; :class:`CorruptResponse` for a damaged one, or one over
        ``DOWNLOAD_MAXSIZE`` once decompressed (a decompression bomb: Scrapy's plain ``IgnoreRequest`` made it a
        page refused by policy, never recorded)."""
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:  # a CorruptResponse of the decoders, or Scrapy's for the size limit
            if self.stats is not None:
                self.stats.inc_value("ai4s/corrupt_responses")
            if isinstance(exc, CorruptResponse):
                raise
            limit = request.meta.get("download_maxsize", self._max_size)
            raise CorruptResponse(f"body over the size limit ({limit} B) once decompressed") from exc
