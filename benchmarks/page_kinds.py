"""Page-kind benchmark: how often :func:`crawler.text.pages.page_kind` calls an article an article and a
listing a listing, and what it costs.

    python3 benchmarks/page_kinds.py [--corpus DIR] [--listings N] [--show-misses]

Articles: every page of the test corpus (nearly all are article pages; a few are really section pages or
render their text with JavaScript), parsed once with lxml, as Scrapy does.

Listings: the corpus has none, so they are made from real pages: N corpus pages (in a fixed order) whose
article body (the element holding most of its paragraphs) is replaced by 20-40 headlines of other corpus
pages, in four layouts sites use (a list of headlines with dates; list items with a teaser; headings and
teasers side by side; cards with an image, a headline, a teaser and a date), each teaser the first
60-300 characters of another page's text. The template keeps its own metadata (often ``og:type=article``
and a ``NewsArticle`` JSON-LD, as on sites that mark every page so): the worst case. Then the generated
home and section pages of the demo web (``crawler/app/demo.py``), as the crawler meets them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

import lxml.html  # noqa: E402
from bench_support import resolve_corpus  # noqa: E402

from crawler.text.charset import decode_html  # noqa: E402
from crawler.text.pages import PageKind, page_kind  # noqa: E402

Layout = Callable[[random.Random, list[tuple[str, str]]], str]


def read_corpus(corpus: Path) -> list[tuple[str, str, dict]]:
    """(name, decoded HTML, metadata) of every corpus page, in a fixed order."""
    pages = []
    for line in (corpus / "index.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        meta = json.loads((corpus / entry["source"] / f"{entry['id']}.json").read_text(encoding="utf-8"))
        raw = gzip.decompress((corpus / entry["source"] / meta["html_file"]).read_bytes())
        pages.append((f"{entry['source']}/{entry['id']}", decode_html(raw, meta["encoding"]).text, meta))
    return pages


def parse(html: str) -> lxml.html.HtmlElement:
    """The page parsed as Scrapy's selector parses it (lxml's HTML parser on UTF-8 bytes)."""
    return lxml.html.fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _dates(rng: random.Random) -> str:
    return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"


def headlines_with_dates(rng: random.Random, items: list[tuple[str, str]]) -> str:
    """A list of headlines, each with its date."""
    rows = "".join(
        f'<li><a href="/news/{i}.html">{_escape(title)}</a> <span class="date">{_dates(rng)}</span></li>'
        for i, (title, _) in enumerate(items)
    )
    return f'<ul class="list">{rows}</ul>'


def list_items_with_teasers(rng: random.Random, items: list[tuple[str, str]]) -> str:
    """List items, each a headline link and a teaser paragraph."""
    rows = "".join(
        f'<li><a href="/article/{i}">{_escape(title)}</a><p>{_escape(teaser)}</p></li>'
        for i, (title, teaser) in enumerate(items)
    )
    return f'<ul class="articles">{rows}</ul>'


def headings_and_teasers(rng: random.Random, items: list[tuple[str, str]]) -> str:
    """Headings with a link and teaser paragraphs side by side in one container (a flat blog index)."""
    return "".join(
        f'<h2><a href="/p/{i}">{_escape(title)}</a></h2><p>{_escape(teaser)}</p>'
        f'<p class="meta">{_dates(rng)} · <a href="/p/{i}#more">Read more</a></p>'
        for i, (title, teaser) in enumerate(items)
    )


def cards(rng: random.Random, items: list[tuple[str, str]]) -> str:
    """Cards: an image link, a headline, a teaser and a date."""
    return "".join(
        f'<div class="card"><a href="/a/{i}/"><img src="/img/{i}.jpg" alt=""></a>'
        f'<h3><a href="/a/{i}/">{_escape(title)}</a></h3><div class="teaser">{_escape(teaser)}</div>'
        f"<time>{_dates(rng)}</time></div>"
        for i, (title, teaser) in enumerate(items)
    )


LAYOUTS: dict[str, Layout] = {
    "headlines with dates": headlines_with_dates,
    "list items with teasers": list_items_with_teasers,
    "headings and teasers": headings_and_teasers,
    "cards": cards,
}


def body_container(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The smallest element holding four fifths of the text of the page's paragraphs (of 40 characters or
    more), if there are three such paragraphs."""
    weights: Counter[lxml.html.HtmlElement] = Counter()
    total = paragraphs = 0
    for paragraph in tree.iter("p"):
        length = len(paragraph.text_content().strip())
        if length < 40:
            continue
        total, paragraphs = total + length, paragraphs + 1
        for ancestor in paragraph.iterancestors():
            weights[ancestor] += length
    if paragraphs < 3:
        return None
    holding = [element for element, weight in weights.items() if weight >= 0.8 * total]
    return max(holding, key=lambda element: sum(1 for _ in element.iterancestors()))


def make_listing(
    html: str, layout: Layout, rng: random.Random, titles: list[str], texts: list[str], keep_json_ld: bool = True
) -> lxml.html.HtmlElement | None:
    """The page ``html`` with its article body replaced by a listing in ``layout`` (without the template's
    JSON-LD unless ``keep_json_ld``); ``None`` without a body."""
    tree = parse(html)
    container = body_container(tree)
    if container is None:
        return None
    count = rng.randint(20, 40)
    items = [(rng.choice(titles), " ".join(rng.choice(texts).split())[: rng.randint(60, 300)]) for _ in range(count)]
    for child in list(container):
        container.remove(child)
    container.text = None
    for element in lxml.html.fragments_fromstring(layout(rng, items)):
        container.append(element)
    if not keep_json_ld:
        for script in list(tree.iter("script")):
            if (script.get("type") or "").lower() == "application/ld+json" and script.getparent() is not None:
                script.getparent().remove(script)
    return tree


def demo_pages() -> list[tuple[str, str, bytes]]:
    """(site, path, body) of every HTML page the demo web serves, articles and listings."""
    from crawler.app.demo import DemoWeb

    web = DemoWeb()
    try:
        pages = []
        for name, site in web.sites.items():
            for path, reply in site.routes.items():
                if not callable(reply) and reply.headers.get("Content-Type", "").startswith("text/html"):
                    pages.append((name, path, reply.body))
        articles = {(a.site, a.path) for a in web.articles}
        return [(name, path, body) for name, path, body in pages if (name, path) not in articles]
    finally:
        web.stop()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="the test corpus (default: $AI4S_TEST_CORPUS, else ../shared/corpus)")
    parser.add_argument("--listings", type=int, default=300, help="corpus templates to make listings from")
    parser.add_argument("--show-misses", action="store_true", help="name each page judged wrongly")
    args = parser.parse_args()
    corpus = resolve_corpus(args.corpus)
    pages = read_corpus(corpus)
    trees = [(name, parse(html)) for name, html, _ in pages]

    started = time.perf_counter()
    judged: list[tuple[str, PageKind]] = [(name, page_kind(tree)) for name, tree in trees]
    seconds = time.perf_counter() - started
    misses = [(name, kind) for name, kind in judged if not kind.is_article]
    print(f"articles: {len(judged) - len(misses)} of {len(judged)} corpus pages judged articles ", end="")
    print(f"({(len(judged) - len(misses)) / len(judged):.3f}); {1000 * seconds / len(judged):.2f} ms a page")
    by_source = Counter(name.split("/")[0] for name, _ in judged)
    missed_by_source = Counter(name.split("/")[0] for name, _ in misses)
    for source in sorted(by_source):
        print(f"  {source:16} {by_source[source] - missed_by_source[source]:4} of {by_source[source]:4}")
    if args.show_misses:
        for name, kind in misses:
            print(f"  missed {name}: {', '.join(kind.evidence)}")

    rng = random.Random(0)
    titles = [meta.get("title") or "" for _, _, meta in pages if 20 <= len(meta.get("title") or "") <= 120]
    texts = [meta["body"] for _, _, meta in pages if meta.get("body") and len(meta["body"]) >= 300]
    templates = [html for _, html, meta in pages if meta.get("body_complete")]
    rng.shuffle(templates)
    for keep_json_ld in (False, True):
        kept = "kept" if keep_json_ld else "removed, og:type and the rest kept"
        print(f"listings made from corpus templates (up to {args.listings} per layout; the template's JSON-LD {kept}):")
        for layout_name, layout in LAYOUTS.items():
            made = correct = 0
            layout_misses = []
            for index, html in enumerate(templates[: args.listings]):
                tree = make_listing(html, layout, random.Random(index), titles, texts, keep_json_ld)
                if tree is None:
                    continue
                made += 1
                kind = page_kind(tree)
                correct += not kind.is_article
                if kind.is_article:
                    layout_misses.append(kind.evidence)
            print(f"  {layout_name:24} {correct:4} of {made:4} judged listings ({correct / max(1, made):.3f})")
            if args.show_misses:
                for evidence in layout_misses:
                    print(f"    missed: {', '.join(evidence)}")

    demo = demo_pages()
    demo_kinds = [(f"{site}{path}", page_kind(parse(decode_html(body, None).text))) for site, path, body in demo]
    demo_correct = sum(not kind.is_article for _, kind in demo_kinds)
    print(f"demo web home and section pages: {demo_correct} of {len(demo_kinds)} judged listings")
    if args.show_misses:
        for name, kind in demo_kinds:
            if kind.is_article:
                print(f"  missed {name}: {', '.join(kind.evidence)}")


if __name__ == "__main__":
    main()
