"""The one form of text that search compares, for the index and the queries alike: simplified Chinese
(OpenCC), width and case folded (NFKC, casefold), single spaces. Pure: no database."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_WHITESPACE = re.compile(r"\s+")
_QUERY_TERM = re.compile(r'"([^"]*)"|(\S+)')


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    """The one traditional-to-simplified converter (loading its dictionaries costs a few milliseconds)."""
    return opencc.OpenCC("t2s")


def search_form(value: str) -> str:
    """``value`` in the form search compares: simplified Chinese, width and case folded, single spaces."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return _WHITESPACE.sub(" ", _t2s().convert(folded)).strip()


def indexed_body(title: str | None, text: str) -> tuple[str, str]:
    """The searched forms of an article's title and of its title and text together (what is indexed)."""
    title_form = search_form(title or "")
    text_form = search_form(text)
    return title_form, f"{title_form}\n{text_form}" if title_form else text_form


def query_terms(query: str) -> list[str]:
    """The terms of a query in their searched form: its words and its "quoted phrases", each once."""
    terms = (search_form(phrase or word) for phrase, word in _QUERY_TERM.findall(query))
    return list(dict.fromkeys(term for term in terms if term))


def flatten(value: str) -> str:
    """``value`` with runs of whitespace made single spaces."""
    return _WHITESPACE.sub(" ", value).strip()
