"""Text from the open web made fit to show: one clean line, links only to http(s) pages. Pure.

The digest's builder uses these on titles, outlets and excerpts, and its renderer on every value
it writes, so that both agree on what is safe to show.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawler.text.normalize import strip_pinyin_annotations

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s+")


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host, else ``None`` (never a ``javascript:`` link)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or _CONTROL.search(url) or " " in url:
        return None
    return url


def clean_line(text: str | None) -> str:
    """One line of display text: control and bidi-override characters dropped, whitespace collapsed."""
    return _SPACE.sub(" ", _CONTROL.sub("", text or "")).strip()


def display_text(text: str | None) -> str:
    """Text for display: one line, without the pinyin readings some pages insert (新華網(wǎng))."""
    return clean_line(strip_pinyin_annotations(text or ""))
