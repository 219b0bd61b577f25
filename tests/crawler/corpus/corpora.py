"""A small stored corpus for the tests of the corpus-wide operations: the seed articles (about AI for
Science) and the demo web's ordinary news (not), stored as a crawl would store them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime

from crawler.app.demo import CONTENT_DIR
from crawler.relevance.profile import RelevanceScorer
from crawler.stories.assign import assign_story
from crawler.stories.fingerprint import fingerprint
from seeds import SEEDS_DIR
from storage import Database, NewArticle
from storage.repository import store_article


@dataclass(frozen=True)
class Text:
    """A text of the corpus: where it came from, its title, body, language and publication time."""

    source: str
    url: str
    title: str
    text: str
    language: str
    published: datetime | None


def corpus_texts() -> list[Text]:
    """The seed articles (source ``seeds``) and the demo's ordinary news (source ``news``)."""
    texts = []
    for path in sorted(SEEDS_DIR.glob("*.txt")):
        title, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
        language = "en" if title.isascii() else "zh"
        texts.append(Text("seeds", f"http://seeds.example/{path.stem}.html", title.strip("# "), body, language, None))
    for path in sorted(CONTENT_DIR.glob("news_*.toml")):
        item = tomllib.loads(path.read_text(encoding="utf-8"))
        body = "\n".join(item["paragraphs"])
        language = "en" if item["title"].isascii() else "zh"
        texts.append(
            Text("news", f"http://news.example/{path.stem}.html", item["title"], body, language, item["published"])
        )
    return texts


def store_corpus(database: Database, scorer: RelevanceScorer, flip: bool = False) -> list[int]:
    """Store every corpus text with the verdict of ``scorer`` (the opposite one with ``flip``,
    as if scored by an older profile), each in its story; the article ids."""
    ids = []
    with database.session() as session, session.begin():
        for text in corpus_texts():
            result = scorer.score(text.title, text.text)
            relevant = result.relevant != flip
            stored = store_article(
                session,
                NewArticle(
                    source=text.source,
                    url=text.url,
                    canonical_url=text.url,
                    title=text.title,
                    text=text.text,
                    language=text.language,
                    published=text.published,
                    relevance=1 - result.score if flip else result.score,
                    relevant=relevant,
                    evidence="[]",
                ),
            )
            assign_story(session, stored.article_id, fingerprint(text.text))
            ids.append(stored.article_id)
    return ids
