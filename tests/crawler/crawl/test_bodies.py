"""Strict decompression: a compressed body is whole (its stream ends, its checksum holds) or it is refused."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import brotli
import pytest

from crawler.crawl.bodies import (
    CorruptResponse,
    gunzip_strict,
    inflate_strict,
    unbrotli_strict,
    unzstd_strict,
    zstd,
)
from tests.faultweb import gzip_bad_crc, gzip_truncated

BODY = b"<p>Researchers used machine learning to screen catalysts.</p>" * 2000


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("decode", "packed"),
    [
        (gunzip_strict, gzip.compress(BODY)),
        (gunzip_strict, gzip.compress(BODY[:5000]) + gzip.compress(BODY[5000:])),  # two members
        (gunzip_strict, gzip.compress(BODY) + b"\0\0\0"),  # zero padding after the stream
        (inflate_strict, zlib.compress(BODY)),
        (inflate_strict, raw_deflate(BODY)),
        (unbrotli_strict, brotli.compress(BODY)),
        (unzstd_strict, zstd.compress(BODY)),
    ],
    ids=["gzip", "gzip, two members", "gzip, padded", "zlib", "raw deflate", "br", "zstd"],
)
def test_a_whole_body_is_decompressed(decode: Callable[[bytes, int], bytes], packed: bytes) -> None:
    assert decode(packed, 0) == BODY


@pytest.mark.parametrize(
    ("decode", "packed", "why"),
    [
        (gunzip_strict, gzip_truncated(BODY, 0.5), "cut short"),
        (gunzip_strict, gzip.compress(BODY)[:-4], "cut short"),  # the trailer's length missing
        (gunzip_strict, gzip_bad_crc(BODY), "incorrect data check"),
        (inflate_strict, zlib.compress(BODY)[:-20], "cut short"),
        (unbrotli_strict, brotli.compress(BODY)[:-10], "cut short"),
        (unzstd_strict, zstd.compress(BODY)[:-10], "cut short"),
    ],
    ids=["gzip cut", "gzip without its length", "gzip bad CRC", "zlib cut", "br cut", "zstd cut"],
)
def test_a_damaged_body_is_refused(decode: Callable[[bytes, int], bytes], packed: bytes, why: str) -> None:
    with pytest.raises(CorruptResponse, match=why):
        decode(packed, 0)


def test_a_body_of_thousands_of_empty_gzip_members_is_refused_at_once() -> None:
    # 20 bytes each, nothing for the size limit to count: 1 MB of them took 3 s of the reactor, 10 MB minutes
    with pytest.raises(CorruptResponse, match="more than 1000 gzip members"):
        gunzip_strict(gzip.compress(b"") * 50_000, 10_000_000)
    assert gunzip_strict(gzip.compress(b"") * 999 + gzip.compress(BODY), 0) == BODY  # a few hundred pass


def test_what_follows_the_last_gzip_member_is_padding_or_a_damage() -> None:
    assert gunzip_strict(gzip.compress(BODY) + b"\0" * 100_000, 0) == BODY
    with pytest.raises(CorruptResponse, match="corrupt gzip body"):
        gunzip_strict(gzip.compress(BODY) + b"\0\0<html>", 0)


def test_the_size_limit_still_stops_a_large_body_early() -> None:
    with pytest.raises(ValueError, match="exceeded"):
        gunzip_strict(gzip.compress(BODY), 10_000)
