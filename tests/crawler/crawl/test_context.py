"""The crawl context: the run row it creates or adopts and closes with each source's counts, the
entry-page polls it keeps for the end, and one crawl reading its inputs once (a real crawl)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.exceptions import CloseSpider
from sqlalchemy import func, select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.config import Config
from crawler.crawl.context import CONTEXT_FAILED, CrawlContext
from crawler.crawl.items import EntryPoll
from crawler.crawl.requests import stat_key
from storage.models import CrawlRun, EntryPage
from storage.repository import run_counts, start_run
from tests.crawler.crawl.components import corpus, make_config, make_crawler, open_crawl
from tests.crawler.support import PROJECT_ROOT, article_html


def test_a_crawl_creates_its_run_and_closes_it_with_each_sources_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="crawler.crawl.context")
    config = make_config(tmp_path)
    crawler = make_crawler(config)
    context = CrawlContext.of(crawler)
    context.spider_opened()
    for counter, value in (("pages_fetched", 3), ("new_articles", 2), ("entry_pages_read", 1)):
        crawler.stats.set_value(stat_key("alpha", counter), value)
    crawler.stats.set_value(stat_key("beta", "entry_pages_failed"), 1)
    context.spider_closed("finished")

    with corpus(config) as session:
        run = session.get(CrawlRun, context.run_id)
        assert run is not None and run.status == "ok" and run.message == "spider closed: finished"
        assert run.sources == "alpha,beta" and run.pid == os.getpid()
        stored = run_counts(session, context.run_id)
    assert stored == context.counts
    alpha, beta = stored
    assert (alpha.source, alpha.pages_fetched, alpha.new_articles, alpha.entry_pages_read) == ("alpha", 3, 2, 1)
    assert (beta.source, beta.pages_fetched, beta.entry_pages_failed) == ("beta", 0, 1)
    assert context.status == "ok" and crawler.stats.get_value("ai4s/run_status") == "ok"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Source alpha:")]
    assert lines == [
        "Source alpha: 3 fetched, 2 new, 0 off-topic, 0 dup, 0 no article, 0 known, 0 refused, 0 errors, 0 fallbacks; "
        "entry pages: 1 read, 0 unchanged, 0 failed"
    ]


def test_a_crawl_that_reached_no_source_fails(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_crawl(config) as crawler:
        for source in ("alpha", "beta"):
            crawler.stats.set_value(stat_key(source, "entry_pages_failed"), 2)
        context = CrawlContext.of(crawler)
    assert context.status == "failed"
    with corpus(config) as session:
        run = session.get(CrawlRun, context.run_id)
        assert run is not None and run.message == "no feed, sitemap or listing page of any source could be fetched"


def test_a_run_started_by_the_daemon_is_adopted_not_created(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with corpus(config) as session:
        run_id = start_run(session, ["alpha"], pid=1, host="daemon-host")
    crawler = make_crawler(config, AI4S_RUN_ID=str(run_id))
    context = CrawlContext.of(crawler)
    context.spider_opened()
    assert context.run_id == run_id
    context.spider_closed("shutdown")  # SIGTERM from the daemon
    with corpus(config) as session:
        runs = list(session.execute(select(CrawlRun)).scalars())
    assert [(run.id, run.status, run.pid) for run in runs] == [(run_id, "interrupted", os.getpid())]


def test_a_run_that_cannot_be_adopted_closes_the_spider_before_anything_starts(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    crawler = make_crawler(config, AI4S_RUN_ID="99")
    context = CrawlContext.of(crawler)
    with pytest.raises(CloseSpider) as closing:
        context.spider_opened()
    assert closing.value.reason == CONTEXT_FAILED
    context.spider_closed(CONTEXT_FAILED)
    assert context.run_id is None and context.status is None and context.counts == []
    assert context.failure == "the crawl could not start: crawl run 99 does not exist or is not running"
    with corpus(config) as session:
        assert session.execute(select(func.count()).select_from(CrawlRun)).scalar_one() == 0


def _polls(url: str) -> list[EntryPoll]:
    """A feed read (validators to keep) and a feed that asked to wait (a hint to keep)."""
    later = datetime.now(UTC) + timedelta(hours=1)
    return [
        EntryPoll("alpha", url + "/rss.xml", 200, changed=True, etag='"v1"', body_hash="ab"),
        EntryPoll("alpha", url + "/busy.xml", 503, changed=False, not_before=later),
    ]


def _remembered(config: Config) -> dict[str, str | None]:
    """The entry pages the corpus remembers, with their ETag."""
    with corpus(config) as session:
        return {page.url: page.etag for page in session.execute(select(EntryPage)).scalars()}


def test_entry_polls_are_saved_when_the_crawl_ends_and_only_the_waits_when_it_was_cut_short(tmp_path: Path) -> None:
    site = "http://127.0.0.40:8040"
    finished = make_config(tmp_path / "finished")
    with open_crawl(finished) as crawler:
        for poll in _polls(site):
            CrawlContext.of(crawler).remember_entry_poll(poll)
        assert _remembered(finished) == {}  # nothing is saved before the end
    assert _remembered(finished) == {f"{site}/rss.xml": '"v1"', f"{site}/busy.xml": None}

    interrupted = make_config(tmp_path / "interrupted")
    crawler = make_crawler(interrupted)
    context = CrawlContext.of(crawler)
    context.spider_opened()
    for poll in _polls(site):
        context.remember_entry_poll(poll)
    context.spider_closed("shutdown")
    # the feed's links may not all have been followed: its validators are not kept, the site's wish is
    assert _remembered(interrupted) == {f"{site}/busy.xml": None}


def test_the_polls_of_a_source_cut_by_its_budget_are_not_saved(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_crawl(config) as crawler:
        for poll in _polls("http://127.0.0.40:8040"):
            CrawlContext.of(crawler).remember_entry_poll(poll)
        crawler.stats.set_value(stat_key("alpha", "over_budget"), 1)
    assert _remembered(config) == {}


#: Runs ``python -m crawler ARGS`` counting the files it opens (an audit hook) and the times a
#: database is opened (each open runs the Alembic check: ``storage.db.migrate``).
COUNTING_CRAWL = """
import atexit, collections, json, os, runpy, sys
import storage.db

opened = collections.Counter()

def remember(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened[os.path.basename(os.fsdecode(args[0]))] += 1

sys.addaudithook(remember)
migrate = storage.db.migrate

def counted_migrate(engine):
    opened["database"] += 1
    return migrate(engine)

storage.db.migrate = counted_migrate
atexit.register(lambda: print("OPENED " + json.dumps(opened), file=sys.stderr))
sys.argv = ["ai4s", *sys.argv[1:]]
runpy.run_module("crawler", run_name="__main__", alter_sys=True)
"""


def test_one_crawl_reads_its_sources_and_profile_once_and_opens_its_database_once(tmp_path: Path) -> None:
    site = LocalSite("outlet", "127.0.0.42")
    stories = [site.add(f"/2025/05/0{i}/story-{i}.html", html_reply(article_html(f"Story {i}"))) for i in (1, 2)]
    items = "".join(f"<item><title>t</title><link>{url}</link></item>" for url in stories)
    site.add("/rss.xml", Reply(200, f"<rss><channel>{items}</channel></rss>".encode(), {"Content-Type": "text/xml"}))
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "outlets.toml"
    sources.write_text(f'[[source]]\nname = "outlet"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    args = ["crawl", "-s", f"AI4S_SOURCES_FILE={sources}", "--db", db_url, "-s", "DOWNLOAD_DELAY=0"]
    with site:
        result = subprocess.run(
            [sys.executable, "-c", COUNTING_CRAWL, *args],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "crawl run 1: ok" in result.stdout and "outlet" in result.stdout  # -s AI4S_SOURCES_FILE alone is honoured
    assert len(site.requests_for("/rss.xml")) == 1
    assert all(site.requests_for(f"/2025/05/0{i}/story-{i}.html") for i in (1, 2))
    opened = json.loads(result.stderr.rsplit("OPENED ", 1)[1])
    assert (opened["outlets.toml"], opened["topics.toml"], opened["database"]) == (1, 1, 1)


def test_a_sources_file_given_as_a_flag_and_as_a_setting_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    for path, name in ((first, "alpha"), (second, "beta")):
        path.write_text(f'[[source]]\nname = "{name}"\nfeeds = ["http://127.0.0.40:8040/rss.xml"]\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--sources", str(first), "-s", f"AI4S_SOURCES_FILE={second}"]
        + ["--db", f"sqlite:///{tmp_path / 'c.sqlite3'}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert f"sources file given twice with different values: {first} and {second}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "c.sqlite3").exists()
