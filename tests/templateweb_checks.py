"""What a user checks of a crawl of the template web (:mod:`tests.templateweb`), read from the corpus the
crawl made: is every article stored with its own text and none of its template (token F1 against the
inserted text, per template), are copies of one story one story and different stories apart (pairwise
precision and recall), and was any stored article page requested again. Shared by the tests and by
``benchmarks/template_web.py``."""

from __future__ import annotations

import statistics
import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from itertools import combinations

from sqlalchemy import select

from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, FetchedUrl, Source
from tests.templateweb import TemplateArticle, TemplateWeb
from tests.textmetrics import token_f1

# No proxies from the environment: the sites are on loopback and must be asked directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str) -> tuple[bytes, Message]:
    """Body and headers of a GET of ``url`` (a page of the served web)."""
    with _OPENER.open(url, timeout=30) as response:
        return response.read(), response.headers


def fetch_page(url: str) -> bytes:
    """The body of a GET of ``url`` (a page of the served web)."""
    return fetch(url)[0]


@dataclass(frozen=True)
class StoredArticle:
    """An article as the crawl stored it."""

    id: int
    source: str
    canonical_url: str
    text: str
    story_id: int | None


def stored_articles(db_url: str) -> dict[str, StoredArticle]:
    """The stored articles, by every canonical URL that was fetched for them (redirects and variants included)."""
    with Database(db_url) as database, database.session() as session:
        rows = session.execute(
            select(Article.id, Source.name, Article.canonical_url, Article.text, Article.story_id).join(
                Source, Source.id == Article.source_id
            )
        ).all()
        articles = {row.id: StoredArticle(row.id, row.name, row.canonical_url, row.text, row.story_id) for row in rows}
        fetched = session.execute(
            select(FetchedUrl.canonical_url, FetchedUrl.article_id).where(FetchedUrl.article_id.is_not(None))
        ).all()
    by_url = {article.canonical_url: article for article in articles.values()}
    for url, article_id in fetched:
        by_url.setdefault(url, articles[article_id])
    return by_url


def find(stored: dict[str, StoredArticle], article: TemplateArticle) -> StoredArticle | None:
    """The stored article of a published one (by its canonical URL), if it was stored."""
    return stored.get(canonical_url(article.url))


@dataclass(frozen=True)
class TextScore:
    """How the stored text of one published article compares with the inserted text."""

    url: str
    site: str
    template: str
    f1: float  # 0 when the article was not stored, or stored as a copy of another page's text


def text_scores(articles: Iterable[TemplateArticle], stored: dict[str, StoredArticle]) -> list[TextScore]:
    """Token F1 of each published article's stored text against its inserted text."""
    scores = []
    for article in articles:
        found = find(stored, article)
        f1 = token_f1(found.text, article.body) if found is not None else 0.0
        scores.append(TextScore(article.url, article.site, article.template, f1))
    return scores


def mean_by_site(scores: Iterable[TextScore]) -> dict[str, float]:
    """Mean F1 per site (each site is one template)."""
    by_site: dict[str, list[float]] = {}
    for score in scores:
        by_site.setdefault(score.site, []).append(score.f1)
    return {site: statistics.mean(values) for site, values in by_site.items()}


@dataclass(frozen=True)
class StoryScores:
    """Pairwise precision and recall of the stories the crawl made, against the true stories."""

    precision: float
    recall: float
    merged: list[tuple[str, str]]  # pairs of different stories put in one story (URLs)
    missed: list[tuple[str, str]]  # pairs of copies of one story left apart (URLs)


def story_scores(articles: Iterable[TemplateArticle], stored: dict[str, StoredArticle]) -> StoryScores:
    """Pairwise story precision and recall over the published articles that were stored as articles of their own
    (an exact copy stored as a duplicate of another page is the same row, and counts as grouped)."""
    placed = [(article, found) for article in articles if (found := find(stored, article)) is not None]
    true_pairs = predicted_pairs = both = 0
    merged: list[tuple[str, str]] = []
    missed: list[tuple[str, str]] = []
    for (a, stored_a), (b, stored_b) in combinations(placed, 2):
        same_story = a.story == b.story
        grouped = stored_a.id == stored_b.id or (
            stored_a.story_id is not None and stored_a.story_id == stored_b.story_id
        )
        true_pairs += same_story
        predicted_pairs += grouped
        both += same_story and grouped
        if grouped and not same_story:
            merged.append((a.url, b.url))
        elif same_story and not grouped:
            missed.append((a.url, b.url))
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    return StoryScores(precision, recall, merged, missed)


def requested_again(before: Counter[str], after: Counter[str], stored: dict[str, StoredArticle]) -> dict[str, int]:
    """The article pages stored by the time of ``before`` that were requested again since, and how often."""
    return {
        url: after[url] - before[url] for url in before if canonical_url(url) in stored and after[url] > before[url]
    }


def requested_after_stored(web: TemplateWeb, db_url: str) -> list[str]:
    """``site/path`` of every request of an article page made after the article was stored (half a second
    after its first sight, for the request that stored it), in time order."""
    with Database(db_url) as database, database.session() as session:
        stored_at = {
            url: seen.timestamp() for url, seen in session.execute(select(Article.canonical_url, Article.first_seen))
        }
    return [
        f"{name}{record.path}"
        for name, record in web.requests()
        if (url := canonical_url(web.sites[name].base_url + record.path)) in stored_at
        and record.time > stored_at[url] + 0.5
    ]
