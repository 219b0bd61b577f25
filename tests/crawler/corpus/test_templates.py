"""A source's template, learned while its articles are stored: real labelled texts of the test corpus
(different stories) wrapped in one site template whose related-headline, promo and copyright lines
extraction keeps, stored through the store pipeline into a real SQLite corpus, in the order a crawl
stores them. What a user checks: the stored texts hold the story and not the template, the first
articles too; different stories on one template are different stories; a short article on a heavy
template survives; the credit line is read before anything is removed."""

from __future__ import annotations

import asyncio
import html
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from crawler.config import Config
from crawler.corpus.reprocess import reprocess_articles
from crawler.corpus.templates import RARE_BLOCKS_KEPT
from crawler.crawl.items import PageItem
from crawler.crawl.pipelines import ExtractedPage, StorePipeline
from crawler.crawl.pool import ProcessedPage, process_page
from crawler.relevance.profile import RelevanceScorer
from crawler.stories.fingerprint import fingerprint
from crawler.text.template_blocks import TEMPLATE_SENTENCE_PAGES, block_key, is_sentence
from storage import Database
from storage.models import Article, Story, TemplateBlock, utcnow
from tests.crawler.crawl.components import corpus, make_config, open_crawl
from tests.textmetrics import token_f1

SITE = "http://127.0.0.40:8040"
#: A heavy site template: lines that extraction keeps with the article, on every page of the site ("Related:"
#: lines would not do: extraction leaves a related label with its headline out of every page by itself).
TEMPLATE_LINES = [
    "Trending: How machine learning is changing the search for new battery materials",
    "Trending: The race to build a weather model that runs on a laptop",
    "Trending: Ten questions about the future of automated laboratories",
    "Trending: Inside the supercomputer centre that trains science models",
    "Sign up for our science newsletter and get the week's best stories every Friday morning.",
    "Copyright 2026 Example Science Daily. All rights reserved. Reproduction without permission is prohibited.",
]


#: Articles of a source after which every line of its template is learned: its long lines (sentences, such as the
#: copyright line) need more articles than its short ones.
TEMPLATE_LEARNED = TEMPLATE_SENTENCE_PAGES


def _labelled_texts(corpus_dir: Path, prefix: str, count: int) -> list[dict[str, str]]:
    folder = corpus_dir / "relevance"
    files = sorted(folder.glob(f"{prefix}*.json"))
    if len(files) < count:
        pytest.skip(f"the labelled texts of ../shared/corpus/relevance are missing ({folder})")
    return [json.loads(path.read_text(encoding="utf-8")) for path in files[:count]]


def _page(title: str, body: str, template: list[str], credit: str = "") -> bytes:
    paragraphs = [credit] if credit else []
    paragraphs += [p for p in body.split("\n") if p.strip()] or [body]
    inner = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    inner += "".join(f"<p>{html.escape(line)}</p>" for line in template)
    return (
        f"<!doctype html><html lang='en'><head><title>{html.escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{html.escape(title)}</h1>{inner}</article></body></html>"
    ).encode()


def _store(pipeline: StorePipeline, url: str, body: bytes) -> ExtractedPage:
    page = PageItem("alpha", url, url, 200, body, "text/html; charset=utf-8", "utf-8", "listing")
    processed = process_page(page.body, page.url, page.header_charset, page.content_type)
    item = ExtractedPage(page, processed)
    asyncio.run(pipeline.process_item(item))  # type: ignore[arg-type]
    return item


def _store_site(config: Config, texts: list[dict[str, str]], path: str, credit: str = "") -> None:
    """Store ``texts`` as a crawl of one site does, each wrapped in the site's template, at ``path`` numbered."""
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        for number, text in enumerate(texts):
            page = _page(text["title"], text["body"], TEMPLATE_LINES, credit)
            _store(store, SITE + path.format(number), page)


def test_the_template_is_learned_and_removed_from_every_article_the_first_ones_too(
    tmp_path: Path, corpus_dir: Path
) -> None:
    texts = _labelled_texts(corpus_dir, "dev_r_en", 6)
    config = make_config(tmp_path)
    _store_site(config, texts, "/article/story-{}")
    with corpus(config) as session:
        articles = session.execute(select(Article).order_by(Article.id)).scalars().all()
        stories = session.execute(select(func.count(Story.id))).scalar_one()
        template_rows = session.execute(
            select(TemplateBlock.sample).where(TemplateBlock.pages >= 3, TemplateBlock.sample.is_not(None))
        ).scalars()
        learned = set(template_rows)
    assert len(articles) == len(texts)
    for article, text in zip(articles, texts, strict=True):
        # exactly what extraction gives of the same page without its template: the story, all of it
        without_template = process_page(_page(text["title"], text["body"], []), article.url, "utf-8", "text/html")
        assert article.text == without_template.result.text  # type: ignore[union-attr]
        assert token_f1(article.text, text["body"]) > 0.9
    assert stories == len(texts)  # six stories sharing one template are six stories
    assert learned == set(TEMPLATE_LINES)


def _store_hinted(pipeline: StorePipeline, url: str, body: bytes) -> ProcessedPage:
    """Store a page as a crawl does: extracted and fingerprinted without the template the crawl knows so far."""
    page = PageItem("alpha", url, url, 200, body, "text/html; charset=utf-8", "utf-8", "listing")
    known = pipeline.context.template_hints.get("alpha", frozenset())
    processed = process_page(page.body, page.url, page.header_charset, page.content_type, known)
    item = ExtractedPage(page, processed)
    asyncio.run(pipeline.process_item(item))  # type: ignore[arg-type]
    return processed


def _removed(processed: ProcessedPage) -> frozenset[int]:
    """The template blocks the worker took out of the text it fingerprinted."""
    assert processed.cleaned is not None
    return processed.cleaned.removed


def test_the_workers_fingerprint_the_text_without_the_template_the_crawl_knows(
    tmp_path: Path, corpus_dir: Path
) -> None:
    texts = _labelled_texts(corpus_dir, "dev_r_en", 7)
    config = make_config(tmp_path)
    template = {block_key(line) for line in TEMPLATE_LINES}
    sentences = {block_key(line) for line in TEMPLATE_LINES if is_sentence(line)}
    assert sentences  # the copyright line
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        first = [
            _store_hinted(store, f"{SITE}/a/{number}", _page(text["title"], text["body"], TEMPLATE_LINES))
            for number, text in enumerate(texts[:3])
        ]
    # the first page is fingerprinted whole; from the third, the workers know the template the crawl learned (its
    # lines; its sentences from the fifth)
    assert _removed(first[0]) == frozenset()
    assert _removed(first[2]) == template - sentences
    with open_crawl(config) as crawler:  # the next crawl knows the template from its start
        store = StorePipeline.from_crawler(crawler)
        later = [
            _store_hinted(store, f"{SITE}/b/{number}", _page(text["title"], text["body"], TEMPLATE_LINES))
            for number, text in enumerate(texts[3:6])
        ]
        # a worker told of a block that is not template (a stale or wrong hint): the store fingerprints again
        text = texts[5]
        own = block_key(text["body"].split("\n")[0])
        store.context.template_hints["alpha"] = frozenset(template | {own})
        # (with another story after it: the same text again would be the same article, not stored twice)
        wrong = _store_hinted(
            store, f"{SITE}/c/0", _page(text["title"], text["body"] + "\n" + texts[6]["body"], TEMPLATE_LINES)
        )
    assert _removed(later[0]) == template - sentences and all(
        _removed(processed) == template for processed in later[1:]
    )
    assert own in _removed(wrong)
    with corpus(config) as session:
        articles = session.execute(select(Article).order_by(Article.id)).scalars().all()
    assert len(articles) == len(texts)
    for article in articles:  # every stored fingerprint is that of the stored text, cleaned of the template
        assert not any(line in article.text for line in TEMPLATE_LINES)
        expected = fingerprint(article.text)
        assert expected is not None and article.minhash == expected.signature


def test_a_line_some_articles_share_stays_in_their_text_while_the_template_goes(
    tmp_path: Path, corpus_dir: Path
) -> None:
    # Three articles of a series open with the series' intro, three others quote one statement; the site's
    # template is on all ten. Before, any line on three articles was template, and the series' intro and the
    # quoted statement were cut out of all six articles, the ones stored earlier too.
    texts = _labelled_texts(corpus_dir, "dev_r_en", 10)
    intro = (
        "This story is part of Frontiers, our year-long series on how machine learning is changing laboratory science."
    )
    quote = (
        "\u201cWe take these concerns extremely seriously and are reviewing the findings with independent experts,"
        "\u201d a spokesperson for the ministry said in a statement."
    )
    series, quoting = (1, 4, 7), (2, 5, 8)
    config = make_config(tmp_path)
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        for number, text in enumerate(texts):
            paragraphs = [p for p in text["body"].split("\n") if p.strip()]
            if number in series:
                paragraphs.insert(0, intro)
            if number in quoting:
                paragraphs.insert(2, quote)
            _store(store, f"{SITE}/news/{number}.html", _page(text["title"], "\n".join(paragraphs), TEMPLATE_LINES))
    with corpus(config) as session:
        stored = {row.url: row.text for row in session.execute(select(Article.url, Article.text))}
        stories = session.execute(select(func.count(Story.id))).scalar_one()
    texts_by_number = [stored[f"{SITE}/news/{number}.html"] for number in range(len(texts))]
    assert [number for number, text in enumerate(texts_by_number) if intro in text] == list(series)
    assert [number for number, text in enumerate(texts_by_number) if quote in text] == list(quoting)
    assert not any(line in text for text in texts_by_number for line in TEMPLATE_LINES)
    assert stories == len(texts)


def test_a_short_article_on_a_heavy_template_survives(tmp_path: Path, corpus_dir: Path) -> None:
    texts = _labelled_texts(corpus_dir, "dev_n_en", 4)
    config = make_config(tmp_path)
    short = "Researchers opened a new computing centre on Monday. It will train models for climate science."
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        for number, text in enumerate(texts):
            _store(store, f"{SITE}/p/story-{number}", _page(text["title"], text["body"], TEMPLATE_LINES))
        item = _store(store, f"{SITE}/p/short-one", _page("A short one", short, TEMPLATE_LINES))
    with corpus(config) as session:
        stored = session.execute(select(Article.text).where(Article.url == f"{SITE}/p/short-one")).scalar_one()
    assert item.relevance is not None
    assert short in stored and not any(line in stored for line in TEMPLATE_LINES)


def test_the_credit_line_is_read_before_the_template_is_removed(tmp_path: Path, corpus_dir: Path) -> None:
    texts = _labelled_texts(corpus_dir, "dev_r_en", 4)
    config = make_config(tmp_path)
    credit = "Source: Xinhua"
    _store_site(config, texts, "/a/{}x/", credit)
    with corpus(config) as session:
        rows = session.execute(select(Article.credited_source, Article.text)).all()
    assert [row.credited_source for row in rows] == ["Xinhua"] * 4
    assert all(credit not in row.text for row in rows)  # on every page of the site, the line is template


def test_a_crawl_forgets_the_blocks_that_never_recurred_and_keeps_the_template(
    tmp_path: Path, corpus_dir: Path
) -> None:
    texts = _labelled_texts(corpus_dir, "dev_r_en", TEMPLATE_LEARNED)
    config = make_config(tmp_path)
    _store_site(config, texts, "/article/story-{}")
    with corpus(config) as session:
        rare = session.execute(select(func.count()).where(TemplateBlock.pages < 3)).scalar_one()
        session.execute(update(TemplateBlock).values(last_seen=utcnow() - RARE_BLOCKS_KEPT - timedelta(days=1)))
    assert rare > 0
    with open_crawl(config):  # a crawl that stores nothing still forgets, when it ends
        pass
    with corpus(config) as session:
        kept = session.execute(select(TemplateBlock.pages)).scalars().all()
    assert len(kept) == len(TEMPLATE_LINES) and min(kept) >= 3


def test_reprocessing_cleans_an_article_of_its_source_template_from_the_kept_page(
    tmp_path: Path, corpus_dir: Path
) -> None:
    texts = _labelled_texts(corpus_dir, "dev_r_en", TEMPLATE_LEARNED)
    config = make_config(tmp_path)
    _store_site(config, texts, "/article/story-{}")
    with corpus(config) as session:  # as an older release stored it: with its template
        first = session.execute(select(Article).order_by(Article.id).limit(1)).scalar_one()
        first.text = first.text + "\n" + "\n".join(TEMPLATE_LINES)
        cleaned_before = first.id
    with Database(config.db_url) as database:
        report = reprocess_articles(database, RelevanceScorer(config.profile), workers=1)
    assert report.changed == 1
    with corpus(config) as session:
        text = session.execute(select(Article.text).where(Article.id == cleaned_before)).scalar_one()
    assert not any(line in text for line in TEMPLATE_LINES) and token_f1(text, texts[0]["body"]) > 0.9
