"""Entry point health in the database (storage/entry_health.py), on SQLite and PostgreSQL: each crawl's check
folds into the stored row (failures in a row, polls without anything new, articles all time and recent,
unchanged since), the verdicts follow, and a source is silent only when it was polled after its usual gap."""

from __future__ import annotations

from datetime import timedelta

from storage import Database, NewArticle
from storage.entry_health import (
    DEAD_AFTER_FAILURES,
    RECENT_POLLS,
    STALE_AFTER_POLLS,
    EntryCheck,
    entry_health,
    save_entry_checks,
    silent_sources,
    usual_gap,
)
from storage.models import utcnow
from storage.repository import ensure_source, save_run_counts, start_run, store_article

FEED = "http://example.org/feed.xml"
HOME = "http://example.org"


def poll(database: Database, source: str, *checks: EntryCheck) -> None:
    with database.session() as session, session.begin():
        save_entry_checks(session, ensure_source(session, source), checks)


def health_of(database: Database, source: str) -> dict[str, object]:
    with database.session() as session:
        return {entry.url: entry for entry in entry_health(session, [source])}


def test_a_feed_that_fails_in_a_row_is_failing_then_dead_and_recovers_at_its_first_answer(database: Database) -> None:
    poll(database, "xinhua", EntryCheck(FEED, "feed", "read", 200, new_articles=4))
    for _ in range(DEAD_AFTER_FAILURES - 1):
        poll(database, "xinhua", EntryCheck(FEED, "feed", "failed", 404, "HTTP 404"))
    feed = health_of(database, "xinhua")[FEED]
    assert (feed.verdict, feed.consecutive_failures, feed.last_status, feed.articles_found) == ("failing", 2, 404, 4)
    assert "fallback chain stands in" in feed.advice
    poll(database, "xinhua", EntryCheck(FEED, "feed", "failed", 404, "HTTP 404"))
    feed = health_of(database, "xinhua")[FEED]
    assert feed.verdict == "dead" and "drop this feed" in feed.advice and "discover" in feed.advice
    poll(database, "xinhua", EntryCheck(FEED, "feed", "read", 200, new_articles=1))
    feed = health_of(database, "xinhua")[FEED]
    assert (feed.verdict, feed.consecutive_failures, feed.articles_found, feed.advice) == ("ok", 0, 5, "")
    assert feed.recent_found == (4, 0, 0, 0, 1) and feed.articles_recent == 5


def test_a_feed_that_answers_with_nothing_new_for_many_polls_is_stale_and_unchanged_since_its_first_304(
    database: Database,
) -> None:
    poll(database, "sjtu", EntryCheck(FEED, "feed", "read", 200, new_articles=2))
    for number in range(STALE_AFTER_POLLS):
        poll(database, "sjtu", EntryCheck(FEED, "feed", "unchanged", 304))
        if number == 0:
            first_unchanged = health_of(database, "sjtu")[FEED].unchanged_since
    feed = health_of(database, "sjtu")[FEED]
    assert feed.verdict == "stale" and feed.polls_without_new == STALE_AFTER_POLLS and "discover" in feed.advice
    assert first_unchanged is not None and feed.unchanged_since == first_unchanged
    assert feed.last_new_article_at is not None and feed.last_new_article_at < feed.last_checked
    poll(database, "sjtu", EntryCheck(FEED, "feed", "read", 200, new_articles=0))
    assert health_of(database, "sjtu")[FEED].unchanged_since is None  # it changed, though it named nothing new
    for _ in range(RECENT_POLLS):
        poll(database, "sjtu", EntryCheck(FEED, "feed", "read", 200, new_articles=1))
    feed = health_of(database, "sjtu")[FEED]
    assert feed.verdict == "ok" and feed.articles_recent == RECENT_POLLS and feed.articles_found == 2 + RECENT_POLLS


def test_a_fallback_entry_point_is_kept_apart_and_a_wait_is_no_failure(database: Database) -> None:
    poll(
        database,
        "nature",
        EntryCheck(FEED, "feed", "deferred", error="asked to wait"),
        EntryCheck(HOME, "listing", "read", 200, new_articles=3, fallback=True),
    )
    health = health_of(database, "nature")
    assert list(health) == [FEED, HOME]  # configured first
    assert health[FEED].consecutive_failures == 0 and health[FEED].recent_found == ()
    assert health[HOME].fallback and health[HOME].articles_found == 3
    poll(database, "nature", EntryCheck(HOME, "listing", "read", 200))  # configured now: no fallback any more
    assert not health_of(database, "nature")[HOME].fallback
    assert health_of(database, "other") == {}


def test_the_usual_gap_is_the_median_gap_and_never_less_than_an_hour() -> None:
    now = utcnow()
    assert usual_gap([now - timedelta(days=n) for n in range(4)]) is None  # too few to say
    assert usual_gap([now - timedelta(days=n) for n in (0, 1, 2, 3, 10)]) == timedelta(days=1)
    assert usual_gap([now - timedelta(minutes=n) for n in range(6)]) == timedelta(hours=1)


def _publish(database: Database, source: str, run_id: int, published: list[timedelta]) -> None:
    now = utcnow()
    with database.session() as session, session.begin():
        for number, ago in enumerate(published):
            url = f"http://{source}.example/{number}"
            text = f"{source} article {number}"
            article = NewArticle(source, url, url, "t", text, published=now - ago)
            store_article(session, article, run_id=run_id)


def test_a_source_is_silent_when_polled_after_several_of_its_usual_gaps_without_a_new_article(
    database: Database,
) -> None:
    with database.session() as session, session.begin():
        run_id = start_run(session, ["daily", "weekly", "unpolled"])
        for source in ("daily", "weekly"):
            save_run_counts(session, run_id, source, {})
    _publish(database, "daily", run_id, [timedelta(days=5 + n) for n in range(8)])  # daily, silent for 5 days
    _publish(database, "weekly", run_id, [timedelta(days=5 + 7 * n) for n in range(8)])  # weekly: 5 days is usual
    _publish(database, "unpolled", run_id, [timedelta(days=5 + n) for n in range(8)])  # no crawl saw it since
    with database.session() as session:
        silent = silent_sources(session)
    assert [s.source for s in silent] == ["daily"]
    assert silent[0].usual_gap == timedelta(days=1) and silent[0].silent_for(utcnow()) > timedelta(days=4)
