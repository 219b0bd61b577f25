"""Real site templates: extraction F1 per template (trafilatura's defaults against the product), and what
two crawls and the daemon's rounds make of the template web.

    python3 benchmarks/template_web.py [--corpus DIR] [--seed S] [--json] [--no-crawl] [--daemon-rounds N]

Builds the test suite's template web (``tests/templateweb.py``: eight loopback sites, each wrapping
all its articles, labelled texts of ``relevance/``, in one real page of the test corpus), publishes
every held-back article, fetches every article page over HTTP from the served web (so the charset
handling is real: one site serves GB18030) and compares with the inserted text (token F1 of
``tests/textmetrics.py``, CJK characters as tokens):

(a) ``trafilatura.extract(body, url=url)`` with its default options (the baseline), its title by
    ``trafilatura.extract_metadata``;
(b) the product: ``crawler.text.extract.extract_article(body, url, header_charset, content_type)``.

Prints one row per template (its site, URL shape, whether it is heavy, pages, mean F1 and title
accuracy of both) and the overall means; ``--json`` prints the same figures, and every page's, as
JSON instead.

Then, unless ``--no-crawl``, on a fresh web of the same seed: ``ai4s crawl`` of every site into a new
SQLite file, the held-back articles published, a second crawl; and reports what a user checks of the
corpus: the stored text's F1 per template (after template learning, against the same baseline), story
pairwise precision and recall against the true stories, the article pages stored by the first crawl that
the second requested again, the template table's size per source, the cost of template learning per page
(the stored articles' extracted texts replayed through cleaning and counting on a fresh database, in ms)
and the raw HTML kept per article. Last, unless ``--daemon-rounds 0``, ``ai4s daemon`` polls a fresh web
every 2 s until every source has run that many rounds (held-back articles published half way), and the
article pages requested after they were stored are counted. Exits 2 without the corpus.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

import trafilatura  # noqa: E402
from bench_support import resolve_corpus  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from crawler.corpus.templates import clean_new_text, learn_blocks  # noqa: E402
from crawler.text.extract import ExtractedArticle, extract_article, warm_up  # noqa: E402
from crawler.text.template_blocks import KeyedBlocks  # noqa: E402
from crawler.text.urls import canonical_url  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import Article, ArticlePage, CrawlRun, Source, TemplateBlock  # noqa: E402
from storage.repository import ensure_source  # noqa: E402
from tests.templateweb import FAST_SETTINGS, TemplateArticle, TemplateWeb, squash  # noqa: E402
from tests.templateweb_checks import (  # noqa: E402
    fetch,
    mean_by_site,
    requested_after_stored,
    requested_again,
    stored_articles,
    story_scores,
    text_scores,
)
from tests.textmetrics import token_f1  # noqa: E402


@dataclass(frozen=True)
class PageResult:
    """The extraction figures of one article page."""

    url: str
    site: str
    template: str
    language: str
    baseline_f1: float
    product_f1: float
    baseline_title: bool
    product_title: bool
    product_outcome: str
    """``article``, or the product's reason for finding none."""


def same_title(extracted: str | None, truth: str) -> bool:
    """Whether an extracted title is the inserted one (white space, width and case aside)."""
    return bool(extracted) and squash(extracted or "").casefold() == squash(truth).casefold()


def measure_page(article: TemplateArticle) -> PageResult:
    """Fetch one article page and extract it both ways."""
    body, headers = fetch(article.url)
    baseline_text = trafilatura.extract(body, url=article.url) or ""
    baseline_tree = trafilatura.load_html(body)
    baseline_title = (
        trafilatura.extract_metadata(baseline_tree, default_url=article.url).title
        if baseline_tree is not None
        else None
    )
    product = extract_article(body, article.url, headers.get_content_charset(), headers.get("Content-Type"))
    extracted = isinstance(product, ExtractedArticle)
    return PageResult(
        url=article.url,
        site=article.site,
        template=article.template,
        language=article.language,
        baseline_f1=token_f1(baseline_text, article.body),
        product_f1=token_f1(product.text, article.body) if extracted else 0.0,
        baseline_title=same_title(baseline_title, article.title),
        product_title=extracted and same_title(product.title, article.title),
        product_outcome="article" if extracted else product.reason,
    )


def measure_extraction(web: TemplateWeb) -> list[PageResult]:
    """The extraction figures of every article page the (started) web serves now."""
    warm_up()
    return [measure_page(article) for article in web.articles]


def summarise(results: list[PageResult], web: TemplateWeb) -> list[dict]:
    """One row per template (with its site's facts), then the overall row."""
    rows = []
    for site in web.sites.values():
        mine = [r for r in results if r.site == site.name]
        rows.append(
            {"template": site.template, "site": site.name, "shape": site.shape, "heavy": site.heavy, **_means(mine)}
        )
    rows.append({"template": "all", "site": "", "shape": "", "heavy": None, **_means(results)})
    return rows


def _means(results: list[PageResult]) -> dict:
    return {
        "pages": len(results),
        "baseline_f1": statistics.mean(r.baseline_f1 for r in results),
        "product_f1": statistics.mean(r.product_f1 for r in results),
        "product_min_f1": min(r.product_f1 for r in results),
        "baseline_title": statistics.mean(r.baseline_title for r in results),
        "product_title": statistics.mean(r.product_title for r in results),
        "product_no_article": sum(r.product_outcome != "article" for r in results),
    }


def print_table(rows: list[dict]) -> None:
    """The rows as a text table."""
    print(
        f"{'template':<40}{'site':<10}{'shape':<16}{'heavy':<7}{'pages':>6}"
        f"{'F1 traf.':>10}{'F1 ai4s':>9}{'min ai4s':>10}{'title traf.':>13}{'title ai4s':>12}{'none':>6}"
    )
    for row in rows:
        heavy = "" if row["heavy"] is None else ("yes" if row["heavy"] else "no")
        print(
            f"{row['template']:<40}{row['site']:<10}{row['shape']:<16}{heavy:<7}{row['pages']:>6}"
            f"{row['baseline_f1']:>10.3f}{row['product_f1']:>9.3f}{row['product_min_f1']:>10.3f}"
            f"{row['baseline_title']:>13.2f}{row['product_title']:>12.2f}{row['product_no_article']:>6}"
        )


# -- crawls ----------------------------------------------------------------------------------------
def crawl(sources: Path, db_url: str) -> float:
    """One ``ai4s crawl`` of ``sources`` into ``db_url`` (a subprocess: Scrapy's reactor runs once); its seconds."""
    started = time.monotonic()
    command = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--db", db_url, *FAST_SETTINGS]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"ai4s crawl failed ({result.returncode}): {result.stderr[-2000:]}")
    return time.monotonic() - started


def template_tables(db_url: str) -> dict[str, dict[str, int]]:
    """Per source: blocks counted, blocks that are template, stored articles."""
    with Database(db_url) as database, database.session() as session:
        rows = session.execute(
            select(
                Source.name,
                func.count(TemplateBlock.block_key),
                func.count(TemplateBlock.block_key).filter(TemplateBlock.template_since.is_not(None)),
            )
            .join(TemplateBlock, TemplateBlock.source_id == Source.id)
            .group_by(Source.name)
        ).all()
        articles = dict(
            session.execute(
                select(Source.name, func.count(Article.id))
                .join(Article, Article.source_id == Source.id)
                .group_by(Source.name)
            ).all()
        )
    return {
        name: {"blocks": blocks, "template": template, "articles": articles.get(name, 0)}
        for name, blocks, template in rows
    }


def learning_cost(db_url: str, workdir: Path) -> float:
    """Mean ms per page of template learning (cleaning a new text, counting its blocks), replayed on a fresh
    database with the extracted texts the crawl stored, source by source in the order they were stored."""
    with Database(db_url) as database, database.session() as session:
        pages = session.execute(select(Source.name, Article.id, Article.text).join(Source).order_by(Article.id)).all()
    spent = 0.0
    with Database(f"sqlite:///{workdir / 'replay.sqlite3'}") as replay:
        for name, article_id, text in pages:
            with replay.session() as session, session.begin():
                source_id = ensure_source(session, name)
                started = time.perf_counter()
                blocks = KeyedBlocks.of(text)
                clean_new_text(session, source_id, blocks)
                learn_blocks(session, source_id, article_id, blocks)
                spent += time.perf_counter() - started
    return 1000 * spent / max(1, len(pages))


def raw_html_per_article(db_url: str) -> float | None:
    """Mean bytes of kept (compressed) HTML per stored article."""
    with Database(db_url) as database, database.session() as session:
        total, count = session.execute(select(func.sum(func.length(ArticlePage.body)), func.count())).one()
    return (total or 0) / count if count else None


def measure_crawls(corpus: Path, seed: int, workdir: Path) -> dict:
    """Two crawls of a fresh template web, the held-back articles published in between: the corpus's figures."""
    db_url = f"sqlite:///{workdir / 'two-crawls.sqlite3'}"
    with TemplateWeb(corpus, seed=seed) as web:
        sources = workdir / "sources.toml"
        sources.write_text(web.sources_toml(), encoding="utf-8")
        first_seconds = crawl(sources, db_url)
        stored_first = stored_articles(db_url)
        requests_first = web.article_requests()
        web.publish_more(len(web.held_back))
        second_seconds = crawl(sources, db_url)
        again = requested_again(requests_first, web.article_requests(), stored_first)
        stored = stored_articles(db_url)
        articles = web.articles
        baseline: dict[str, list[float]] = {}
        for article in articles:
            body, _ = fetch(article.url)
            baseline.setdefault(article.site, []).append(
                token_f1(trafilatura.extract(body, url=article.url) or "", article.body)
            )
    scores = text_scores(articles, stored)
    product = mean_by_site(scores)
    stories = story_scores(articles, stored)
    return {
        "articles": len(articles),
        "stored": sum(1 for a in articles if stored.get(canonical_url(a.url))),
        "crawl_seconds": [round(first_seconds, 1), round(second_seconds, 1)],
        "stored_f1": {site: round(value, 3) for site, value in product.items()},
        "baseline_f1": {site: round(statistics.mean(values), 3) for site, values in baseline.items()},
        "stored_f1_all": round(statistics.mean(s.f1 for s in scores), 3),
        "baseline_f1_all": round(statistics.mean(v for values in baseline.values() for v in values), 3),
        "story_precision": round(stories.precision, 3),
        "story_recall": round(stories.recall, 3),
        "stories_merged_pairs": len(stories.merged),
        "stories_missed_pairs": len(stories.missed),
        "requested_again_two_crawls": sum(again.values()),
        "template_tables": template_tables(db_url),
        "learning_ms_per_page": round(learning_cost(db_url, workdir), 2),
        "raw_html_bytes_per_article": raw_html_per_article(db_url),
    }


def measure_daemon(corpus: Path, seed: int, rounds: int, workdir: Path) -> dict:
    """``ai4s daemon`` polling a fresh web every 2 s for ``rounds`` rounds of every source (held-back articles
    published half way): the article pages requested after they were stored."""
    db_url = f"sqlite:///{workdir / 'daemon.sqlite3'}"
    with TemplateWeb(corpus, seed=seed) as web:
        sources = workdir / "daemon-sources.toml"
        sources.write_text(web.sources_toml(every="2s"), encoding="utf-8")
        command = [
            sys.executable, "-m", "crawler", "daemon", "--sources", str(sources), "--db", db_url,
            "--log-dir", str(workdir / "logs"), *FAST_SETTINGS,
        ]  # fmt: skip
        started = time.monotonic()
        with (workdir / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            published = False
            while (done := min_rounds(db_url, list(web.sites))) < rounds:
                if not published and done >= rounds // 2:
                    web.publish_more(len(web.held_back))
                    published = True
                if daemon.poll() is not None:
                    raise RuntimeError(f"the daemon stopped ({daemon.returncode}); see {workdir / 'daemon.log'}")
                time.sleep(1)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
        seconds = time.monotonic() - started
        again = requested_after_stored(web, db_url)
    return {
        "rounds": rounds,
        "seconds": round(seconds),
        "stored": len({article.id for article in stored_articles(db_url).values()}),
        "requested_again": len(again),
        "requested_again_pages": again,
    }


def min_rounds(db_url: str, names: list[str]) -> int:
    """The fewest finished crawl runs of any of the sources ``names``."""
    try:
        with Database(db_url) as database, database.session() as session:
            rows = dict(
                session.execute(
                    select(CrawlRun.sources, func.count()).where(CrawlRun.status == "ok").group_by(CrawlRun.sources)
                ).all()
            )
    except OperationalError:  # the daemon has not made its tables yet
        return 0
    return min(rows.get(name, 0) for name in names)


def print_crawls(figures: dict) -> None:
    """The crawl figures as text."""
    print(
        f"\nTwo crawls ({figures['crawl_seconds'][0]} s, {figures['crawl_seconds'][1]} s): "
        f"{figures['stored']} of {figures['articles']} articles stored"
    )
    print(f"{'site':<10}{'F1 traf.':>10}{'F1 stored':>11}{'blocks':>8}{'template':>10}{'articles':>10}")
    for site, value in figures["stored_f1"].items():
        table = figures["template_tables"].get(site, {"blocks": 0, "template": 0, "articles": 0})
        print(
            f"{site:<10}{figures['baseline_f1'][site]:>10.3f}{value:>11.3f}"
            f"{table['blocks']:>8}{table['template']:>10}{table['articles']:>10}"
        )
    print(f"{'all':<10}{figures['baseline_f1_all']:>10.3f}{figures['stored_f1_all']:>11.3f}")
    print(
        f"stories: pairwise precision {figures['story_precision']:.3f}, recall {figures['story_recall']:.3f} "
        f"({figures['stories_merged_pairs']} pairs merged wrongly, {figures['stories_missed_pairs']} copies apart)"
    )
    print(f"article pages requested again by the second crawl: {figures['requested_again_two_crawls']}")
    print(f"template learning: {figures['learning_ms_per_page']} ms per page")
    raw = figures["raw_html_bytes_per_article"]
    print(f"raw HTML kept: {raw / 1024:.1f} KiB per article (compressed)" if raw else "raw HTML kept: none")


def main() -> None:
    """Build the web, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="the test corpus (default: $AI4S_TEST_CORPUS, else ../shared/corpus)")
    parser.add_argument("--seed", type=int, default=0, help="which templates and texts (default 0)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-crawl", action="store_true", help="extraction figures only, no crawl")
    parser.add_argument("--daemon-rounds", type=int, default=20, help="rounds of the daemon (0: none; default 20)")
    args = parser.parse_args()
    corpus = resolve_corpus(args.corpus)
    if not (corpus / "index.jsonl").is_file():
        print(
            f"this benchmark needs the test corpus: none at {corpus} (use --corpus or AI4S_TEST_CORPUS)",
            file=sys.stderr,
        )
        sys.exit(2)
    with TemplateWeb(corpus, seed=args.seed) as web:
        web.publish_more(len(web.held_back))
        results = measure_extraction(web)
        rows = summarise(results, web)
    if not args.json:
        print_table(rows)
    crawls = daemon = None
    with tempfile.TemporaryDirectory(prefix="ai4s-template-web-") as workdir:
        if not args.no_crawl:
            crawls = measure_crawls(corpus, args.seed, Path(workdir))
            if not args.json:
                print_crawls(crawls)
        if not args.no_crawl and args.daemon_rounds:
            daemon = measure_daemon(corpus, args.seed, args.daemon_rounds, Path(workdir))
            if not args.json:
                print(
                    f"daemon: {daemon['rounds']} rounds of every source in {daemon['seconds']} s, "
                    f"{daemon['stored']} articles stored, article pages requested again: {daemon['requested_again']}"
                    + (f" ({', '.join(daemon['requested_again_pages'][:10])})" if daemon["requested_again"] else "")
                )
    if args.json:
        pages = [asdict(r) for r in results]
        print(json.dumps({"seed": args.seed, "templates": rows, "pages": pages, "crawls": crawls, "daemon": daemon}))


if __name__ == "__main__":
    main()
