"""Raw page storage benchmark: what keeping each article's fetched HTML costs, codec by codec.

    python3 benchmarks/raw_storage.py [--pages N] [--corpus DIR] [--repeat R]

Reads up to N real pages of the test corpus (``../shared/corpus`` next to the project, or
``$AI4S_TEST_CORPUS``), the bytes as served, and compresses each page on its own with every codec
available: the standard library's zlib (levels 1, 6, 9) and lzma, and, where installed, brotli (5, 9) and
zstandard (levels), plus two zstandard variants with a dictionary, to see what templates shared
between pages would save:

- ``zstd-19 + site page``: each page of an outlet that has at least two pages in the corpus (fundus
  publishers, hosts of the other sets), compressed with another page of the same outlet as a raw
  dictionary (the best case for a per-source dictionary: a page of the very same template);
- ``zstd-19 + trained dict``: a 110 KB dictionary trained on the other half of the corpus (by a hash
  of the page id), measured on this half.

Prints a table of bytes per article (mean compressed size), the ratio to the raw size, and ms per
page to compress and to decompress (best of R rounds), then the cost per article of the codec the
project uses (:data:`storage.pages.PAGE_CODEC`), per 1,000 and per 100,000 articles.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import statistics
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import resolve_corpus  # noqa: E402

from storage.pages import PAGE_CODEC, compress_page, decompress_page  # noqa: E402

Compress = Callable[[bytes], bytes]
Decompress = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Page:
    """A corpus page: its id, its outlet (publisher or host, if known) and its bytes as served."""

    id: str
    outlet: str | None
    raw: bytes


@dataclass(frozen=True)
class Row:
    """One codec's figures over the pages it was measured on."""

    codec: str
    pages: int
    raw_bytes: float
    stored_bytes: float
    compress_ms: float
    decompress_ms: float


def corpus_pages(corpus: Path, limit: int) -> list[Page]:
    """Up to ``limit`` corpus pages, in a fixed order, with their outlet where the corpus says."""
    pages = []
    for meta_path in sorted(corpus.glob("*/*.json")):
        if meta_path.parent.name == "relevance":
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        html_path = meta_path.with_name(meta.get("html_file") or meta_path.name[:-5] + ".html.gz")
        if not html_path.is_file():
            continue
        publisher = (meta.get("extra") or {}).get("publisher")
        host = urlsplit(meta.get("url") or "").hostname
        outlet = publisher or (host if host and host != "web.archive.org" else None)
        pages.append(Page(f"{meta_path.parent.name}/{meta_path.stem}", outlet, gzip.decompress(html_path.read_bytes())))
        if len(pages) >= limit:
            break
    return pages


def best_ms(function: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``function``, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def measure(name: str, pages: list[Page], codec: Callable[[Page], tuple[Compress, Decompress]], repeat: int) -> Row:
    """Compress and decompress every page with the codec made for it; check the round trip."""
    raw = stored = compress_ms = decompress_ms = 0.0
    for page in pages:
        compress, decompress = codec(page)
        packed = compress(page.raw)
        assert decompress(packed) == page.raw, (name, page.id)
        raw += len(page.raw)
        stored += len(packed)
        compress_ms += best_ms(lambda: compress(page.raw), repeat)  # noqa: B023 - called right here
        decompress_ms += best_ms(lambda: decompress(packed), repeat)  # noqa: B023
    n = len(pages)
    return Row(name, n, raw / n, stored / n, compress_ms / n, decompress_ms / n)


def plain(compress: Compress, decompress: Decompress) -> Callable[[Page], tuple[Compress, Decompress]]:
    """The same codec for every page."""
    return lambda page: (compress, decompress)


def standard_codecs() -> dict[str, Callable[[Page], tuple[Compress, Decompress]]]:
    """The standard library's codecs: zlib at three levels, lzma at its default preset."""
    codecs = {
        f"zlib-{level}": plain(lambda data, level=level: zlib.compress(data, level), zlib.decompress)
        for level in (1, 6, 9)
    }
    codecs["lzma-6"] = plain(lambda data: lzma.compress(data, preset=6), lzma.decompress)
    return codecs


def brotli_codecs() -> dict[str, Callable[[Page], tuple[Compress, Decompress]]]:
    """brotli at two qualities (11, its maximum, takes about a second a page), if installed."""
    try:
        import brotli
    except ImportError:
        return {}
    return {
        f"brotli-{quality}": plain(lambda data, q=quality: brotli.compress(data, quality=q), brotli.decompress)
        for quality in (5, 9)
    }


def zstd_codecs(pages: list[Page]) -> dict[str, Callable[[Page], tuple[Compress, Decompress]]]:
    """zstandard at three levels, with another page of the same outlet as a dictionary, and with a
    dictionary trained on the other half of the corpus; if installed."""
    try:
        import zstandard
    except ImportError:
        return {}
    codecs: dict[str, Callable[[Page], tuple[Compress, Decompress]]] = {}
    for level in (3, 10, 19):
        compressor, decompressor = zstandard.ZstdCompressor(level=level), zstandard.ZstdDecompressor()
        codecs[f"zstd-{level}"] = plain(compressor.compress, decompressor.decompress)

    def with_dictionary(data: bytes) -> tuple[Compress, Decompress]:
        dictionary = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        compressor = zstandard.ZstdCompressor(level=19, dict_data=dictionary)
        return compressor.compress, zstandard.ZstdDecompressor(dict_data=dictionary).decompress

    by_outlet: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        if page.outlet:
            by_outlet[page.outlet].append(page)

    def site_page(page: Page) -> tuple[Compress, Decompress]:
        others = [p for p in by_outlet[page.outlet or ""] if p.id != page.id]
        return with_dictionary(others[0].raw)

    codecs["zstd-19 + site page"] = site_page

    trained: dict[int, zstandard.ZstdCompressionDict] = {}

    def half(page: Page) -> int:
        return hashlib.sha1(page.id.encode()).digest()[0] % 2

    for part in (0, 1):
        samples = [p.raw for p in pages if half(p) != part]
        trained[part] = zstandard.train_dictionary(110 * 1024, samples)

    def trained_dict(page: Page) -> tuple[Compress, Decompress]:
        dictionary = trained[half(page)]
        compressor = zstandard.ZstdCompressor(level=19, dict_data=dictionary)
        return compressor.compress, zstandard.ZstdDecompressor(dict_data=dictionary).decompress

    codecs["zstd-19 + trained dict"] = trained_dict
    return codecs


def outlet_pages(pages: list[Page]) -> list[Page]:
    """The pages whose outlet has another page in the corpus."""
    counts: dict[str, int] = defaultdict(int)
    for page in pages:
        if page.outlet:
            counts[page.outlet] += 1
    return [p for p in pages if p.outlet and counts[p.outlet] >= 2]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--corpus", default=None, help="the test corpus (default: $AI4S_TEST_CORPUS, ../shared/corpus)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of timing per page (the best counts)")
    args = parser.parse_args()
    pages = corpus_pages(resolve_corpus(args.corpus), args.pages)
    if not pages:
        sys.exit("no corpus pages found: give --corpus DIR or set AI4S_TEST_CORPUS")
    sited = outlet_pages(pages)
    codecs = {**standard_codecs(), **brotli_codecs(), **zstd_codecs(pages)}
    rows = []
    for name, codec in codecs.items():
        measured_on = sited if name.endswith("site page") else pages
        rows.append(measure(name, measured_on, codec, args.repeat))
        print(f"  measured {name}", file=sys.stderr, flush=True)
    raw_sizes = [len(p.raw) for p in pages]
    print(
        f"{len(pages)} corpus pages: {statistics.mean(raw_sizes) / 1024:.1f} KiB a page on average "
        f"(median {statistics.median(raw_sizes) / 1024:.1f} KiB); {len(sited)} of them have another page of their "
        "outlet (the 'site page' row is measured on those)"
    )
    print()
    print(f"| {'codec':<24} | pages | bytes/article | of raw | ms/page compress | ms/page decompress |")
    print(f"| {'-' * 24} | ----: | ------------: | -----: | ---------------: | -----------------: |")
    for row in rows:
        share = row.stored_bytes / row.raw_bytes
        print(
            f"| {row.codec:<24} | {row.pages:>5} | {row.stored_bytes:>13,.0f} | {share:>6.3f} "
            f"| {row.compress_ms:>16.2f} | {row.decompress_ms:>18.2f} |"
        )
    kept = [compress_page(p.raw) for p in pages]
    assert all(decompress_page(k.codec, k.data) == p.raw for k, p in zip(kept, pages, strict=True))
    per_article = statistics.mean(len(k.data) for k in kept)
    print()
    print(
        f"chosen codec {PAGE_CODEC}: {per_article / 1024:.1f} KiB an article stored "
        f"({per_article / statistics.mean(raw_sizes):.3f} of the raw page), "
        f"{per_article * 1000 / 1024**2:.1f} MiB per 1,000 articles, "
        f"{per_article * 100_000 / 1024**3:.2f} GiB per 100,000"
    )


if __name__ == "__main__":
    main()
