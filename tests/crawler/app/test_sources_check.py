"""``ai4s sources check`` and ``ai4s stats`` as a user reads them: each entry point's health with dead and
stale ones flagged and a fix suggested, a source's learned template, and the sources silent for longer than
usual named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from crawler.corpus.templates import TEMPLATE_RULE
from storage import Database, NewArticle
from storage.entry_health import DEAD_AFTER_FAILURES, STALE_AFTER_POLLS, EntryCheck, save_entry_checks
from storage.models import utcnow
from storage.repository import ensure_source, save_run_counts, start_run, store_article
from storage.templates import count_blocks
from tests.crawler.support import ai4s_in_process, table_rows

DEAD_FEED = "http://127.0.8.10/old-feed.xml"
STALE_FEED = "http://127.0.8.11/feed.xml"
GOOD_SITEMAP = "http://127.0.8.11/sitemap.xml"


def rows_of(stdout: str) -> dict[str, list[str]]:
    """The table's rows (cells), by entry point URL."""
    return {url: row for url, row in table_rows(stdout, key_column=1).items() if url.startswith("http")}


def _corpus(tmp_path: Path) -> str:
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with Database(db_url) as database:
        with database.session() as session, session.begin():
            dead, stale = ensure_source(session, "deadfeed"), ensure_source(session, "stalefeed")
            save_entry_checks(session, dead, [EntryCheck(DEAD_FEED, "feed", "read", 200, new_articles=7)])
            save_entry_checks(session, stale, [EntryCheck(STALE_FEED, "feed", "read", 200, new_articles=3)])
            for article_id in (1, 2, 3):  # one line on three articles: the source's template
                count_blocks(
                    session, stale, article_id, {42: "Subscribe to our newsletter"}, TEMPLATE_RULE, {42: "Subscribe"}
                )
        for _ in range(DEAD_AFTER_FAILURES):
            with database.session() as session, session.begin():
                save_entry_checks(session, 1, [EntryCheck(DEAD_FEED, "feed", "failed", 404, "HTTP 404 Not Found")])
        for _ in range(STALE_AFTER_POLLS):
            with database.session() as session, session.begin():
                save_entry_checks(
                    session,
                    2,
                    [
                        EntryCheck(STALE_FEED, "feed", "unchanged", 304),
                        EntryCheck(GOOD_SITEMAP, "sitemap", "read", 200, new_articles=1),
                    ],
                )
    return db_url


def test_sources_check_flags_dead_and_stale_entry_points_and_says_what_to_do(tmp_path: Path) -> None:
    db_url = _corpus(tmp_path)
    result = ai4s_in_process("sources", "check", "--db", db_url)
    assert result.returncode == 0, result.stderr
    rows = rows_of(result.stdout)
    dead = " ".join(rows[DEAD_FEED])
    assert "DEAD (3 failed polls)" in dead and "failed 404: HTTP 404 Not Found" in dead
    assert "drop this feed, or run `ai4s sources discover http://127.0.8.10/` again" in dead
    assert rows[DEAD_FEED][4] == "7"
    stale = " ".join(rows[STALE_FEED])
    assert (
        f"STALE ({STALE_AFTER_POLLS} polls, nothing new)" in stale
        and "names nothing new: run `ai4s sources discover http://127.0.8.11/` again" in stale
    )
    assert rows[STALE_FEED][7].endswith("ago")  # unchanged since
    sitemap = rows[GOOD_SITEMAP]
    assert sitemap[-2] == "ok" and sitemap[4] == str(STALE_AFTER_POLLS) and sitemap[-1] == ""
    assert "(template: 1)" in result.stdout  # the learned template's blocks of stalefeed

    only = ai4s_in_process("sources", "check", "--db", db_url, "--source", "deadfeed")
    assert set(rows_of(only.stdout)) == {DEAD_FEED}
    nothing = ai4s_in_process("sources", "check", "--db", db_url, "--source", "nosuch")
    assert nothing.returncode == 2 and "no stored source named 'nosuch'" in nothing.stderr


def test_stats_names_the_sources_silent_for_longer_than_their_usual_gap(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    now = utcnow()
    with Database(db_url) as database, database.session() as session, session.begin():
        run_id = start_run(session, ["quiet", "busy"])
        for source, first_day in (("quiet", 6), ("busy", 0)):
            save_run_counts(session, run_id, source, {})
            for number in range(6):
                url = f"http://{source}.example/{number}"
                published = now - timedelta(days=first_day + number, hours=1)
                store_article(session, NewArticle(source, url, url, "t", f"{source} {number}", published=published))
    result = ai4s_in_process("stats", "--db", db_url)
    assert result.returncode == 0, result.stderr
    silent = result.stdout.split("silent sources", 1)[1]
    assert "quiet" in silent and "busy" not in silent and "6d1h ago" in silent and "1d" in silent
