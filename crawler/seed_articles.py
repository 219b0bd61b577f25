"""Seed articles, the texts that define the topic: taking one from a text file or a web page,
naming it, and adding it to the seeds folder unless it is already there.

A seed is named ``NNN_<hash>.txt``: its number in the folder, then the first 16 hex digits of
the SHA-256 of its text, so the same text is never added twice. A web page is fetched once
(http and https only, redirects too; with a User-Agent; bounded in time and size) and reduced to
its article text by the crawler's own extraction.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPMessage
from pathlib import Path
from typing import IO

from crawler.relevance.build import seed_files
from crawler.text.extract import ExtractedArticle, extract_article
from crawler.text.urls import is_http_url

#: A seed shorter than this says too little about the topic to be worth its terms.
MIN_SEED_CHARS = 200
USER_AGENT = "ai4s-monitor/0.1 (seed fetch)"
#: Seconds a page fetch may take in all (each network wait is bounded by it too).
FETCH_TIMEOUT = 30.0
#: Bytes of a page read at most; an article page is far smaller, the rest is cut off.
MAX_PAGE_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024


class SeedError(ValueError):
    """A seed that cannot be added: unreadable, unfetchable, too short or already there; the message says which."""


@dataclass(frozen=True)
class FetchedPage:
    """A fetched web page: its body (at most the size bound), its final URL and its content headers."""

    url: str
    body: bytes
    content_type: str | None
    charset: str | None


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) addresses only (urllib alone would follow one to ftp)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if not is_http_url(newurl):
            raise urllib.error.URLError(f"redirected to {newurl!r}, which is not an http(s) address")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_page(url: str, timeout: float = FETCH_TIMEOUT, max_bytes: int = MAX_PAGE_BYTES) -> FetchedPage:
    """GET ``url`` (http or https, with the seed fetch's User-Agent) within ``timeout`` seconds, its body
    cut at ``max_bytes``; :class:`SeedError` for any other scheme, an HTTP error or a network failure."""
    if not is_http_url(url):
        raise SeedError(f"cannot fetch {url}: only http(s) addresses are fetched")
    opener = urllib.request.build_opener(_HttpOnlyRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while size < max_bytes:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the page took more than {timeout:g} s")
                chunk = response.read(min(_CHUNK, max_bytes - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return FetchedPage(
                response.geturl(),
                b"".join(chunks),
                response.headers.get("Content-Type"),
                response.headers.get_content_charset(),
            )
    except OSError as exc:  # URLError, HTTPError, timeouts and refused connections are all OSErrors
        raise SeedError(f"cannot fetch {url}: {exc}") from None


def seed_text_of_page(url: str, timeout: float = FETCH_TIMEOUT, max_bytes: int = MAX_PAGE_BYTES) -> str:
    """The seed text of the article at ``url``: its title, its text and a line naming the source."""
    page = fetch_page(url, timeout, max_bytes)
    result = extract_article(page.body, url, page.charset, page.content_type)
    if not isinstance(result, ExtractedArticle):
        raise SeedError(f"{url}: {result.reason}")
    return f"{result.title or ''}\n\n{result.text}\n\nSource: {url}\n"


def seed_text_of_file(path: Path) -> str:
    """The text of a seed file (UTF-8); :class:`SeedError` if it cannot be read as such."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"cannot read {path} as UTF-8 text: {exc}") from None


def seed_path(seeds_dir: Path, text: str) -> Path:
    """Where ``text`` goes as the next seed of ``seeds_dir``; :class:`SeedError` if it is too short
    or the folder already holds it."""
    if len(text.strip()) < MIN_SEED_CHARS:
        raise SeedError(f"a seed article needs some text ({MIN_SEED_CHARS} characters at least)")
    existing = seed_files(seeds_dir)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    if any(path.name.endswith(f"_{digest}.txt") for path in existing):
        raise SeedError("this seed is already there")
    return seeds_dir / f"{len(existing):03d}_{digest}.txt"


def add_seed(source: str, seeds_dir: Path) -> Path:
    """Add the seed article ``source`` (a text file, or the http(s) URL of an article page) to
    ``seeds_dir``; the new file's path. Raises :class:`SeedError`."""
    text = seed_text_of_page(source) if is_http_url(source) else seed_text_of_file(Path(source))
    target = seed_path(seeds_dir, text)
    target.write_text(text, encoding="utf-8")
    return target
