"""Bytes to text for web pages in any charset, whether the page declares it, lies about it or is silent.

Order of trust: a byte-order mark; then valid UTF-8 (legacy charsets almost never form
valid multi-byte UTF-8 by accident, while pages and servers often mislabel UTF-8); then
the charset declared by the HTTP header or the page itself, widened to its superset
(GB2312/GBK → GB18030, Big5 → Big5-HKSCS, Latin-1 → Windows-1252) if it decodes cleanly
or nearly so, and, for a single-byte charset (which decodes any bytes), if its text does not read as
mojibake; then statistical detection (charset-normalizer). :func:`is_implausible` tells whether the text
that came out can be what the page says at all (the extractor stores no page whose text cannot).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import CharsetMatch, from_bytes
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

from crawler.text.script import HAN_CHAR

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

#: Single-byte charsets that decode any bytes without an error, so their success says nothing.
SINGLE_BYTE = frozenset({"cp1252", "latin-1", "iso8859-15", "cp1250", "cp1251", "iso8859-2", "koi8-r"})

#: Mojibake: of the non-ASCII characters, the share that stand next to another one, from which a text is taken
#: for a multi-byte charset (CJK) read byte by byte. Western text has its accented letters among ASCII ones
#: (``é`` in ``café``: about 0.1 in French or German prose); CJK bytes read as Latin-1 come in unbroken runs (about 1).
MOJIBAKE_RUN_SHARE = 0.6
#: The letters Windows-1252 adds to Latin-1 (bytes 0x80-0x9F): with Latin-1's upper half, what mojibake is made of.
#: Punctuation is left out (and the no-break space and middle dot): CJK text puts its own dashes, dots and
#: quotes side by side.
_MOJIBAKE_CHARS = re.compile("[\x80-\x9f\xa1-\xb6\xb8-\xffƒˆŠŒŽ˜šœžŸ]+")
#: Fewer non-ASCII characters than this are too few to judge.
MOJIBAKE_MIN_CHARS = 20
#: A decoded text with a larger share of replacement characters (U+FFFD) among its non-ASCII ones is not text.
MAX_REPLACEMENT_SHARE = 0.05


@dataclass(frozen=True)
class DecodedPage:
    """A page's text and the charset it was decoded with, and how that charset was chosen."""

    text: str
    encoding: str
    reason: str  # "bom", "utf-8", "declared", "detected", "fallback"


#: Python codecs that are no charset of a text: ``rot13``, ``base64``, ``zlib`` (bytes to bytes) and those that
#: decode nothing (``undefined``) or only host names (``idna``, ``punycode``). A page labelled so is read as
#: undeclared.
_NOT_CHARSETS = frozenset({"undefined", "idna", "punycode"})
#: Wide charsets that a page may declare without the byte-order mark they need: taken only where the body looks so.
_WIDE = ("utf-16", "utf-32")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, widened to its superset; ``None`` if unknown or no charset of text."""
    if not label:
        return None
    resolved = resolve_encoding(label.strip().strip("'\"").lower())
    if resolved is None:
        return None
    info = codecs.lookup(resolved)
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return SUPERSETS.get(info.name, info.name)


def _fits(body: bytes, codec: str) -> bool:
    """Whether ``body`` can be in ``codec`` at all: UTF-16 and UTF-32 text of a web page is one quarter NUL bytes
    or more (its markup is ASCII); any other body is not in them, whatever its label says."""
    return not codec.startswith(_WIDE) or body.count(0) * 4 >= len(body)


def _decode_errors(body: bytes, codec: str) -> tuple[str, int, int]:
    """The text decoded with replacement, the number of bytes that failed, and of non-ASCII characters."""
    text = body.decode(codec, errors="replace")
    errors = text.count("\ufffd") - body.count("\ufffd".encode("utf-8"))
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - errors
    return text, errors, non_ascii


def _nearly_clean(errors: int, non_ascii: int, size: int) -> bool:
    """A few bad bytes among many good non-ASCII characters: a real page's damage, not a wrong charset."""
    return errors <= max(4, int(size * TOLERATED_ERROR_RATE)) and non_ascii >= 2 * errors


def looks_like_mojibake(text: str) -> bool:
    """True when ``text`` reads like the bytes of a multi-byte charset (GBK, Big5, UTF-8...) decoded one byte at a
    time: runs of Latin-1 and Windows-1252 accented letters and symbols where words should be."""
    runs = [len(run) for run in _MOJIBAKE_CHARS.findall(text)]
    total = sum(runs)
    return total >= MOJIBAKE_MIN_CHARS and sum(n for n in runs if n > 1) >= MOJIBAKE_RUN_SHARE * total


def is_implausible(text: str) -> str | None:
    """Why a decoded page's text cannot be what its author wrote (too many replacement characters, or mojibake),
    or ``None`` when it reads as text."""
    non_ascii = sum(1 for char in text if char > "\x7f")
    replaced = text.count("\ufffd")
    if non_ascii and replaced > max(4, MAX_REPLACEMENT_SHARE * non_ascii):
        return f"{replaced} of its {non_ascii} non-ASCII characters could not be decoded"
    if looks_like_mojibake(text):
        return "its text reads as a multi-byte charset decoded byte by byte (mojibake)"
    return None


#: Big5 bytes read as GBK: of the Han characters, the share outside GB2312's table (the characters simplified
#: Chinese text is written in) from which GBK is doubted. Simplified pages of the test corpus: at most 0.09;
#: traditional ones written in GBK: up to 0.33, but their bytes are no Big5; Big5 pages read as GBK: 0.41 and more.
BIG5_READ_AS_GBK_SHARE = 0.2
#: Fewer Han characters than this are too few to judge.
MIN_HAN_TO_JUDGE = 50


def _big5_read_as_gbk(body: bytes, text: str) -> str | None:
    """The text of ``body`` as Big5-HKSCS, where ``text`` (read as GB18030 without an error, as Big5 bytes are)
    is mostly characters simplified text does not use and the bytes are Big5 without an error; else ``None``."""
    try:  # GBK bytes fail Big5 within a few hundred bytes: the cheap test first
        big5 = body.decode("big5hkscs")
    except UnicodeDecodeError:
        return None
    han = "".join(HAN_CHAR.findall(text))
    if len(han) < MIN_HAN_TO_JUDGE:
        return None
    outside = han.encode("gb2312", errors="replace").count(b"?") - han.count("?")
    return big5 if outside > BIG5_READ_AS_GBK_SHARE * len(han) else None


def _plausible(text: str, codec: str) -> bool:
    """Whether ``text``, decoded with ``codec``, may be taken: a single-byte charset decodes anything, so its
    text must not look like mojibake."""
    return codec not in SINGLE_BYTE or not looks_like_mojibake(text)


#: Among charsets that read a page equally well, the one taken: the web's default for pages that declare none
#: (WHATWG). The detector names the first of a tie, and read Núñez, Ångström and Søren as Central European
#: (Núńez, Ĺngström, Sřren).
WEB_DEFAULT = "cp1252"


def _detected(body: bytes) -> CharsetMatch | None:
    """The charset the detector finds the bytes in; of a tie with Windows-1252, Windows-1252."""
    matches = from_bytes(body, cp_isolation=None)
    best = matches.best()
    if best is None or best.encoding == WEB_DEFAULT:
        return best
    for match in matches:
        if match.encoding == WEB_DEFAULT and match.chaos <= best.chaos and match.coherence >= best.coherence:
            return match
    return best


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
    # UTF-8 with a few bad bytes (a stray byte, a last character cut off) is still UTF-8, whatever the label:
    # a legacy table would turn all of its text into mojibake
    text, errors, non_ascii = _decode_errors(body, "utf-8")
    if non_ascii >= MOJIBAKE_MIN_CHARS and _nearly_clean(errors, non_ascii, len(body)):
        return DecodedPage(text, "utf-8", "utf-8")
    labels = (header_charset, html_body_declared_encoding(body))
    declared = list(dict.fromkeys(c for c in map(codec_for, labels) if c and _fits(body, c)))
    # A declared charset that decodes without error wins; else one with only a few bad bytes
    # (UTF-8 first: legacy multi-byte tables also "decode" UTF-8, with fewer but wrong errors).
    attempts = [(*_decode_errors(body, codec), codec) for codec in declared]
    # A single-byte charset whose text reads as mojibake is a lie (a Big5 page served as ISO-8859-1).
    for text, errors, _, codec in attempts:
        if errors == 0 and _plausible(text, codec):
            big5 = _big5_read_as_gbk(body, text) if codec == "gb18030" else None
            if big5 is not None:  # a Big5 page labelled GBK or GB2312
                return DecodedPage(big5, "big5hkscs", "detected")
            return DecodedPage(text, codec, "declared")
    attempts.sort(key=lambda attempt: (attempt[3] != "utf-8", attempt[1]))
    for text, errors, non_ascii, codec in attempts:
        if _nearly_clean(errors, non_ascii, len(body)) and _plausible(text, codec):
            return DecodedPage(text, codec, "declared")
    best = _detected(body)
    if best is not None:
        codec = codec_for(best.encoding) or best.encoding
        text = body.decode(codec, errors="replace")
        if _plausible(text, codec) or not declared:
            return DecodedPage(text, codec, "detected")
    codec = declared[0] if declared else "utf-8"
    return DecodedPage(body.decode(codec, errors="replace"), codec, "fallback")
