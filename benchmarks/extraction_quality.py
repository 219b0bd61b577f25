"""Extraction quality on the test corpus: what :func:`crawler.text.extract.extract_article` gets right against the
ground truth of every page that has some (all sources but ``relevance``), so a change made for speed can be shown
not to cost quality.

    python3 benchmarks/extraction_quality.py [--corpus DIR] [--jobs N] [--limit N] [--json PATH]

Each page is extracted as the crawler serves it in tests (its bytes, the charset the truth names as the header's,
``text/html``). Printed, per source and over all:

* body token F1 (``tests/textmetrics.py``) on pages with a full body of truth; a page with no article counts 0;
* must-contain snippets found and must-not-contain snippets leaked (the trafilatura pages, which have only those);
* title accuracy (equal once case and spacing are folded) and title token F1, on titles from the dataset only;
* date accuracy: the extracted day equals the day of the truth (as written, in its own time zone);
* author accuracy: the extracted author's token F1 against the truth's authors (joined) is 0.5 or more.

Pages are extracted in ``--jobs`` processes (default 2); the figures do not depend on it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import resolve_corpus  # noqa: E402
from dateutil import parser as date_parser  # noqa: E402

from crawler.text.extract import ExtractedArticle, extract_article  # noqa: E402
from tests.textmetrics import token_f1  # noqa: E402

#: An extracted author matches the truth's authors from this token F1 on.
AUTHOR_MATCH_F1 = 0.5
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class PageScore:
    """What one page's extraction got right (``None``: the truth has nothing to compare with)."""

    source: str
    page_id: str
    extracted: bool
    body_f1: float | None
    must_found: int
    must_total: int
    leaked: int
    leak_total: int
    title_exact: bool | None
    title_f1: float | None
    date_right: bool | None
    author_right: bool | None
    cpu_ms: float


def folded(text: str) -> str:
    """Text with case and runs of spacing folded, for comparing titles."""
    return _SPACE.sub(" ", text).strip().casefold()


def truth_day(value: str | None) -> date | None:
    """The day of a truth date as written (``2005-5-7 21:23:57``, ISO 8601 with or without zone), or ``None``."""
    if not value:
        return None
    try:
        return date_parser.parse(value).date()
    except (ValueError, OverflowError):
        return None


def score_page(corpus: Path, source: str, page_id: str) -> PageScore:
    """Extract one corpus page and compare it with its truth."""
    truth = json.loads((corpus / source / f"{page_id}.json").read_text(encoding="utf-8"))
    body = gzip.decompress((corpus / source / truth["html_file"]).read_bytes())
    started = time.process_time()
    result = extract_article(body, truth["url"] or f"http://{source}.test/{page_id}", truth["encoding"], "text/html")
    cpu_ms = (time.process_time() - started) * 1000
    article = result if isinstance(result, ExtractedArticle) else None
    text = article.text if article else ""
    must, must_not = truth.get("must_contain") or [], truth.get("must_not_contain") or []
    title = (article.title if article else None) or ""
    dataset_title = truth["title"] if truth.get("title_origin") == "dataset" and truth.get("title") else None
    day = truth_day(truth.get("published"))
    authors = " ".join(truth.get("authors") or [])
    found_author = (article.author if article else None) or ""
    return PageScore(
        source=source,
        page_id=page_id,
        extracted=article is not None,
        body_f1=token_f1(text, truth["body"]) if truth.get("body") and truth.get("body_complete", True) else None,
        must_found=sum(snippet in text for snippet in must),
        must_total=len(must),
        leaked=sum(snippet in text for snippet in must_not),
        leak_total=len(must_not),
        title_exact=folded(title) == folded(dataset_title) if dataset_title else None,
        title_f1=token_f1(title, dataset_title) if dataset_title else None,
        date_right=(article is not None and article.published is not None and article.published.date() == day)
        if day
        else None,
        author_right=token_f1(found_author, authors) >= AUTHOR_MATCH_F1 if authors.strip() else None,
        cpu_ms=cpu_ms,
    )


def corpus_pages(corpus: Path, limit: int) -> list[tuple[str, str]]:
    """``(source, id)`` of every page with ground truth, in the index's order (``limit`` > 0: the first ones)."""
    pages = []
    for line in (corpus / "index.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["source"] != "relevance" and (corpus / entry["source"] / f"{entry['id']}.json").is_file():
            pages.append((entry["source"], entry["id"]))
    return pages[:limit] if limit > 0 else pages


def mean(values: list[float]) -> float | None:
    """The mean, or ``None`` for no values."""
    return sum(values) / len(values) if values else None


def share(flags: list[bool | None]) -> tuple[float | None, int]:
    """Share of true among the flags that are not ``None``, and how many there are."""
    known = [flag for flag in flags if flag is not None]
    return (sum(known) / len(known) if known else None), len(known)


def figures(scores: list[PageScore]) -> dict[str, float | int | None]:
    """The quality figures of a set of pages."""
    body = [s.body_f1 for s in scores if s.body_f1 is not None]
    title_share, titles = share([s.title_exact for s in scores])
    date_share, dates = share([s.date_right for s in scores])
    author_share, authors = share([s.author_right for s in scores])
    must_total, leak_total = sum(s.must_total for s in scores), sum(s.leak_total for s in scores)
    return {
        "pages": len(scores),
        "extracted": sum(s.extracted for s in scores),
        "body_f1": mean(body),
        "body_pages": len(body),
        "must_found": sum(s.must_found for s in scores) / must_total if must_total else None,
        "must_leaked": sum(s.leaked for s in scores) / leak_total if leak_total else None,
        "title_accuracy": title_share,
        "title_f1": mean([s.title_f1 for s in scores if s.title_f1 is not None]),
        "titles": titles,
        "date_accuracy": date_share,
        "dates": dates,
        "author_accuracy": author_share,
        "authors": authors,
        "cpu_ms_per_page": mean([s.cpu_ms for s in scores]),
    }


def cell(value: float | int | None, width: int = 7) -> str:
    """A figure for the table: a share or F1 to three places, a count as it is, ``-`` for none."""
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width}.3f}" if isinstance(value, float) else f"{value:>{width}}"


def print_table(by_source: dict[str, dict[str, float | int | None]]) -> None:
    """One line per source and one for all pages."""
    header = (
        f"{'source':<16} {'pages':>5} {'extr.':>5} {'body F1':>7} {'must':>7} {'leaked':>7} {'title':>7} "
        f"{'titleF1':>7} {'date':>7} {'author':>7} {'cpu ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, row in by_source.items():
        print(
            f"{name:<16} {cell(row['pages'], 5)} {cell(row['extracted'], 5)} {cell(row['body_f1'])} "
            f"{cell(row['must_found'])} {cell(row['must_leaked'])} {cell(row['title_accuracy'])} "
            f"{cell(row['title_f1'])} {cell(row['date_accuracy'])} {cell(row['author_accuracy'])} "
            f"{cell(row['cpu_ms_per_page'])}"
        )
    total = by_source["all"]
    print(
        f"\ncompared: {total['body_pages']} bodies, {total['titles']} dataset titles, {total['dates']} dates, "
        f"{total['authors']} authors"
    )


def main() -> None:
    """Extract every corpus page with ground truth and print the quality figures."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--corpus", help="the test corpus (default: $AI4S_TEST_CORPUS or ../shared/corpus)")
    options.add_argument("--jobs", type=int, default=2, help="extraction processes (default 2)")
    options.add_argument("--limit", type=int, default=0, help="only the first N pages (default: all)")
    options.add_argument("--json", type=Path, help="also write every page's scores and the figures here")
    args = options.parse_args()
    corpus = resolve_corpus(args.corpus)
    if not (corpus / "index.jsonl").is_file():
        sys.exit(f"no test corpus at {corpus}: pass --corpus or set AI4S_TEST_CORPUS")
    pages = corpus_pages(corpus, args.limit)
    print(f"{len(pages)} pages with ground truth from {corpus}")
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        scores = list(
            pool.map(score_page, [corpus] * len(pages), [s for s, _ in pages], [i for _, i in pages], chunksize=8)
        )
    grouped: dict[str, list[PageScore]] = defaultdict(list)
    for score in scores:
        grouped[score.source].append(score)
    by_source = {name: figures(group) for name, group in sorted(grouped.items())} | {"all": figures(scores)}
    print_table(by_source)
    if args.json:
        report = {"figures": by_source, "pages": [asdict(score) for score in scores]}
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
