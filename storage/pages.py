"""Kept pages: each stored article's fetched HTML, compressed, with what is needed to extract it
again (content type, header charset, final URL) and the extractor that made the stored fields, so
that a better extractor can be run over the existing corpus (``ai4s reprocess``).

The compression codec is named in every row, so a row written with one codec stays readable after
the default changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import zstandard
from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session

from storage.models import Article, ArticlePage, utcnow
from storage.repository import dialect_of, insert_in

#: The codec of newly kept pages: Zstandard at level 3. Measured on 400 corpus pages by
#: ``benchmarks/raw_storage.py``, it stores 0.18 of the raw page at about 1 ms a page, where zlib at level 9
#: (the best of the standard library short of lzma) stores 0.19 at about 11 ms, and lzma 0.14 at 78 ms: the
#: page is compressed in the extraction workers, whose time is what limits a crawl (about 50 ms a page).
PAGE_CODEC = "zstd"
ZSTD_LEVEL = 3


def zstd_decompress(data: bytes) -> bytes:
    """A Zstandard frame decompressed (its content size is in its header: ``compress_page`` writes it)."""
    return zstandard.ZstdDecompressor().decompress(data)


#: How to read each codec a row may name.
DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {"zstd": zstd_decompress}


@dataclass(frozen=True)
class CompressedPage:
    """Page bytes compressed with ``codec``."""

    codec: str
    data: bytes
    raw_size: int


def compress_page(raw: bytes) -> CompressedPage:
    """``raw`` compressed with the codec of new kept pages."""
    return CompressedPage(PAGE_CODEC, zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw), len(raw))


def decompress_page(codec: str, data: bytes) -> bytes:
    """The page bytes of a kept page compressed with ``codec``."""
    try:
        decompress = DECOMPRESSORS[codec]
    except KeyError:
        raise ValueError(f"unknown page codec {codec!r} (known: {', '.join(DECOMPRESSORS)})") from None
    return decompress(data)


@dataclass(frozen=True)
class PageToKeep:
    """A fetched article page to keep beside its article, compressed, and the extractor of the article."""

    page: CompressedPage
    url: str
    content_type: str | None
    header_charset: str | None
    extractor: str


def keep_page(session: Session, article_id: int, kept: PageToKeep) -> None:
    """Keep the page that article ``article_id`` was extracted from (once: a page already kept stays)."""
    now = utcnow()
    values = {
        "article_id": article_id,
        "body": kept.page.data,
        "codec": kept.page.codec,
        "raw_size": kept.page.raw_size,
        "content_type": kept.content_type,
        "header_charset": kept.header_charset,
        "url": kept.url,
        "fetched_at": now,
        "extractor": kept.extractor,
        "extracted_at": now,
    }
    session.execute(_page_insert(dialect_of(session)), values)


@cache
def _page_insert(dialect: str) -> Any:
    """Insert a kept page unless its article has one."""
    return insert_in(dialect, ArticlePage).on_conflict_do_nothing()


@dataclass(frozen=True)
class KeptPage:
    """The page an article was extracted from, still compressed, and how it was fetched and extracted."""

    article_id: int
    source_id: int
    codec: str
    data: bytes
    url: str
    content_type: str | None
    header_charset: str | None
    extractor: str
    fetched_at: datetime
    extracted_at: datetime

    def body(self) -> bytes:
        """The page bytes as they were served."""
        return decompress_page(self.codec, self.data)


def _kept_pages() -> Select[*tuple[Any, ...]]:
    """The columns of a :class:`KeptPage`, in its order."""
    return select(
        ArticlePage.article_id,
        Article.source_id,
        ArticlePage.codec,
        ArticlePage.body,
        ArticlePage.url,
        ArticlePage.content_type,
        ArticlePage.header_charset,
        ArticlePage.extractor,
        ArticlePage.fetched_at,
        ArticlePage.extracted_at,
    ).join(Article, Article.id == ArticlePage.article_id)


def read_kept_page(session: Session, article_id: int) -> KeptPage | None:
    """The kept page of article ``article_id``; ``None`` if it has none (stored before pages were kept)."""
    row = session.execute(_kept_pages().where(ArticlePage.article_id == article_id)).one_or_none()
    return KeptPage(*row) if row is not None else None


def read_page_body(session: Session, article_id: int) -> bytes | None:
    """The bytes of the page article ``article_id`` was extracted from, decompressed; ``None`` if none was kept."""
    page = read_kept_page(session, article_id)
    return page.body() if page is not None else None


@dataclass(frozen=True)
class ArticleSelection:
    """Which stored articles a corpus-wide job works on: of these sources (all when empty), first
    seen at or after ``since`` (any time when ``None``)."""

    source_ids: tuple[int, ...] = ()
    since: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        """The conditions on :class:`Article` rows."""
        conditions: list[ColumnElement[bool]] = []
        if self.source_ids:
            conditions.append(Article.source_id.in_(self.source_ids))
        if self.since is not None:
            conditions.append(Article.first_seen >= self.since)
        return conditions


def kept_pages_after(session: Session, selection: ArticleSelection, after_id: int, limit: int) -> list[KeptPage]:
    """Up to ``limit`` kept pages of the selected articles with an id above ``after_id``, by article id."""
    statement = (
        _kept_pages()
        .where(ArticlePage.article_id > after_id, *selection.where())
        .order_by(ArticlePage.article_id)
        .limit(limit)
    )
    return [KeptPage(*row) for row in session.execute(statement)]


@dataclass(frozen=True)
class PageCounts:
    """The selected articles: how many have a kept page, and how many have none."""

    with_page: int
    without_page: int


def count_kept_pages(session: Session, selection: ArticleSelection) -> PageCounts:
    """How many of the selected articles have a kept page, and how many have none."""
    has_page = select(ArticlePage.article_id).where(ArticlePage.article_id == Article.id).exists()
    with_page, total = session.execute(
        select(func.count(Article.id).filter(has_page), func.count(Article.id)).where(*selection.where())
    ).one()
    return PageCounts(with_page or 0, (total or 0) - (with_page or 0))


def mark_extracted(session: Session, article_id: int, extractor: str) -> None:
    """Record that the stored fields of article ``article_id`` were made by ``extractor``, now."""
    session.execute(
        update(ArticlePage)
        .where(ArticlePage.article_id == article_id)
        .values(extractor=extractor, extracted_at=utcnow())
    )
