"""The digest: what is new in AI for Science in a period, one entry per story.

:func:`build_digest` reads the corpus and returns the digest as plain data (the JSON document
of schema ``ai4s-digest/1``, described in the README); every output format is rendered from
that data (:mod:`crawler.digest.render`), and it is what is stored for a delivered digest, so
a past digest renders the same again.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crawler.digest.display import clean_line, display_text, safe_url
from crawler.digest.render import latest
from crawler.digest.themes import theme_of, themes
from crawler.text.durations import describe_interval
from crawler.text.normalize import strip_syndication_boilerplate
from crawler.text.script import is_unspaced_text
from storage.digests import (
    DigestCopy,
    PeriodStory,
    article_texts,
    daily_new_stories,
    period_health,
    period_stories,
)
from storage.entry_health import silent_sources
from storage.stories import Copy, representative_first

SCHEMA = "ai4s-digest/1"
#: Stories named in the digest's head, and how many outlets its "most active" list shows.
TOP_STORIES, ACTIVE_OUTLETS = 3, 8
#: Days of new stories the digest's chart shows, ending with the digest's period.
CHART_DAYS = 30
#: A ``--since-last`` digest leaves the articles of the last minute to the next one: a crawl stamps an
#: article before it commits it, so a digest ending at "now" could miss one in flight and the next
#: one, starting at that "now", would too.
SETTLE = timedelta(minutes=1)
EXCERPT_CHARS = 240
MAX_TERMS = 6

_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[.;；])\s+")
_SENTENCE_PUNCTUATION = re.compile(r"[。！？!?.;；…]")
# What opens a news lead before its first sentence: a dateline ("新华网北京8月11日电", "本报讯（记者 王洋）",
# "BEIJING, Aug. 11 (Xinhua) --"), a wire headline line ("题：..."), a list bullet.
_DATELINE = re.compile(
    r"^(?:[^\s，。：:]{0,16}?\d{1,2}月\d{1,2}日(?:电|讯)|本报讯|[^\s，。：:]{2,8}(?:网|社)讯)(?:\s*[（(][^）)]{0,40}[）)])?[\s：:]*"
    r"|^[A-Z][A-Za-z .'-]{1,40}, [A-Z][a-z]{2,8}\.? \d{1,2}(?:, \d{4})? \([^)]{2,30}\) *(?:--|—|–|-)\s*"
    r"|^[A-Z][A-Z .'-]{2,30} *(?:\([^)]{2,30}\))? *(?:--|—|–)\s*"
)
_WIRE_HEADLINE = re.compile(r"^题[：:]\s*")
_BULLET = re.compile(r"^[•·▪●■◆►▶*+\-–—]+\s*")
_HOST_LIKE = re.compile(r"^[\w.-]+\.[\w-]+(:\d+)?$|^[\d.]+(:\d+)?$", re.ASCII)


def lead_excerpt(text: str, title: str | None = None, limit: int = EXCERPT_CHARS) -> str:
    """The first sentences of an article, about ``limit`` characters: syndication boilerplate, the
    headline repeated at the top, and short label lines (section names, captions) left out."""
    body = strip_syndication_boilerplate(text[: limit * 12])  # the lead is at the top: no need to clean it all
    headline = display_text(title).casefold()
    excerpt = ""
    for line in body.splitlines():
        paragraph = _without_opening(display_text(line), headline)
        if not paragraph or paragraph.casefold() == headline or _is_label(paragraph):
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            if not sentence:
                continue
            joiner = "" if not excerpt or is_unspaced_text(excerpt[-1]) else " "
            if excerpt and len(excerpt) + len(sentence) > limit:
                return excerpt
            excerpt += joiner + sentence
            if len(excerpt) >= limit * 0.6:
                return excerpt if len(excerpt) <= limit else excerpt[: limit - 1].rstrip() + "…"
        if excerpt:
            return excerpt if len(excerpt) <= limit else excerpt[: limit - 1].rstrip() + "…"
    return excerpt[:limit]


def _without_opening(paragraph: str, headline: str) -> str:
    """A paragraph without what opens it before the news: a bullet, a dateline, a wire headline line
    (``题：`` and the headline) or the headline repeated."""
    paragraph = _BULLET.sub("", paragraph)
    paragraph = _DATELINE.sub("", paragraph, count=1)
    wire = _WIRE_HEADLINE.match(paragraph)
    if wire:  # "题：" and the headline, which the digest shows above the excerpt already
        paragraph = paragraph[wire.end() :]
        if headline and paragraph.casefold().startswith(headline):
            paragraph = paragraph[len(headline) :]
        else:
            return ""  # another headline (the wire's own): not the lead
    elif headline and len(paragraph) > len(headline) and paragraph.casefold().startswith(headline):
        paragraph = paragraph[len(headline) :]
    return paragraph.lstrip(" ：:，,-—–")


def _is_label(line: str) -> bool:
    """A line too short to be prose and not ending a sentence: a dateline, a section name, a caption."""
    return len(line) < (20 if any(is_unspaced_text(c) for c in line[:10]) else 40) and not _SENTENCE_PUNCTUATION.search(
        line[-1:]
    )


def matched_terms(evidence: str | None, limit: int = MAX_TERMS) -> list[str]:
    """The topic terms an article matched, strongest first (negative evidence left out)."""
    try:
        hits = json.loads(evidence or "[]")
    except ValueError:
        return []
    terms = [str(hit.get("term", "")) for hit in hits if isinstance(hit, dict) and hit.get("facet") != "negative"]
    return list(dict.fromkeys(clean_line(t) for t in terms if t))[:limit]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def _site_name(copy: DigestCopy) -> str | None:
    """The site's own name on a copy, unless it is missing or only a host name."""
    name = clean_line(copy.site_name)
    return name if name and not _HOST_LIKE.match(name) else None


def outlet_names(stories: Sequence[PeriodStory]) -> dict[str, str]:
    """One name per source, the same on every copy of the digest: the site name its pages give most
    often (one outlet is never listed under two labels), else the source's name; a site name that two
    sources give ("News Center") is followed by each one's source name, so that two outlets never read as one."""
    seen: dict[str, Counter[str]] = {}
    for story in stories:
        for copy in story.copies:
            names = seen.setdefault(copy.source, Counter())
            if (name := _site_name(copy)) is not None:
                names[name] += 1
    chosen = {source: names.most_common(1)[0][0] if names else source for source, names in seen.items()}
    given = Counter(chosen.values())
    return {source: name if given[name] == 1 else f"{name} ({source})" for source, name in chosen.items()}


def _representative_first(story: PeriodStory) -> list[DigestCopy]:
    """The story's copies, the representative (the credited original, else the earliest) first."""
    # by copy, not by article: an outlet's exact copy of an article has that article's id
    shown = {
        Copy(c.article_id, c.source, c.url, c.title, c.site_name, c.credited_source, c.first_seen): c
        for c in story.copies
    }
    return [shown[c] for c in representative_first(list(shown))]


def _entry(
    story: PeriodStory, copies: list[DigestCopy], since: datetime, texts: dict[int, str], outlets: dict[str, str]
) -> dict[str, Any]:
    head, others = copies[0], copies[1:]
    new_copies = sum(1 for c in story.copies if c.first_seen >= since)
    terms: list[str] = []
    for copy in [head, *others]:
        terms = list(dict.fromkeys(terms + matched_terms(copy.evidence)))[:MAX_TERMS]
    headline = display_text(head.title) or head.url
    excerpt = lead_excerpt(texts.get(head.article_id, ""), head.title)
    return {
        "story_id": story.story_id,
        "headline": headline,
        "url": safe_url(head.url),
        "outlet": outlets[head.source],
        "source": head.source,
        "language": head.language,
        "published": _iso(head.published),
        "first_seen": _iso(head.first_seen),
        "story_first_seen": _iso(story.first_seen),
        "relevance": round(max(c.relevance or 0.0 for c in story.copies), 3),
        "excerpt": excerpt,
        "terms": terms,
        "theme": theme_of(headline, excerpt, terms),
        # grown: the reader could have seen it before (a copy they would have been shown predates the period)
        "grew": any(c.first_seen < since for c in story.copies),
        "new_copies": new_copies,
        "copies": len(story.copies),
        "also_reported_by": _also_reported_by(others, outlets),
    }


def _also_reported_by(others: list[DigestCopy], outlets: dict[str, str]) -> list[dict[str, Any]]:
    """The other outlets of a story, each once (its earliest copy, and how many copies it has), in order of
    first sight; the representative's own outlet only where it has other copies."""
    by_source: dict[str, list[DigestCopy]] = {}
    for copy in others:
        by_source.setdefault(copy.source, []).append(copy)
    return [
        {
            "outlet": outlets[source],
            "source": source,
            "title": display_text(copies[0].title),
            "url": safe_url(copies[0].url),
            "first_seen": _iso(copies[0].first_seen),
            "last_seen": _iso(max(c.first_seen for c in copies)),
            "copies": len(copies),
        }
        for source, copies in by_source.items()
    ]


def _rank(entry: dict[str, Any]) -> tuple[float, str, int]:
    """Most relevant first (in steps of 0.1, so that recency decides among near-equals), then newest."""
    return (-round(entry["relevance"], 1), _negate(latest(entry)), -entry["story_id"])


def _negate(stamp: str) -> str:
    """A string that sorts in the reverse order of ``stamp`` (ISO times sort as strings)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in stamp)


def build_digest(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    name: str = "default",
    languages: Sequence[str] = (),
    sources: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The digest of ``[since, until)`` as plain data (schema ``ai4s-digest/1``)."""
    stories = period_stories(session, since, until, languages, sources)
    ordered = {story.story_id: _representative_first(story) for story in stories}
    texts = article_texts(session, (copies[0].article_id for copies in ordered.values()))
    names = outlet_names(stories)
    entries = sorted((_entry(story, ordered[story.story_id], since, texts, names) for story in stories), key=_rank)
    daily = daily_new_stories(session, until - CHART_DAYS * timedelta(days=1), until, languages, sources)
    health = period_health(session, since, until)
    silent = [s for s in silent_sources(session, until) if not sources or s.source in sources]
    new_articles = sum(entry["new_copies"] for entry in entries)
    since_text = _iso(since) or ""
    outlets = {
        o["source"]
        for entry in entries
        for o in [entry, *entry["also_reported_by"]]
        if o.get("last_seen", o["first_seen"]) >= since_text
    }
    return {
        "schema": SCHEMA,
        "name": name,
        "generated_at": _iso(generated_at or datetime.now(UTC)),
        "period": {"since": _iso(since), "until": _iso(until)},
        "filters": {"languages": list(languages), "sources": list(sources)},
        "counts": {
            "stories": len(entries),
            "new_stories": sum(1 for e in entries if not e["grew"]),
            "grown_stories": sum(1 for e in entries if e["grew"]),
            "articles": new_articles,
            "outlets": len(outlets),
        },
        "stories": entries,
        "top": [entry["story_id"] for entry in entries[:TOP_STORIES]],
        "sections": _sections(entries),
        "chart": _chart(daily, until),
        "active_outlets": _active_outlets(entries, since_text),
        "health": {
            "runs": sum(health.runs_by_status.values()),
            "runs_by_status": dict(sorted(health.runs_by_status.items())),
            "failed_runs": [
                {"sources": r.sources, "status": r.status, "started_at": _iso(r.started_at), "message": r.message}
                for r in health.failed
            ],
            "unhealthy_sources": [
                {"source": u.source, "failures": u.failures, "last_error": u.last_error} for u in health.unhealthy
            ],
            # sources with nothing new for several of their usual gaps between articles, though polled since
            "silent_sources": [
                {
                    "source": q.source,
                    "last_article_at": _iso(q.last_article_at),
                    "silent_for": describe_interval(q.silent_for(until).total_seconds()),
                    "usual_gap": describe_interval(q.usual_gap.total_seconds()),
                }
                for q in silent
            ],
        },
    }


def _sections(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The digest's sections: each theme with stories, in the themes' order, its stories in the digest's order."""
    return [
        {"key": theme.key, "title": theme.title, "stories": ids}
        for theme in themes()
        if (ids := [entry["story_id"] for entry in entries if entry["theme"] == theme.key])
    ]


def _chart(daily: dict[tuple[str, str], int], until: datetime) -> dict[str, Any]:
    """New stories per day (UTC) and language over the ``CHART_DAYS`` days ending at ``until``."""
    last = until.astimezone(UTC).date()
    days = [(last - timedelta(days=back)).isoformat() for back in range(CHART_DAYS - 1, -1, -1)]
    languages = sorted(
        {language for _, language in daily},
        key=lambda lang: (-sum(n for (_, other), n in daily.items() if other == lang), lang),
    )
    return {"days": days, "series": {lang: [daily.get((day, lang), 0) for day in days] for lang in languages}}


def _active_outlets(entries: list[dict[str, Any]], since: str) -> list[dict[str, Any]]:
    """The outlets with the most new copies in the period, most first."""
    counts: Counter[str] = Counter()
    for entry in entries:
        if entry["first_seen"] >= since:
            counts[entry["outlet"]] += 1
        for other in entry["also_reported_by"]:
            if other.get("last_seen", other["first_seen"]) >= since:
                counts[other["outlet"]] += other.get("copies", 1)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:ACTIVE_OUTLETS]
    return [{"outlet": outlet, "articles": n} for outlet, n in ranked]
