"""Chat delivery through Apprise, against a local HTTP endpoint standing in for a webhook: the Markdown
digest is posted; a failed delivery is logged, records nothing, and its period goes with the next digest
(as mail's does); a URL Apprise does not know is refused before anything is made. And the files a digest
writes get the permissions the umask gives (0644 usually), not 0600."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.digest.chat import ChatError
from crawler.digest.delivery import DigestRefused, DigestRequest, deliver_digest, make_digest
from crawler.schedule.runs import deliver_scheduled_digest
from storage import Database, NewArticle
from storage.models import DigestRun
from storage.repository import store_article
from storage.stories import start_story
from tests.crawler.support import ai4s_in_process

HEADLINE = "人工智能天气预报大模型发布"


class Webhook:
    """A webhook on 127.0.0.1: it keeps each JSON body posted to it and answers with ``status``."""

    def __init__(self) -> None:
        self.posts: list[dict[str, object]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append({"path": self.path, **json.loads(body)})
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook() as hook:
        yield hook


@pytest.fixture
def corpus(tmp_path: Path) -> str:
    """A corpus with one on-topic story, stored now."""
    url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with Database(url) as database, database.session() as session, session.begin():
        stored = store_article(
            session,
            NewArticle("xinhua", "http://news.example/1", "http://news.example/1", HEADLINE,
                       "中国气象局发布了人工智能天气预报大模型，预报时效延长到十五天。" * 3, language="zh"),
        )  # fmt: skip
        start_story(session, stored.article_id)
    return url


def digest_runs(url: str) -> int:
    with Database(url) as database, database.session() as session:
        return session.execute(select(func.count()).select_from(DigestRun)).scalar_one()


def test_the_markdown_digest_is_posted_to_the_webhook(corpus: str, webhook: Webhook) -> None:
    result = ai4s_in_process("digest", "--db", corpus, "--notify", webhook.url, "--out", os.devnull)
    assert result.returncode == 0, result.stderr
    assert len(webhook.posts) == 1
    post = webhook.posts[0]
    assert post["path"] == "/hook" and post["title"] == next(iter(post["title"].splitlines()))  # type: ignore[union-attr]
    assert str(post["title"]).startswith("AI for Science digest: 1 story")
    assert HEADLINE in str(post["message"]) and "http://news.example/1" in str(post["message"])
    assert f"sent to json://127.0.0.1:{webhook.server.server_address[1]}/hook" in result.stderr


def test_a_failed_delivery_is_sent_again_with_the_next_digest(
    corpus: str, webhook: Webhook, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    webhook.status = 500
    with Database(corpus) as database:
        with pytest.raises(ChatError, match=r"sending the digest to chat failed: json://127\.0\.0\.1"):
            make_digest(database, DigestRequest(since_last=True, notify=[webhook.url], settle=timedelta(0)))
        assert digest_runs(corpus) == 0  # nothing recorded: the period is still the next digest's
        with caplog.at_level(logging.WARNING, logger="crawler.schedule.runs"):
            deliver_scheduled_digest(database, "default", tmp_path / "digests", [], 0, notify=[webhook.url])
        assert "Digest default failed, its period is left to the next one" in caplog.text
        assert digest_runs(corpus) == 0 and len(webhook.posts) == 2

        webhook.status = 200
        delivery = make_digest(database, DigestRequest(since_last=True, notify=[webhook.url], settle=timedelta(0)))
    assert digest_runs(corpus) == 1 and delivery.digest["counts"]["stories"] == 1
    assert HEADLINE in str(webhook.posts[-1]["message"])


def test_a_url_apprise_does_not_know_is_refused_before_anything_is_made(corpus: str) -> None:
    with pytest.raises(DigestRefused, match="not a chat URL Apprise knows"):
        deliver_digest(corpus, DigestRequest(notify=["nosuch://token@host"]), io.StringIO())
    result = ai4s_in_process("digest", "--db", corpus, "--notify", "nosuch://token@host")
    assert result.returncode == 2 and "not a chat URL Apprise knows" in result.stderr
    assert "token" not in result.stderr and "Traceback" not in result.stderr
    assert digest_runs(corpus) == 0


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_digest_files_and_the_feed_get_the_permissions_of_the_umask(
    corpus: str, tmp_path: Path, umask: int, mode: int
) -> None:
    directory = tmp_path / "digests"
    previous = os.umask(umask)
    try:
        with Database(corpus) as database:
            deliver_scheduled_digest(database, "daemon", directory, [], 0)
    finally:
        os.umask(previous)
    written = sorted(directory.iterdir())
    assert {path.suffix for path in written} == {".html", ".md", ".json", ".atom"}
    assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {mode}
