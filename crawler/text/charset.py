"""Bytes to text for web pages in any charset, whether the page declares it, lies about it or is silent.

Order of trust: a byte-order mark; then valid UTF-8 (legacy charsets almost never form
valid multi-byte UTF-8 by accident, while pages and servers often mislabel UTF-8); then
the charset declared by the HTTP header or the page itself, widened to its superset
(GB2312/GBK → GB18030, Big5 → Big5-HKSCS, Latin-1 → Windows-1252) if it decodes cleanly
or nearly so; then statistical detection (charset-normalizer).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

#: Declared charsets that real pages use for text needing a wider table.
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "big5-tw": "big5hkscs",
    "cp950": "big5hkscs",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
}

#: Share of undecodable bytes tolerated in a declared charset (real pages carry a few bad bytes).
TOLERATED_ERROR_RATE = 0.001


@dataclass(frozen=True)
class DecodedPage:
    """A page's text and the charset it was decoded with, and how that charset was chosen."""

    text: str
    encoding: str
    reason: str  # "bom", "utf-8", "declared", "detected", "fallback"


def _codec(name: str | None) -> str | None:
    """The Python codec for a charset label, widened to its superset; ``None`` if unknown."""
    if not name:
        return None
    resolved = resolve_encoding(name.strip().strip("'\"").lower())
    if resolved is None:
        return None
    canonical = codecs.lookup(resolved).name
    return SUPERSETS.get(canonical, canonical)


def _decode_errors(body: bytes, codec: str) -> tuple[str, int, int]:
    """The text decoded with replacement, the number of bytes that failed, and of non-ASCII characters."""
    text = body.decode(codec, errors="replace")
    errors = text.count("\ufffd") - body.count("\ufffd".encode("utf-8"))
    non_ascii = sum(1 for char in text if char > "\x7f") - errors
    return text, errors, non_ascii


def _nearly_clean(errors: int, non_ascii: int, size: int) -> bool:
    """A few bad bytes among many good non-ASCII characters: a real page's damage, not a wrong charset."""
    return errors <= max(4, int(size * TOLERATED_ERROR_RATE)) and non_ascii >= 2 * errors


def decode_html(body: bytes, header_charset: str | None = None) -> DecodedPage:
    """Decode an HTML page's bytes; ``header_charset`` is the charset of the HTTP Content-Type, if any."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding and bom:
        return DecodedPage(body[len(bom) :].decode(bom_encoding, errors="replace"), bom_encoding, "bom")
    try:
        text = body.decode("utf-8")
        return DecodedPage(text, "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    declared = list(dict.fromkeys(c for c in (_codec(header_charset), _codec(html_body_declared_encoding(body))) if c))
    # A declared charset that decodes without error wins; else one with only a few bad bytes
    # (UTF-8 first: legacy multi-byte tables also "decode" UTF-8, with fewer but wrong errors).
    attempts = [(*_decode_errors(body, codec), codec) for codec in declared]
    for text, errors, _, codec in attempts:
        if errors == 0:
            return DecodedPage(text, codec, "declared")
    attempts.sort(key=lambda attempt: (attempt[3] != "utf-8", attempt[1]))
    for text, errors, non_ascii, codec in attempts:
        if _nearly_clean(errors, non_ascii, len(body)):
            return DecodedPage(text, codec, "declared")
    best = from_bytes(body, cp_isolation=None).best()
    if best is not None:
        codec = _codec(best.encoding) or best.encoding
        return DecodedPage(body.decode(codec, errors="replace"), codec, "detected")
    codec = declared[0] if declared else "utf-8"
    return DecodedPage(body.decode(codec, errors="replace"), codec, "fallback")
