"""Scoring cost benchmark: relevance scoring per article next to trafilatura's extraction of the
same pages, in the same run, as a ratio.

    python3 benchmarks/scoring_cost.py [--pages N] [--corpus DIR]

Reads N real pages of the test corpus (``../shared/corpus`` next to the project, or
``$AI4S_TEST_CORPUS``), extracts each with :func:`crawler.text.extract.extract_article` (timed), then
scores each extracted article with the shipped topic profile (timed), and prints ms per
article for both and their ratio. Both run in this one process, one after the other.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from crawler.relevance.profile import RelevanceScorer, load_profile  # noqa: E402
from crawler.text.extract import ExtractedArticle, extract_article, warm_up  # noqa: E402


def corpus_pages(corpus: Path, limit: int) -> list[tuple[str, bytes, str]]:
    """(url, bytes, charset) of up to ``limit`` corpus pages, in a fixed order."""
    pages = []
    for meta_path in sorted(corpus.glob("*/*.json")):
        if meta_path.parent.name == "relevance":
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        html_path = meta_path.with_name(meta.get("html_file") or meta_path.name[:-5] + ".html.gz")
        if not html_path.is_file():
            continue
        pages.append(
            (
                meta.get("url") or f"http://127.0.0.1/{meta_path.stem}.html",
                gzip.decompress(html_path.read_bytes()),
                meta["encoding"],
            )
        )
        if len(pages) >= limit:
            break
    return pages


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("AI4S_TEST_CORPUS") or PROJECT_ROOT.parent / "shared" / "corpus"),
    )
    args = parser.parse_args()
    if not (args.corpus / "index.jsonl").is_file():
        sys.exit(f"this benchmark needs the test corpus: none at {args.corpus} (use --corpus or AI4S_TEST_CORPUS)")
    pages = corpus_pages(args.corpus, args.pages)
    warm_up()
    scorer = RelevanceScorer(load_profile())
    extract_ms, articles = [], []
    for url, body, charset in pages:
        start = time.perf_counter()
        result = extract_article(body, url, charset, "text/html")
        extract_ms.append(1000 * (time.perf_counter() - start))
        if isinstance(result, ExtractedArticle):
            articles.append(result)
    score_ms = []
    for article in articles:
        start = time.perf_counter()
        scorer.score(article.title, article.text)
        score_ms.append(1000 * (time.perf_counter() - start))
    mean_extract, mean_score = statistics.mean(extract_ms), statistics.mean(score_ms)
    mean_chars = statistics.mean(len(a.text) for a in articles)
    print(f"pages {len(pages)}, articles {len(articles)}, mean article text {mean_chars:.0f} characters")
    print(f"{'step':<22}{'mean ms':>10}{'median ms':>11}{'p95 ms':>9}")
    for name, values in (("extraction", extract_ms), ("relevance scoring", score_ms)):
        p95 = sorted(values)[int(0.95 * (len(values) - 1))]
        print(f"{name:<22}{statistics.mean(values):>10.2f}{statistics.median(values):>11.2f}{p95:>9.2f}")
    print(f"scoring / extraction: {mean_score / mean_extract:.3f}")


if __name__ == "__main__":
    main()
