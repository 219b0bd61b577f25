"""``ai4s search``: the stories found, as a table and as JSON, with the filters; a clear line for a wrong option."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from storage import Database, NewArticle
from storage.repository import store_article
from storage.stories import join_story, start_story
from tests.crawler.support import ai4s_in_process

WEATHER = "中國氣象局發佈了人工智慧天氣預報大模型，颱風路徑預報更準確。" * 3


def corpus(tmp_path: Path) -> str:
    """A small corpus: one weather story with two copies (traditional and simplified), one English article."""
    url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    articles = [
        NewArticle("udn", "http://udn.example/1", "http://udn.example/1", "氣象大模型", WEATHER, language="zh"),
        NewArticle("xinhua", "http://xinhua.example/1", "http://xinhua.example/1", "气象大模型", WEATHER + "新华社",
                   language="zh"),
        NewArticle("nature", "http://nature.example/1", "http://nature.example/1", "Enzymes by design",
                   "A protein model designs enzymes.", language="en"),
    ]  # fmt: skip
    with Database(url) as database, database.session() as session, session.begin():
        ids = [store_article(session, article).article_id for article in articles]
        join_story(session, ids[1], start_story(session, ids[0]))
    return url


def test_search_prints_one_row_per_story_with_its_outlets(tmp_path: Path) -> None:
    db = corpus(tmp_path)
    result = ai4s_in_process("search", "天气预报", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "1 story for '天气预报'" in result.stdout
    assert "udn, xinhua" in result.stdout and "nature" not in result.stdout


def test_search_as_json_with_filters(tmp_path: Path) -> None:
    db = corpus(tmp_path)
    result = ai4s_in_process("search", "模型", "--db", db, "--format", "json", "--source", "xinhua")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [record["source"] for record in records] == ["xinhua"]
    assert {copy["source"] for copy in records[0]["copies"]} == {"udn", "xinhua"}
    lines = ai4s_in_process("search", "model", "--db", db, "--format", "jsonl", "--lang", "en").stdout.splitlines()
    assert [json.loads(line)["title"] for line in lines] == ["Enzymes by design"]
    assert ai4s_in_process("search", "model", "--db", db, "--format", "json", "--lang", "fr").stdout.strip() == "[]"


def test_a_wrong_format_or_period_is_one_line(tmp_path: Path) -> None:
    db = corpus(tmp_path)
    for args in (["--format", "xml"], ["--since", "yesterday-ish"]):
        result = ai4s_in_process("search", "模型", "--db", db, *args)
        assert result.returncode == 2
        assert "error:" in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_search_reindex_fills_the_index_again_and_a_query_is_needed_otherwise(tmp_path: Path) -> None:
    db = corpus(tmp_path)
    with Database(db) as database, database.engine.begin() as connection:
        connection.execute(text("DELETE FROM article_search"))  # an index lost, or filled in an older form
    assert "0 stories" in ai4s_in_process("search", "enzymes", "--db", db).stdout
    result = ai4s_in_process("search", "--reindex", "--db", db)
    assert result.returncode == 0 and "search index filled again: 3 articles" in result.stdout, result.stderr
    assert "1 story for 'enzymes'" in ai4s_in_process("search", "enzymes", "--db", db).stdout
    missing = ai4s_in_process("search", "--db", db)
    assert missing.returncode == 2 and "search needs a QUERY (or --reindex)" in missing.stderr
    assert "Traceback" not in missing.stderr
