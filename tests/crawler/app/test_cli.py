"""The command line as a user meets it: clear errors, the sources listing, the demo."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.text.normalize import to_simplified
from storage import Database
from storage.models import Article, CrawlRun
from storage.repository import start_run
from tests.crawler.support import COLUMNS, PROJECT_ROOT, ai4s, ai4s_in_process, article_html, table_rows


def test_a_bad_sources_file_is_rejected_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "sources.toml"
    bad.write_text('[[source]]\nname = "xinhua"\nfeeds = ["http://www.news.cn/rss.xml"]\nevery = "sometimes"\n')
    result = ai4s_in_process("crawl", "--sources", str(bad), "--db", f"sqlite:///{tmp_path / 'c.sqlite3'}")
    assert result.returncode == 2
    assert "source #1 ('xinhua'): key 'every' = 'sometimes'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "c.sqlite3").exists()  # nothing was started


def test_an_unknown_source_name_is_rejected(tmp_path: Path) -> None:
    result = ai4s_in_process("crawl", "--source", "no-such-outlet", "--db", f"sqlite:///{tmp_path / 'c.sqlite3'}")
    assert result.returncode == 2 and "no source named 'no-such-outlet'" in result.stderr


def test_a_bad_setting_override_is_rejected(tmp_path: Path) -> None:
    result = ai4s_in_process("crawl", "-s", "DOWNLOAD_DELAY", "--db", f"sqlite:///{tmp_path / 'c.sqlite3'}")
    assert result.returncode == 2 and "-s expects NAME=VALUE" in result.stderr


def test_sources_lists_the_shipped_outlets() -> None:
    result = ai4s_in_process("sources")
    assert result.returncode == 0, result.stderr
    for name in ("xinhua", "gov_cn", "stdaily"):
        assert name in result.stdout


def test_export_of_an_empty_corpus_is_empty(tmp_path: Path) -> None:
    result = ai4s_in_process("export", "--db", f"sqlite:///{tmp_path / 'empty.sqlite3'}", "--format", "jsonl")
    assert result.returncode == 0 and result.stdout == ""
    unknown = ai4s_in_process("export", "--db", f"sqlite:///{tmp_path / 'empty.sqlite3'}", "--format", "xml")
    assert unknown.returncode == 2 and "unknown format 'xml'" in unknown.stderr


def test_the_demo_runs_offline_and_the_second_crawl_fetches_no_article_again(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    result = ai4s("demo", "--db", db_url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "crawl run 1: ok" in result.stdout and "crawl run 2: ok" in result.stdout
    first, second = result.stdout.split("crawl run 2: ok")
    total_first = next(line for line in first.splitlines() if "total" in line).split("│")[2:-1]
    total_second = next(line for line in second.splitlines() if "total" in line).split("│")[2:-1]
    fetched, new, off_topic, dup, _, known, refused, unchanged, errors, fallbacks = (int(x) for x in total_first)
    # 12 article pages: the 5 seed articles, a repost of one of them (traditional script, an editor's
    # line: not an exact duplicate), and 6 ordinary news items
    assert new == 12 and dup == 0 and off_topic == 6 and errors == 0 and unchanged == 0
    fetched2, new2, _, _, _, known2, refused2, unchanged2, errors2, fallbacks2 = (int(x) for x in total_second)
    # nothing changed between the rounds: every feed, sitemap and listing answers 304, so no article
    # link is even read again, let alone fetched
    assert new2 == 0 and errors2 == 0 and unchanged2 > 0 and known2 == 0 and fetched2 == unchanged2 < fetched
    # the demo's sites link to their own pages and to public sites: the address policy refuses nothing
    assert refused == refused2 == 0
    # every entry point of the demo answers: no source falls back
    assert fallbacks == fallbacks2 == 0


def test_the_demo_corpus_keeps_the_seed_stories_as_relevant_and_not_the_ordinary_news(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert ai4s("demo", "--db", db_url, "--rounds", "1").returncode == 0
    exported = [json.loads(line) for line in ai4s_in_process("export", "--db", db_url).stdout.splitlines()]
    everything = [json.loads(line) for line in ai4s_in_process("export", "--db", db_url, "--all").stdout.splitlines()]
    assert len(exported) == 6 and len(everything) == 12
    assert all(row["relevant"] and row["relevance"] >= 0.5 for row in exported)
    # the repost is in the story of its Xinhua original: 6 on-topic articles, 5 stories
    assert len({row["story_id"] for row in exported}) == 5
    by_story: dict[int, list[dict]] = {}
    for row in exported:
        by_story.setdefault(row["story_id"], []).append(row)
    (summit,) = [rows for rows in by_story.values() if len(rows) > 1]
    assert {row["source"] for row in summit} == {"demo-xinhua", "demo-portal"}
    assert all("科学智能峰会" in to_simplified(row["text"]) for row in summit)
    off_topic = [row for row in everything if not row["relevant"]]
    assert len(off_topic) == 6 and all(row["relevance"] < 0.5 for row in off_topic)
    # seed 000 (traditional script), 001, 002 (Chinese) and 004 (English) all come through
    assert {row["language"] for row in exported} == {"zh", "en"}
    stats = ai4s_in_process("stats", "--db", db_url).stdout
    assert re.search(r"articles\W+6\b", stats) and re.search(r"off-topic[^\n]*\W6\b", stats)
    listing = ai4s_in_process("stories", "--db", db_url)
    assert listing.returncode == 0 and "5 most recent stories" in listing.stdout
    # rebuilding the stories from scratch finds the same grouping (12 articles, one copy)
    rebuilt = ai4s_in_process("stories", "rebuild", "--db", db_url)
    assert rebuilt.returncode == 0 and "12 articles in 11 stories (1 copy joined" in rebuilt.stdout
    again = [json.loads(line) for line in ai4s_in_process("export", "--db", db_url).stdout.splitlines()]
    assert len({row["story_id"] for row in again}) == 5
    # After a profile change, rescore applies it to the stored articles.
    rescored = ai4s_in_process("rescore", "--db", db_url)
    assert rescored.returncode == 0 and "12 scored, 6 now relevant, 6 now off-topic" in rescored.stdout


def test_a_crawl_closes_the_runs_a_killed_crawl_left_running(tmp_path: Path) -> None:
    # without a daemon, a crawl killed outright stayed "running" in the stats and the digest for ever
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with Database(db_url) as database, database.session() as session, session.begin():
        dead = start_run(session, ["outlet"], pid=999_999_999, host=socket.gethostname())
    site = LocalSite("outlet", "127.0.0.30")
    story = site.add("/2026/12/01/ai-finds-a-catalyst.html", html_reply(article_html("AI finds a catalyst")))
    rss = f"<rss><channel><item><title>t</title><link>{story}</link></item></channel></rss>"
    site.add("/rss.xml", Reply(200, rss.encode(), {"Content-Type": "application/rss+xml"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "outlet"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    with site:
        result = ai4s("crawl", "--sources", str(sources), "--db", db_url, "-s", "DOWNLOAD_DELAY=0")
    assert result.returncode == 0, result.stderr[-3000:]
    with Database(db_url) as database, database.session() as session:
        statuses = dict(session.execute(select(CrawlRun.id, CrawlRun.status)).all())
    assert statuses == {dead: "aborted", dead + 1: "ok"}


def _quick_and_slow_outlet(host: str, slow_seconds: float, tmp_path: Path) -> tuple[LocalSite, Path]:
    """A site whose feed links an article served at once and one served after ``slow_seconds``; its sources file."""
    site = LocalSite("outlet", host)
    quick = site.add("/2026/12/01/ai-finds-a-catalyst.html", html_reply(article_html("AI finds a catalyst")))
    slow_reply = html_reply(article_html("AI folds proteins"))
    slow = site.add(
        "/2026/12/01/ai-folds-proteins.html", Reply(200, slow_reply.body, slow_reply.headers, delay=slow_seconds)
    )
    rss = "".join(f"<item><title>t</title><link>{url}</link></item>" for url in (quick, slow))
    site.add(
        "/rss.xml", Reply(200, f"<rss><channel>{rss}</channel></rss>".encode(), {"Content-Type": "application/rss+xml"})
    )
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "outlet"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    return site, sources


def test_a_crawl_cut_short_by_its_time_limit_exits_4_and_keeps_what_it_stored(tmp_path: Path) -> None:
    # it exited 0: 'ai4s crawl && ai4s digest' could not tell it from a crawl that went to its end
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    site, sources = _quick_and_slow_outlet("127.0.0.30", 10, tmp_path)
    with site:
        result = ai4s(
            "crawl", "--sources", str(sources), "--db", db_url, "-s", "DOWNLOAD_DELAY=0", "-s", "CLOSESPIDER_TIMEOUT=4"
        )
    assert result.returncode == 4, result.stderr[-3000:]
    assert "the crawl was interrupted before its end: what it stored is kept" in result.stderr
    with Database(db_url) as database, database.session() as session:
        assert session.execute(select(CrawlRun.status)).scalar_one() == "interrupted"


def test_a_crawl_stopped_at_once_by_a_second_sigterm_closes_its_run_and_shows_what_it_stored(tmp_path: Path) -> None:
    # Scrapy stops its reactor at a second SIGTERM without closing the spider: the command printed an empty table
    # and the run stayed "running" until the next crawl marked it aborted
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    site, sources = _quick_and_slow_outlet("127.0.0.31", 60, tmp_path)
    command = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--db", db_url]
    with site:
        crawl = subprocess.Popen(
            [*command, "-s", "DOWNLOAD_DELAY=0"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": COLUMNS},
        )
        try:
            deadline = time.monotonic() + 120
            while not site.requests_for("/2026/12/01/ai-folds-proteins.html") or not _stored(db_url):
                assert crawl.poll() is None and time.monotonic() < deadline, "the crawl ended before its slow page"
                time.sleep(0.2)
            crawl.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            crawl.send_signal(signal.SIGTERM)
            out, err = crawl.communicate(timeout=60)
        finally:
            crawl.kill()
    assert crawl.returncode == 4, err[-3000:]
    assert table_rows(out)["outlet"][2] == "1", out  # its one new article
    with Database(db_url) as database, database.session() as session:
        assert session.execute(select(CrawlRun.status)).scalar_one() == "interrupted"


def _stored(db_url: str) -> int:
    """How many articles the database holds (0 before it exists)."""
    if not Path(db_url.removeprefix("sqlite:///")).exists():  # never made here: the crawl makes it
        return 0
    try:
        with Database(db_url) as database, database.session() as session:
            return session.execute(select(func.count(Article.id))).scalar_one()
    except Exception:  # noqa: BLE001 - not created yet, or locked by the crawl's migration
        return 0
