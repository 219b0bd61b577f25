"""Full-text search over the stored articles: the searched form of their text, kept in ``article_search``
by the repository functions that write an article's text, and the ranked search, one result per story.

Matching is substring matching on one form of the text (:mod:`storage.searchtext`: simplified script,
folded width and case, punctuation as spaces, a space opening each Latin word), so Chinese needs no word
boundaries, traditional and simplified match each other, and a Latin term, searched with its opening
space, matches at word starts only (``ai`` finds "AI model", not "said"; that space also makes a
two-letter term three characters long, which a trigram index serves). Every query term (a word, or a
"quoted phrase") must occur in the title or the text. The index behind it is the database's own: on
SQLite an FTS5 table with the trigram tokenizer (terms still shorter than three characters: Chinese
pairs such as 台风 and single letters, which trigrams cannot find, fall back to LIKE over the indexed
text), on PostgreSQL a pg_trgm GIN index that serves LIKE. Ranking is plain SQL that both databases
compute alike (terms in the title, then occurrences in the text, then the newest), so both give the same
results on the same corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    Integer,
    SQLColumnExpression,
    and_,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    join,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from storage.models import Article, ArticleSearchText, Source
from storage.repository import dialect_of
from storage.searchtext import flatten, indexed_body, query_terms, search_form, term_positions
from storage.stories import Copy, story_copies

#: The FTS5 table over ``article_search.body`` on SQLite (its shadow tables share the prefix), and
#: PostgreSQL's trigram index: made by migration, not models, so the schema comparison leaves them out.
FTS_TABLE = "article_search_fts"
TRIGRAM_INDEX = "ix_article_search_body_trgm"
INDEX_OBJECTS = (FTS_TABLE, TRIGRAM_INDEX)
#: Trigram indexes find substrings of three characters or more; shorter terms are matched by LIKE alone.
TRIGRAM = 3
#: Articles read and indexed per statement while the index is filled again.
REINDEX_BATCH = 500


def include_in_schema_comparison(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether Alembic compares this database object with the models (``include_name``): not the
    search index objects, which are made by migration only (an FTS5 virtual table is not a model)."""
    return not (name and name.startswith(INDEX_OBJECTS))


@dataclass(frozen=True)
class SearchHit:
    """One story found: its best-matching article, a passage around the first term found, and all its copies
    (the representative first)."""

    story_id: int | None
    article_id: int
    title: str | None
    url: str
    source: str
    language: str | None
    published: datetime | None
    first_seen: datetime
    excerpt: str
    copies: list[Copy]

    @property
    def outlets(self) -> list[str]:
        """The sources of the copies, each once."""
        return list(dict.fromkeys(copy.source for copy in self.copies)) or [self.source]


def _contains(column: SQLColumnExpression[str], term: str) -> ColumnElement[bool]:
    return column.contains(term, autoescape=True)


def _fts_match(terms: Sequence[str]) -> str:
    """An FTS5 query requiring every term as a phrase (a substring, with the trigram tokenizer)."""
    return " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _matching(session: Session, terms: Sequence[str]) -> tuple[FromClause, ColumnElement[bool]]:
    """The articles joined to their searched text, and the condition that every term occurs in it,
    through the dialect's index."""
    long_terms = [term for term in terms if len(term) >= TRIGRAM]
    short_terms = [term for term in terms if len(term) < TRIGRAM]
    conditions = [_contains(ArticleSearchText.body, term) for term in short_terms]
    searched = join(Article, ArticleSearchText, ArticleSearchText.article_id == Article.id)
    if dialect_of(session) == "sqlite":
        if long_terms:
            # The FTS table leads the join: as an IN (subquery) SQLite's planner would rather walk the
            # articles by their relevant flag and test each (100 times slower on 100,000 articles).
            fts = table(FTS_TABLE, column("rowid", Integer))
            searched = join(fts, ArticleSearchText, ArticleSearchText.article_id == fts.c.rowid).join(
                Article, Article.id == ArticleSearchText.article_id
            )
            conditions.append(literal_column(FTS_TABLE).match(_fts_match(long_terms)))
    else:  # PostgreSQL: LIKE is what the pg_trgm GIN index serves
        conditions.extend(_contains(ArticleSearchText.body, term) for term in long_terms)
    return searched, and_(*conditions)


def search_stories(
    session: Session,
    query: str,
    *,
    since: datetime | None = None,
    sources: Sequence[str] = (),
    languages: Sequence[str] = (),
    include_off_topic: bool = False,
    limit: int = 20,
) -> list[SearchHit]:
    """The stories whose articles hold every term of ``query``, best first, one hit per story: its
    best-ranked article (terms in the title, then occurrences in the text, then the newest)."""
    terms = query_terms(query)
    if not terms:
        return []
    body, title = ArticleSearchText.body, ArticleSearchText.title
    title_hits = sum((case((_contains(title, term), 1), else_=0) for term in terms), start=cast(0, Integer))
    occurrences = sum(
        ((func.length(body) - func.length(func.replace(body, term, ""))) / len(term) for term in terms),
        start=cast(0, Integer),
    )
    searched, condition = _matching(session, terms)
    story_key = func.coalesce(Article.story_id, -Article.id)
    ranking = (title_hits.desc(), occurrences.desc(), Article.first_seen.desc(), Article.id.desc())
    ranked = (
        select(
            Article.id.label("article_id"),
            func.row_number().over(partition_by=story_key, order_by=ranking).label("in_story"),
            func.row_number().over(order_by=ranking).label("position"),
        )
        .select_from(searched)
        .join(Source, Source.id == Article.source_id)
        .where(condition)
    )
    if since is not None:
        ranked = ranked.where(Article.first_seen >= since)
    if sources:
        ranked = ranked.where(Source.name.in_(sources))
    if languages:
        ranked = ranked.where(or_(*(_language_is(language) for language in languages)))
    if not include_off_topic:
        ranked = ranked.where(Article.relevant.is_(True))
    best = ranked.subquery()
    rows = session.execute(
        select(Article, Source.name)
        .join(best, best.c.article_id == Article.id)
        .join(Source, Source.id == Article.source_id)
        .where(best.c.in_story == 1)
        .order_by(best.c.position)
        .limit(limit)
    ).all()
    copies = story_copies(session, [article.story_id for article, _ in rows if article.story_id is not None])
    return [
        SearchHit(
            story_id=article.story_id,
            article_id=article.id,
            title=article.title,
            url=article.url,
            source=source,
            language=article.language,
            published=article.published,
            first_seen=article.first_seen,
            excerpt=excerpt(article.text, terms),
            copies=copies.get(article.story_id, []) if article.story_id is not None else [],
        )
        for article, source in rows
    ]


def _language_is(language: str) -> ColumnElement[bool]:
    """The article is in ``language`` or one of its regional forms (``zh`` takes ``zh-Hant``)."""
    return or_(Article.language == language, Article.language.startswith(f"{language}-", autoescape=True))


def excerpt(article_text: str, terms: Sequence[str], width: int = 160) -> str:
    """A passage of ``article_text`` of about ``width`` characters around the first term it holds
    (its opening where none is found in place)."""
    flat = flatten(article_text)
    folded = search_form(flat)
    # Folding keeps the length almost always (t2s maps character to character); where it does not, the
    # positions found in the folded text do not point into the original, and the opening is shown.
    found = [next(term_positions(folded, term), -1) for term in terms] if len(folded) == len(flat) else []
    start = min((position for position in found if position >= 0), default=0)
    begin = max(0, start - width // 3)
    passage = flat[begin : begin + width]
    return ("…" if begin else "") + passage + ("…" if begin + width < len(flat) else "")


def reindex_articles(connection: Connection) -> int:
    """Fill the search index again from every stored article's title and text (after the indexed form
    changed); the number of articles indexed. Plain tables, not the models: migrations call it too."""
    articles = table("articles", column("id", Integer), column("title"), column("text"))
    search = table("article_search", column("article_id", Integer), column("title"), column("body"))
    connection.execute(delete(search))  # on SQLite, the triggers empty the FTS table with it
    last_id, indexed = 0, 0
    while rows := connection.execute(
        select(articles.c.id, articles.c.title, articles.c.text)
        .where(articles.c.id > last_id)
        .order_by(articles.c.id)
        .limit(REINDEX_BATCH)
    ).all():
        values = []
        for article_id, title, text in rows:
            title_form, body = indexed_body(title, text)
            values.append({"article_id": article_id, "title": title_form, "body": body})
        connection.execute(insert(search), values)
        last_id, indexed = rows[-1][0], indexed + len(rows)
    return indexed
