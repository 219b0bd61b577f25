"""Extraction engines side by side on the test corpus: body token F1 and CPU a page, one process.

    python3 benchmarks/extraction_engines.py [--corpus DIR] [--limit N] [--engines NAME,...]

Issue 13 asks whether another engine could extract as well as trafilatura for less CPU. Every engine gets
each page with a full body of truth (``body_complete``) as the crawler fetches it: its bytes, decoded with
the crawler's own charset detection (``crawler.text.charset``, timed as part of every engine), then:

* ``product``: :func:`crawler.text.extract.extract_article`, everything the extraction workers run
  (text, metadata, language), scored on its text;
* ``trafilatura``: ``trafilatura.extract`` with default options, the extraction of crawl_speed's baselines;
* ``trafilatura-fast``: the same with ``fast=True`` (no readability/jusText comparison);
* ``resiliparse``: Resiliparse's ``extract_plain_text(main_content=True)``, with list bullets, alt texts
  and links left out (the truth has none of them), on Resiliparse's own parse (lexbor);
* ``fast-if-resiliparse-agrees``: ``trafilatura-fast`` where at least half of its words are Resiliparse's
  too (token F1 of the two texts, the project's scorer: each CJK character a word), ``trafilatura`` otherwise: an
  independent extractor as the check that makes the comparison with readability and jusText unnecessary;
* ``lxml-parse`` and ``selectolax-parse``: parsing alone, lxml (which the product parses with once) against
  selectolax's lexbor, the parser the issue names for reading metadata; no text, no F1.

An engine whose package is missing is listed as such (``pip install resiliparse selectolax``). Printed: body
F1 (the project's scorer, ``tests/textmetrics.py``; a page an engine finds nothing on counts 0), the pages it
found text on, and its mean CPU milliseconds a page (``time.process_time``, after a warm-up page).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import resolve_corpus  # noqa: E402
from extraction_quality import corpus_pages  # noqa: E402

from crawler.text.charset import decode_html  # noqa: E402
from crawler.text.extract import ExtractedArticle, extract_article  # noqa: E402
from tests.textmetrics import token_f1  # noqa: E402


@dataclass(frozen=True)
class TruthPage:
    """A corpus page with a full body of truth, as the crawler would fetch it."""

    url: str
    charset: str
    raw: bytes
    body: str


#: Share of shared words (token F1 of the two texts) from which ``fast-if-resiliparse-agrees`` keeps the fast
#: extraction.
MIN_AGREEMENT = 0.5

#: An engine: page → extracted text (``None`` for the parse-only rows, which extract nothing).
Engine = Callable[[TruthPage], str | None]


def truth_pages(corpus: Path, limit: int) -> list[TruthPage]:
    """The corpus pages whose truth is a complete body, in the index's order (``limit`` > 0: the first ones)."""
    pages = []
    for source, page_id in corpus_pages(corpus, 0):
        truth = json.loads((corpus / source / f"{page_id}.json").read_text(encoding="utf-8"))
        if truth.get("body_complete") is True and truth.get("body"):
            raw = gzip.decompress((corpus / source / truth["html_file"]).read_bytes())
            url = truth["url"] or f"http://{source}.test/{page_id}"
            pages.append(TruthPage(url, truth["encoding"], raw, truth["body"]))
    return pages[:limit] if limit > 0 else pages


def _decoded(page: TruthPage) -> str:
    return decode_html(page.raw, page.charset).text


def product(page: TruthPage) -> str | None:
    """The product's extraction of the page's text."""
    result = extract_article(page.raw, page.url, page.charset, "text/html")
    return result.text if isinstance(result, ExtractedArticle) else ""


def engines() -> dict[str, Engine | str]:
    """Every engine by name, or why it cannot run here."""
    import lxml.html
    import trafilatura

    utf8 = lxml.html.HTMLParser(encoding="utf-8")
    found: dict[str, Engine | str] = {
        "product": product,
        "trafilatura": lambda page: trafilatura.extract(_decoded(page), url=page.url) or "",
        "trafilatura-fast": lambda page: trafilatura.extract(_decoded(page), url=page.url, fast=True) or "",
    }
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        def resiliparse(page: TruthPage) -> str:
            return extract_plain_text(
                HTMLTree.parse(_decoded(page)), main_content=True, list_bullets=False, alt_texts=False, links=False
            )

        def checked(page: TruthPage) -> str:
            html = _decoded(page)
            tree = lxml.html.fromstring(html.encode("utf-8"), parser=utf8)  # parsed once, as the product does
            fast = trafilatura.extract(tree, url=page.url, fast=True) or ""
            if fast and token_f1(fast, resiliparse(page)) >= MIN_AGREEMENT:
                return fast
            return trafilatura.extract(tree, url=page.url) or ""

        found["resiliparse"] = resiliparse
        found["fast-if-resiliparse-agrees"] = checked
    except ImportError:
        found["resiliparse"] = found["fast-if-resiliparse-agrees"] = "not installed (pip install resiliparse)"

    def lxml_parse(page: TruthPage) -> None:
        lxml.html.fromstring(_decoded(page).encode("utf-8"), parser=utf8)

    found["lxml-parse"] = lxml_parse
    try:
        from selectolax.lexbor import LexborHTMLParser

        def selectolax_parse(page: TruthPage) -> None:
            LexborHTMLParser(_decoded(page))

        found["selectolax-parse"] = selectolax_parse
    except ImportError:
        found["selectolax-parse"] = "not installed (pip install selectolax)"
    return found


def measure(engine: Engine, pages: list[TruthPage]) -> tuple[float | None, int, float]:
    """Mean body F1 (``None`` for a parse-only engine), pages with text, and mean CPU ms a page."""
    engine(pages[0])  # warm-up: first-use imports and models are not a page's cost
    scores: list[float] = []
    found = 0
    cpu = 0.0
    for page in pages:
        started = time.process_time()
        text = engine(page)
        cpu += time.process_time() - started
        if text is not None:
            scores.append(token_f1(text, page.body))
            found += bool(text.strip())
    return (sum(scores) / len(scores) if scores else None), found, cpu / len(pages) * 1000


def main() -> None:
    """Run every engine over the pages and print one line each."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--corpus", help="the test corpus (default: $AI4S_TEST_CORPUS or ../shared/corpus)")
    options.add_argument("--limit", type=int, default=0, help="only the first N pages (default: all)")
    options.add_argument("--engines", help="comma-separated names (default: all)")
    args = options.parse_args()
    corpus = resolve_corpus(args.corpus)
    if not (corpus / "index.jsonl").is_file():
        sys.exit(f"no test corpus at {corpus}: pass --corpus or set AI4S_TEST_CORPUS")
    pages = truth_pages(corpus, args.limit)
    chosen = engines()
    if args.engines:
        names = args.engines.split(",")
        unknown = [name for name in names if name not in chosen]
        if unknown:
            sys.exit(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(chosen)}")
        chosen = {name: chosen[name] for name in names}
    print(f"{len(pages)} pages with a full body of truth from {corpus}, one process")
    print(f"{'engine':<26} {'body F1':>7} {'text on':>7} {'cpu ms':>7}")
    for name, engine in chosen.items():
        if isinstance(engine, str):
            print(f"{name:<26} {engine}")
            continue
        f1, found, cpu_ms = measure(engine, pages)
        f1_cell = f"{f1:7.4f}" if f1 is not None else f"{'-':>7}"
        found_cell = f"{found:7d}" if f1 is not None else f"{'-':>7}"
        print(f"{name:<26} {f1_cell} {found_cell} {cpu_ms:7.1f}", flush=True)


if __name__ == "__main__":
    main()
