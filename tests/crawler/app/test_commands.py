"""The commands that do not crawl, run in this process with typer's CliRunner on a small stored
corpus: what they print, what they write, and their exit codes (2 for a usage or configuration
mistake, 1 for a failure)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from crawler.relevance.profile import DEFAULT_PROFILE, RelevanceScorer, load_profile
from storage import Database
from storage.stories import recent_stories
from tests.crawler.corpus.corpora import corpus_texts, store_corpus
from tests.crawler.support import ai4s_in_process

SOURCES = """
[[source]]
name = "feedsite"
feeds = ["http://127.0.0.1:9/rss.xml"]
every = "30m"

[[source]]
name = "cronsite"
sitemaps = ["http://127.0.0.1:9/sitemap.xml"]
every = "0 6 * * 1-5"
"""


@pytest.fixture(scope="module")
def scorer() -> RelevanceScorer:
    return RelevanceScorer(load_profile())


@pytest.fixture
def corpus(tmp_path: Path, scorer: RelevanceScorer) -> str:
    """A SQLite corpus of the seed articles and some ordinary news, scored by the shipped profile."""
    url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with Database(url) as database:
        store_corpus(database, scorer)
    return url


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    return path


def on_topic_urls(scorer: RelevanceScorer) -> list[str]:
    return [t.url for t in corpus_texts() if scorer.score(t.title, t.text).relevant]


def test_sources_lists_the_file_of_the_flag_or_of_the_environment(sources_file: Path, tmp_path: Path) -> None:
    result = ai4s_in_process("sources", "--sources", str(sources_file))
    assert result.returncode == 0, result.stderr
    assert str(sources_file) in result.stdout and "feedsite" in result.stdout and "0 6 * * 1-5" in result.stdout
    assert "xinhua" not in result.stdout
    from_env = ai4s_in_process("sources", env={"AI4S_SOURCES_FILE": str(sources_file)})
    assert from_env.returncode == 0 and from_env.stdout == result.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text('[[source]]\nname = "x"\nevery = "sometimes"\nfeeds = ["http://x.example/"]\n', encoding="utf-8")
    refused = ai4s_in_process("sources", "--sources", str(broken))
    assert refused.returncode == 2 and "key 'every' = 'sometimes'" in refused.stderr and refused.stdout == ""


def test_export_writes_the_on_topic_articles_or_all_of_them(
    corpus: str, scorer: RelevanceScorer, tmp_path: Path
) -> None:
    result = ai4s_in_process("export", "--db", corpus)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["url"] for line in result.stdout.splitlines()] == on_topic_urls(scorer)
    out = tmp_path / "all.jsonl"
    written = ai4s_in_process("export", "--db", corpus, "--all", "--out", str(out))
    assert written.returncode == 0 and written.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(corpus_texts()) and written.stderr == (
        f"database: {corpus}\n{len(lines)} articles written to {out}\n"
    )
    unknown = ai4s_in_process("export", "--db", corpus, "--format", "csv")
    assert unknown.returncode == 2 and "unknown format 'csv' (supported: jsonl)" in unknown.stderr


def test_rescore_applies_the_profile_given(tmp_path: Path, scorer: RelevanceScorer) -> None:
    url = f"sqlite:///{tmp_path / 'flipped.sqlite3'}"
    with Database(url) as database:
        store_corpus(database, scorer, flip=True)
    total, relevant = len(corpus_texts()), len(on_topic_urls(scorer))
    result = ai4s_in_process("rescore", "--db", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{total} scored, {relevant} now relevant, {total - relevant} now off-topic\n"
    assert [
        json.loads(line)["url"] for line in ai4s_in_process("export", "--db", url).stdout.splitlines()
    ] == on_topic_urls(scorer)
    broken = tmp_path / "topics.toml"
    broken.write_text("[scoring]\nthreshold = 0.5\n", encoding="utf-8")
    refused = ai4s_in_process("rescore", "--db", url, "--profile", str(broken))
    assert refused.returncode == 2 and "no [[term]] entries" in refused.stderr


def test_stories_and_stats_count_the_corpus(corpus: str, scorer: RelevanceScorer) -> None:
    with Database(corpus) as database, database.session() as session:
        stories = recent_stories(session, limit=100)
    listing = ai4s_in_process("stories", "--db", corpus, "--limit", "100")
    assert listing.returncode == 0, listing.stderr
    assert f"{len(stories)} most recent stories" in listing.stdout
    assert all(story.representative.url in listing.stdout for story in stories)
    stats = ai4s_in_process("stats", "--db", corpus)
    assert stats.returncode == 0, stats.stderr
    assert re.search(rf"│ articles\W+{len(on_topic_urls(scorer))} │", stats.stdout), stats.stdout
    assert stats.stderr == f"database: {corpus}\n"  # named once, on standard error


def test_jobs_shows_each_configured_source(sources_file: Path, corpus: str) -> None:
    result = ai4s_in_process("jobs", "--sources", str(sources_file), "--db", corpus)
    assert result.returncode == 0, result.stderr
    assert "feedsite" in result.stdout and "cronsite" in result.stdout
    assert result.stdout.count("not scheduled (daemon never started)") == 2
    missing = ai4s_in_process("jobs", "--sources", str(sources_file.with_name("none.toml")), "--db", corpus)
    assert missing.returncode == 2 and "cannot read sources file" in missing.stderr


def test_digest_prints_the_new_stories_and_refuses_contradictions(corpus: str, scorer: RelevanceScorer) -> None:
    result = ai4s_in_process("digest", "--db", corpus, "--format", "json")
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    with Database(corpus) as database, database.session() as session:
        stories = recent_stories(session, limit=100)
    assert digest["counts"]["stories"] == len(stories) > 0
    assert result.stderr.startswith(
        f"database: {corpus}\ndigest 1 (default): {len(stories)} stories ({len(stories)} new, 0 grown)"
    )
    replayed = ai4s_in_process("digest", "--db", corpus, "--replay", "1", "--format", "json")
    assert replayed.returncode == 0 and json.loads(replayed.stdout) == digest
    for args, message in [
        (("--since", "2d", "--since-last"), "--since and --since-last exclude each other"),
        (("--format", "pdf"), "unknown format 'pdf'"),
        (("--replay", "99"), "no digest 99 in this database"),
        (("--since", "yesterday"), "--since expects a duration"),  # a usage mistake (issue 16): 2, as the others
    ]:
        refused = ai4s_in_process("digest", "--db", corpus, *args)
        assert refused.returncode == 2 and message in refused.stderr, args


def test_topics_eval_reports_and_saves_a_calibrated_threshold(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    for number, text in enumerate(corpus_texts()):
        label = "relevant" if text.source == "seeds" else "negative"
        item = {"id": f"t{number}", "lang": text.language, "label": label, "title": text.title, "body": text.text}
        (labelled / f"t{number}.json").write_text(json.dumps(item), encoding="utf-8")
    profile = tmp_path / "topics.toml"
    shutil.copy(DEFAULT_PROFILE, profile)
    result = ai4s_in_process("topics", "eval", "--profile", str(profile), "--labelled", str(labelled))
    assert result.returncode == 0, result.stderr
    assert f"relevance at threshold {load_profile(profile).scoring.threshold}" in result.stdout
    assert all(part in result.stdout for part in ("tuning", "held out", "all"))
    bias = load_profile(profile).scoring.bias
    written = ai4s_in_process(
        "topics", "eval", "--profile", str(profile), "--labelled", str(labelled), "--calibrate", "--write"
    )
    assert written.returncode == 0, written.stderr
    saved = load_profile(profile).scoring
    assert "threshold calibrated on the tuning part: " in written.stdout
    assert f"saved in {profile}: bias {bias} -> {saved.bias}, threshold 0.5" in written.stdout
    assert saved.threshold == 0.5 and "relevance at threshold 0.5" in written.stdout
    missing = ai4s_in_process("topics", "eval", "--profile", str(profile), "--labelled", str(tmp_path / "none"))
    assert missing.returncode == 2 and "no folder of labelled texts at" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = ai4s_in_process("topics", "eval", "--profile", str(profile), "--labelled", str(tmp_path / "empty"))
    assert empty.returncode == 2 and "no labelled texts (*.json) in" in empty.stderr


def test_seeds_add_adds_a_text_file_once(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    article = tmp_path / "article.txt"
    article.write_text(corpus_texts()[0].text, encoding="utf-8")
    added = ai4s_in_process("seeds", "add", str(article), "--seeds", str(seeds))
    assert added.returncode == 0, added.stderr
    (path,) = seeds.glob("000_*.txt")
    assert f"added {path}; now run: ai4s topics build" in added.stdout.replace("\n", "")
    again = ai4s_in_process("seeds", "add", str(article), "--seeds", str(seeds))
    assert again.returncode == 2 and "this seed is already there" in again.stderr
    assert len(list(seeds.iterdir())) == 1
