"""Storing articles and fetch outcomes: uniqueness held by the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from storage import Database, NewArticle
from storage.hashing import content_hash, url_hash
from storage.models import Article, ArticleSearchText, FetchedUrl
from storage.repository import (
    StoredForms,
    corpus_stats,
    finish_run,
    iter_articles,
    known_among,
    known_url_hashes,
    record_fetch,
    retriable_urls,
    run_counts,
    save_run_counts,
    start_run,
    store_article,
)

TEXT = "新华社北京电 科学智能（AI for Science）正在改变科研范式。" * 20


def article(url: str = "http://news.example/2024/05/01/a.html", text: str = TEXT, source: str = "xinhua") -> NewArticle:
    return NewArticle(
        source=source,
        url=url,
        canonical_url=url,
        title="标题",
        text=text,
        published=datetime(2024, 5, 1, tzinfo=UTC),
        language="zh",
    )


def count_articles(db: Database) -> int:
    with db.session() as session:
        return session.execute(select(func.count()).select_from(Article)).scalar_one()


def test_the_same_url_is_stored_once(database: Database) -> None:
    with database.session() as session, session.begin():
        first = store_article(session, article())
        again = store_article(session, article(text=TEXT + " 更新"))
    assert first.created and not again.created and again.article_id == first.article_id
    assert count_articles(database) == 1


def test_the_same_text_under_another_url_is_a_duplicate(database: Database) -> None:
    with database.session() as session, session.begin():
        first = store_article(session, article())
        copy = store_article(
            session, article(url="http://portal.example/news/123456.html", text="  " + TEXT.replace("。", "。\n"))
        )
    assert copy == type(copy)(first.article_id, False)
    assert count_articles(database) == 1


def test_stored_forms_made_ahead_are_used_only_for_their_own_title_and_text(database: Database) -> None:
    other = "另一篇文章的正文，讲的是天气预报。" * 10
    with database.session() as session, session.begin():
        made_ahead = store_article(session, replace(article(), forms=StoredForms.of("标题", TEXT)))
        mismatched = replace(
            article(url="http://news.example/2024/05/02/b.html", text=other), forms=StoredForms.of("标题", TEXT)
        )
        stored = store_article(session, mismatched)  # forms of another text: made again from its own
    assert made_ahead.created and stored.created and stored.article_id != made_ahead.article_id
    with database.session() as session:
        row = session.get(Article, stored.article_id)
        assert row is not None and row.content_hash == content_hash(other)
        assert session.get(ArticleSearchText, stored.article_id).body == StoredForms.of("标题", other).indexed_body  # type: ignore[union-attr]


def test_concurrent_writers_store_one_row(database: Database) -> None:
    """Eight sessions storing the same article at once end with one row and no error."""
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            barrier.wait()
            with database.session() as session, session.begin():
                store_article(session, article())
                record_fetch(
                    session, source="xinhua", url=article().url, canonical_url=article().url, outcome="article"
                )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert count_articles(database) == 1
    with database.session() as session:
        fetched = session.execute(select(FetchedUrl)).scalars().all()
    assert len(fetched) == 1 and fetched[0].attempts == 8


def test_known_urls_are_the_final_outcomes_only(database: Database) -> None:
    with database.session() as session, session.begin():
        for outcome, url in [
            ("article", "http://a/1"),
            ("gone", "http://a/2"),
            ("not_html", "http://a/3"),
            ("http_error", "http://a/4"),
            ("network_error", "http://a/5"),
        ]:
            record_fetch(session, source="s", url=url, canonical_url=url, outcome=outcome)
    with database.session() as session:
        known = known_url_hashes(session, max_attempts=5)
    assert known == {url_hash("http://a/1"), url_hash("http://a/2"), url_hash("http://a/3")}


def test_known_among_names_the_given_urls_stored_or_answered_for_good(database: Database) -> None:
    stored = "http://news.example/2024/05/01/a.html"
    with database.session() as session, session.begin():
        store_article(session, article(stored))
        record_fetch(session, source="s", url="http://a/gone", canonical_url="http://a/gone", outcome="gone")
        record_fetch(session, source="s", url="http://a/busy", canonical_url="http://a/busy", outcome="http_error")
    asked = [stored, "http://a/gone", "http://a/busy", "http://a/never-seen"]
    with database.session() as session:
        assert known_among(session, asked, max_attempts=5) == {stored, "http://a/gone"}
        assert known_among(session, [], max_attempts=5) == set()


def test_a_retried_url_becomes_known_once_it_succeeds(database: Database) -> None:
    with database.session() as session, session.begin():
        record_fetch(
            session, source="s", url="http://a/1", canonical_url="http://a/1", outcome="http_error", http_status=500
        )
    with database.session() as session, session.begin():
        assert url_hash("http://a/1") not in known_url_hashes(session, max_attempts=5)
        record_fetch(
            session, source="s", url="http://a/1", canonical_url="http://a/1", outcome="article", http_status=200
        )
    with database.session() as session:
        row = session.execute(select(FetchedUrl)).scalar_one()
        assert (row.outcome, row.http_status, row.attempts) == ("article", 200, 2)
        assert url_hash("http://a/1") in known_url_hashes(session, max_attempts=5)


def test_a_page_that_kills_its_extraction_is_given_up_after_the_most_attempts_a_failed_server_never(
    database: Database,
) -> None:
    crashing, busy = "http://a/crashing", "http://a/busy"
    for attempt in range(1, 4):
        with database.session() as session, session.begin():
            record_fetch(session, source="s", url=crashing, canonical_url=crashing, outcome="extraction_error")
            record_fetch(session, source="s", url=busy, canonical_url=busy, outcome="http_error", http_status=503)
        with database.session() as session:
            known = known_url_hashes(session, max_attempts=3)
            retried = retriable_urls(session, ["s"], max_attempts=3)
            assert (url_hash(crashing) in known) == (attempt == 3)
            assert known_among(session, [crashing, busy], max_attempts=3) == ({crashing} if attempt == 3 else set())
            assert url_hash(busy) not in known  # a server that fails may come back: its links are always followed
            assert set(retried) == ({(crashing, "s"), (busy, "s")} if attempt < 3 else set())


def test_run_counts_and_stats(database: Database) -> None:
    with database.session() as session, session.begin():
        run_id = start_run(session, ["xinhua", "sjtu"], pid=1, host="h")
        store_article(session, article())
        store_article(
            session, article(url="http://sjtu.example/news/1.html", text="AI for Science forum " * 30, source="sjtu")
        )
        save_run_counts(session, run_id, "xinhua", {"pages_fetched": 3, "new_articles": 1})
        save_run_counts(session, run_id, "xinhua", {"pages_fetched": 4, "new_articles": 1, "errors": 2})
        save_run_counts(session, run_id, "sjtu", {"pages_fetched": 2, "new_articles": 1})
        finish_run(session, run_id, "ok")
    with database.session() as session:
        counts = {row.source: row for row in run_counts(session, run_id)}
        stats = corpus_stats(session)
        exported = [(a.canonical_url, name) for a, name in iter_articles(session)]
    assert (counts["xinhua"].pages_fetched, counts["xinhua"].errors) == (4, 2)
    assert counts["sjtu"].new_articles == 1
    assert stats.articles == 2 and stats.articles_by_source == {"xinhua": 1, "sjtu": 1}
    assert stats.runs_by_status == {"ok": 1} and stats.last_run_finished is not None
    assert exported == [
        ("http://news.example/2024/05/01/a.html", "xinhua"),
        ("http://sjtu.example/news/1.html", "sjtu"),
    ]


def test_content_hash_ignores_whitespace_and_width_but_not_words() -> None:
    assert content_hash("AI  for\nScience，科学") == content_hash("AI for Science,科学")
    assert content_hash("第一段。\n\n第二段。") == content_hash("第一段。第二段。")
    assert content_hash("AI for Science") != content_hash("AI for science!")
