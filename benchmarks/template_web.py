"""Extraction on real site templates: token F1 of trafilatura's defaults and of the product, per template.

    python3 benchmarks/template_web.py [--corpus DIR] [--seed S] [--json]

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
JSON instead. :func:`measure_extraction` is the part other figures (crawls) can be added next to.
Exits 2 without the corpus.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.request
from dataclasses import asdict, dataclass
from email.message import Message
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

import trafilatura  # noqa: E402
from bench_support import resolve_corpus  # noqa: E402

from crawler.text.extract import ExtractedArticle, extract_article, warm_up  # noqa: E402
from tests.templateweb import TemplateArticle, TemplateWeb, squash  # noqa: E402
from tests.textmetrics import token_f1  # noqa: E402

# No proxies from the environment: the sites are on loopback and must be asked directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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


def fetch(url: str) -> tuple[bytes, Message]:
    """Body and headers of a GET of ``url``."""
    with _OPENER.open(url, timeout=30) as response:
        return response.read(), response.headers


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


def main() -> None:
    """Build the web, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="the test corpus (default: $AI4S_TEST_CORPUS, else ../shared/corpus)")
    parser.add_argument("--seed", type=int, default=0, help="which templates and texts (default 0)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
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
    if args.json:
        print(json.dumps({"seed": args.seed, "templates": rows, "pages": [asdict(r) for r in results]}, indent=1))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
