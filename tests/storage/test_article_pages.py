"""Kept pages, on SQLite and PostgreSQL: a page is kept compressed beside its article and read back as it
was; an article's fields are replaced without ever breaking the unique content hash; a database of the
release before pages were kept upgrades with its articles, which have no page."""

from __future__ import annotations

from sqlalchemy import select, text

from storage import Database, NewArticle
from storage.db import make_engine
from storage.hashing import content_hash
from storage.models import Article, ArticlePage
from storage.pages import (
    ArticleSelection,
    PageToKeep,
    compress_page,
    count_kept_pages,
    decompress_page,
    keep_page,
    kept_pages_after,
    read_kept_page,
    read_page_body,
)
from storage.repository import (
    FIELDS_CHANGED,
    FIELDS_COLLIDE,
    FIELDS_UNCHANGED,
    ArticleFields,
    replace_article_fields,
    store_article,
)
from tests.storage.test_migrations import alembic_to, head_revision, schema_revision

PAGE = (
    "<!doctype html><html><head><meta charset='gbk'><title>新闻</title></head><body>"
    + "<p>人工智能驱动的科学研究正在改变材料发现的方式。</p>" * 200
    + "</body></html>"
).encode("gbk")


def stored(database: Database, title: str, body: str, source: str = "outlet") -> int:
    """The id of a new article with this title and text."""
    url = f"http://127.0.0.40/{title.replace(' ', '-')}.html"
    with database.session() as session, session.begin():
        return store_article(session, NewArticle(source, url, url, title, body)).article_id


def fields(title: str, body: str) -> ArticleFields:
    """Article fields as a reprocessing run makes them."""
    return ArticleFields(title, body, None, None, None, "en", "utf-8", 0.1, False, "{}", None, None, 12)


def test_a_kept_page_reads_back_as_it_was_fetched(database: Database) -> None:
    article_id = stored(database, "Kept", "A body long enough. " * 20)
    compressed = compress_page(PAGE)
    assert compressed.raw_size == len(PAGE) and len(compressed.data) < len(PAGE) / 10
    kept = PageToKeep(compressed, "http://127.0.0.40/kept.html", "text/html; charset=gbk", "gbk", "trafilatura 9.9")
    with database.session() as session, session.begin():
        keep_page(session, article_id, kept)
        keep_page(session, article_id, PageToKeep(compress_page(b"other"), "x", None, None, "x"))  # kept once
    with database.session() as session:
        page = read_kept_page(session, article_id)
        assert read_page_body(session, article_id) == PAGE
        assert read_kept_page(session, article_id + 1) is None and read_page_body(session, article_id + 1) is None
    assert page is not None and page.body() == PAGE
    assert (page.url, page.content_type, page.header_charset, page.extractor) == (
        "http://127.0.0.40/kept.html",
        "text/html; charset=gbk",
        "gbk",
        "trafilatura 9.9",
    )
    assert page.fetched_at.tzinfo is not None


def test_an_unknown_codec_is_refused_by_name() -> None:
    try:
        decompress_page("snappy", b"...")
    except ValueError as exc:
        assert "snappy" in str(exc)
    else:
        raise AssertionError("an unknown codec was read")


def test_the_selection_counts_and_pages_articles_with_and_without_a_kept_page(database: Database) -> None:
    ids = [stored(database, f"Article {n}", f"Body number {n}. " * 30, source=f"s{n % 2}") for n in range(5)]
    with database.session() as session, session.begin():
        for article_id in ids[:4]:
            keep_page(session, article_id, PageToKeep(compress_page(PAGE), "u", None, None, "e"))
        source_1 = session.execute(select(Article.source_id).where(Article.id == ids[1])).scalar_one()
    with database.session() as session:
        everything = ArticleSelection()
        counts = count_kept_pages(session, everything)
        assert (counts.with_page, counts.without_page) == (4, 1)
        assert [p.article_id for p in kept_pages_after(session, everything, 0, 3)] == ids[:3]
        assert [p.article_id for p in kept_pages_after(session, everything, ids[2], 3)] == [ids[3]]
        of_source_1 = ArticleSelection((source_1,))
        assert [p.article_id for p in kept_pages_after(session, of_source_1, 0, 10)] == [ids[1], ids[3]]
        counts = count_kept_pages(session, of_source_1)
        assert (counts.with_page, counts.without_page) == (2, 0)


def test_fields_are_replaced_with_their_hash_unless_another_article_holds_the_text(database: Database) -> None:
    older = stored(database, "Older", "The older article's text. " * 20)
    newer = stored(database, "Newer", "The newer article's text. " * 20)
    new_text = "The newer article, extracted better. " * 20
    with database.session() as session, session.begin():
        assert replace_article_fields(session, newer, fields("Newer", new_text)).outcome == FIELDS_CHANGED
        assert replace_article_fields(session, newer, fields("Newer", new_text)).outcome == FIELDS_UNCHANGED
        collision = replace_article_fields(session, newer, fields("Older", "The older article's text. " * 20))
        assert (collision.outcome, collision.holder) == (FIELDS_COLLIDE, older)
    with database.session() as session:
        rows = {a.id: a for a in session.execute(select(Article)).scalars()}
    assert rows[newer].text == new_text and rows[newer].content_hash == content_hash(new_text)
    assert (rows[newer].relevance, rows[newer].relevant, rows[newer].shingles) == (0.1, False, 12)
    assert rows[older].text == "The older article's text. " * 20 and rows[older].title == "Older"


def test_a_database_of_the_release_before_kept_pages_upgrades_with_its_articles(db_url_any: str) -> None:
    engine = make_engine(db_url_any)
    alembic_to(engine, "0006")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO sources (name, created_at) VALUES ('old', CURRENT_TIMESTAMP)"))
        connection.execute(
            text(
                "INSERT INTO articles (source_id, url, canonical_url, url_hash, title, text, content_hash, "
                "first_seen, last_seen, relevant) VALUES (1, 'http://a/1', 'http://a/1', 'h1', 't', 'body', 'c1', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, true)"
            )
        )
    engine.dispose()

    with Database(db_url_any) as upgraded, upgraded.session() as session:
        assert schema_revision(upgraded.engine) == head_revision() != "0006"
        (article,) = session.execute(select(Article)).scalars()
        assert (article.url, article.text, article.content_hash) == ("http://a/1", "body", "c1")
        assert session.execute(select(ArticlePage)).first() is None
        assert read_kept_page(session, article.id) is None
        counts = count_kept_pages(session, ArticleSelection())
        assert (counts.with_page, counts.without_page) == (0, 1)

    engine = make_engine(db_url_any)
    alembic_to(engine, "0006", down=True)  # and back: the table goes, the articles stay
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM articles")).scalar_one() == 1
        assert "article_pages" not in set(
            connection.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                if engine.dialect.name == "postgresql"
                else text("SELECT name FROM sqlite_master WHERE type = 'table'")
            ).scalars()
        )
    engine.dispose()
