"""The one form of text that search compares, for the index and the queries alike: simplified Chinese
(OpenCC), width and case folded (NFKC, casefold), punctuation as spaces, and a space opening every word
in Latin script, so that a Latin term is matched at word starts (`` ai`` is in `` ai model``, not in
`` said``) while Chinese, without word boundaries, is matched anywhere. Pure: no database."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import opencc

_WHITESPACE = re.compile(r"\s+")
_QUERY_TERM = re.compile(r'"([^"]*)"|(\S+)')
#: What makes a word in Latin script once folded: digits and Latin letters, accented ones included.
_LATIN = "0-9a-z\u00df-\u00f6\u00f8-\u024f"
_NOT_WORD = re.compile(r"[\W_]+")
#: Where a Latin word follows another script without a space (用AI模型): a word start all the same.
_INTO_LATIN = re.compile(rf"(?<=[^\s{_LATIN}])(?=[{_LATIN}])")
_STARTS_LATIN = re.compile(rf"[{_LATIN}]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    """The one traditional-to-simplified converter (loading its dictionaries costs a few milliseconds)."""
    return opencc.OpenCC("t2s")


def search_form(value: str) -> str:
    """``value`` folded as search compares it: simplified Chinese, width and case folded, single spaces."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return _WHITESPACE.sub(" ", _t2s().convert(folded)).strip()


def _words(value: str) -> str:
    """``value`` folded, punctuation made spaces, a space before each Latin word that follows another script."""
    return _INTO_LATIN.sub(" ", _NOT_WORD.sub(" ", search_form(value))).strip()


def indexed_form(value: str | None) -> str:
    """What the index holds of a title or a text: its words, each opened by a space (empty stays empty)."""
    words = _words(value or "")
    return f" {words}" if words else ""


def indexed_body(title: str | None, text: str) -> tuple[str, str]:
    """The indexed forms of an article's title and of its title and text together (what is searched)."""
    title_form, text_form = indexed_form(title), indexed_form(text)
    return title_form, f"{title_form}\n{text_form}" if title_form else text_form


def query_term(word_or_phrase: str) -> str:
    """One query term in its searched form: opened by a space (a word start) when it starts in Latin script."""
    words = _words(word_or_phrase)
    return f" {words}" if _STARTS_LATIN.match(words) else words


def query_terms(query: str) -> list[str]:
    """The terms of a query in their searched form: its words and its "quoted phrases", each once."""
    terms = (query_term(phrase or word) for phrase, word in _QUERY_TERM.findall(query))
    return list(dict.fromkeys(term for term in terms if term))


def term_positions(folded_text: str, term: str) -> Iterator[int]:
    """Where a searched term occurs in ``folded_text`` (a :func:`search_form`), as the index matches it: a
    Latin term at word starts, its words apart by any punctuation and spaces."""
    words = term.split()
    pattern = r"[\W_]*".join(re.escape(word) for word in words)
    if term.startswith(" "):
        pattern = rf"(?<![{_LATIN}])" + pattern
    return (found.start() for found in re.finditer(pattern, folded_text))


def flatten(value: str) -> str:
    """``value`` with runs of whitespace made single spaces."""
    return _WHITESPACE.sub(" ", value).strip()
