"""The sources file: which outlets to crawl, through which feeds, sitemaps and listing pages.

A source is data, not code: adding an outlet is an edit of ``seeds/sources.toml``. This
module reads and validates that file; every mistake is reported as a
:class:`SourcesError` naming the file, the source and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from crawler.text.durations import EXAMPLES, is_cron_expression, parse_duration, parse_schedule
from crawler.text.urls import url_host
from seeds import DEFAULT_SOURCES_FILE

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_LIST_KEYS = ("start_urls", "feeds", "sitemaps")
_KNOWN_KEYS = frozenset({"name", "language", "every", "min_every", "max_every", "max_depth", "max_pages", *_LIST_KEYS})


class SourcesError(ValueError):
    """A sources file that cannot be used, with a message saying where and why."""


@dataclass(frozen=True)
class Source:
    """One outlet: where its new articles are announced, and how hard to crawl it."""

    name: str
    start_urls: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    language: str | None = None
    every: str = "6h"
    min_every: str | None = None  # bounds of the daemon's adaptive interval (default: every / 4 and every × 8)
    max_every: str | None = None
    max_depth: int = 2
    max_pages: int = 500
    hosts: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def entry_urls(self) -> tuple[str, ...]:
        """Every URL configured for this source (listings, feeds, sitemaps)."""
        return self.start_urls + self.feeds + self.sitemaps


def _where(path: Path | str, index: int, name: str | None) -> str:
    return f"{path}: source #{index + 1}" + (f" ({name!r})" if name else "")


def _source_from_table(table: dict, index: int, path: Path | str) -> Source:
    """The :class:`Source` of one ``[[source]]`` table, checked key by key."""
    name = table.get("name")
    where = _where(path, index, name if isinstance(name, str) else None)
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise SourcesError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(_KNOWN_KEYS))})")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SourcesError(f"{where}: key 'name' must be a lowercase name of letters, digits, '-' or '_'")
    lists = {key: _url_list(table, key, where) for key in _LIST_KEYS}
    if not any(lists.values()):
        raise SourcesError(f"{where}: needs at least one of 'feeds', 'sitemaps' or 'start_urls'")
    language = table.get("language")
    if language is not None and not isinstance(language, str):
        raise SourcesError(f'{where}: key \'language\' must be a string such as "zh" or "en"')
    every, min_every, max_every = _schedule(table, where)
    return Source(
        name=name,
        start_urls=lists["start_urls"],
        feeds=lists["feeds"],
        sitemaps=lists["sitemaps"],
        language=language,
        every=every,
        min_every=min_every,
        max_every=max_every,
        max_depth=_whole_number(table, "max_depth", 2, 20, where),
        max_pages=_whole_number(table, "max_pages", 500, 1_000_000, where),
        hosts=frozenset(url_host(u) for urls in lists.values() for u in urls),
    )


def _url_list(table: dict, key: str, where: str) -> tuple[str, ...]:
    """The http(s) URLs of list ``key`` (a single string counts as a list of one)."""
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourcesError(f"{where}: key {key!r} must be a list of URLs")
    for url in value:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourcesError(f"{where}: key {key!r}: {url!r} is not an http(s) URL")
    return tuple(value)


def _schedule(table: dict, where: str) -> tuple[str, str | None, str | None]:
    """``every``, ``min_every`` and ``max_every``: an interval or cron expression, and the bounds of an interval."""
    every = table.get("every", "6h")
    try:
        if not isinstance(every, str):
            raise ValueError("must be a string")
        every_seconds = parse_schedule(every)
    except ValueError as exc:
        raise SourcesError(f"{where}: key 'every' = {every!r}: {exc}") from None
    bounds: dict[str, str | None] = {}
    bound_seconds: dict[str, float] = {}
    for key in ("min_every", "max_every"):
        value = table.get(key)
        if value is not None:
            try:
                if not isinstance(value, str) or is_cron_expression(value):
                    raise ValueError(f"must be an interval such as {EXAMPLES}")
                bound_seconds[key] = parse_duration(value)
                if every_seconds is None:
                    raise ValueError("only an interval 'every' adapts; a cron schedule has fixed times")
            except ValueError as exc:
                raise SourcesError(f"{where}: key {key!r} = {value!r}: {exc}") from None
        bounds[key] = value
    if bound_seconds.get("min_every", 0) > bound_seconds.get("max_every", float("inf")):
        raise SourcesError(f"{where}: 'min_every' is longer than 'max_every'")
    return every, bounds["min_every"], bounds["max_every"]


def _whole_number(table: dict, key: str, default: int, upper: int, where: str) -> int:
    """The whole number ``key`` (``default`` when absent), from 0 to ``upper``."""
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= upper:
        raise SourcesError(f"{where}: key {key!r} must be a whole number from 0 to {upper}")
    return value


def parse_sources(text: str, path: Path | str = "<sources>") -> list[Source]:
    """The sources defined in the TOML ``text``; raises :class:`SourcesError` on any mistake."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"source"})
    if unknown:
        raise SourcesError(f"{path}: unknown top-level key {unknown[0]!r} (sources are [[source]] tables)")
    tables = document.get("source")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise SourcesError(f"{path}: no [[source]] tables found")
    sources = [_source_from_table(table, i, path) for i, table in enumerate(tables)]
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.name in seen:
            raise SourcesError(f"{_where(path, index, source.name)}: key 'name': {source.name!r} is used twice")
        seen.add(source.name)
    return sources


def load_sources(path: Path | str | None = None, names: list[str] | tuple[str, ...] = ()) -> list[Source]:
    """The sources of the file at ``path`` (default ``seeds/sources.toml``), restricted to ``names`` if given."""
    path = Path(path) if path else DEFAULT_SOURCES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourcesError(f"{path}: not UTF-8 text") from None
    sources = parse_sources(text, path)
    if names:
        by_name = {s.name: s for s in sources}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise SourcesError(f"{path}: no source named {missing[0]!r} (known: {', '.join(by_name)})")
        sources = [by_name[n] for n in names]
    return sources
