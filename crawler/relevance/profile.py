"""The topic profile and the relevance scorer: is an article about AI for Science, and why. Pure.

A :class:`TopicProfile` is data (``seeds/topics.toml``): terms in facets (``core``, ``ai``,
``science``, ``research``, ``entity``, ``seed``, ``negative``), each with a weight and a note of where it came
from, plus the scoring parameters. :class:`RelevanceScorer` matches the terms on normalised
text (traditional folded to simplified, pinyin annotations stripped, lower case) and turns
the weighted hits into a score in 0..1:

- a hit in the title counts ``title_weight`` times, in the lead ``lead_weight`` times;
- facet sums are divided by a length factor, so one passing mention in a long article is weak;
- AI terms and science terms only count together (their minimum): either alone is the
  general AI news or the science news that the topic is not;
- the features are combined linearly and squashed with a logistic function.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from crawler.text.normalize import normalize_for_matching, strip_related_headlines
from crawler.text.script import HAN, HAN_CHAR, character_class, weighted_length
from seeds import DEFAULT_PROFILE

FACETS = ("core", "ai", "science", "research", "entity", "seed", "negative")
#: A field named inside an institution's name ("北京量子信息科学研究院", "数学科学学院") says nothing
#: about what the article is about: such a science hit counts as research practice instead.
_IN_INSTITUTION_NAME = re.compile(
    f"[{character_class(HAN)}]{{0,8}}?(?:研究院|研究所|研究中心|学院|大学|实验室|委员会|学会|协会)"
)


class TopicsError(ValueError):
    """A topic profile that cannot be used, with a message saying where and why."""


@dataclass(frozen=True)
class Term:
    """A term of the profile: its text (normalised form), facet, weight and provenance."""

    text: str
    facet: str
    weight: float = 1.0
    origin: str = ""


@dataclass(frozen=True)
class Scoring:
    """Parameters of the score; ``threshold`` decides ``relevant``."""

    threshold: float = 0.5
    title_weight: float = 3.0
    lead_weight: float = 2.0
    lead_chars: int = 300
    length_unit: int = 1500
    bias: float = -5.0
    w_core: float = 2.5
    w_pair: float = 2.0
    w_ai: float = 0.3
    w_science: float = 0.3
    w_research: float = 0.2
    w_entity: float = 1.0
    w_seed: float = 0.1
    w_negative: float = -1.5


@dataclass(frozen=True)
class TopicProfile:
    """Terms and scoring parameters of a topic."""

    terms: tuple[Term, ...]
    scoring: Scoring = field(default_factory=Scoring)


@dataclass(frozen=True)
class Hit:
    """Evidence: a term found in an article, how often and where (``title``, ``lead``, ``body``)."""

    term: str
    facet: str
    count: int
    where: tuple[str, ...]


@dataclass(frozen=True)
class Relevance:
    """A score in 0..1, the verdict at the profile's threshold, and the evidence."""

    score: float
    relevant: bool
    hits: tuple[Hit, ...]
    features: dict[str, float]

    def evidence(self, limit: int = 12) -> list[dict[str, object]]:
        """The strongest hits as plain dicts (for storage and reports)."""
        ranked = sorted(self.hits, key=lambda h: (h.facet != "core", -h.count, h.term))
        return [{"term": h.term, "facet": h.facet, "count": h.count, "where": list(h.where)} for h in ranked[:limit]]

    def evidence_json(self) -> str:
        """The strongest hits as the JSON text an article stores (``articles.evidence``)."""
        return json.dumps(self.evidence(), ensure_ascii=False)


# -- reading and writing profiles --------------------------------------------------------------
def load_profile(path: Path | str | None = None) -> TopicProfile:
    """The profile in the TOML file at ``path`` (default ``seeds/topics.toml``); :class:`TopicsError` if unusable."""
    path = Path(path) if path else DEFAULT_PROFILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopicsError(f"cannot read topic profile {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TopicsError(f"{path}: not valid TOML: {exc}") from None
    return parse_profile(document, path)


def parse_profile(document: dict, path: Path | str = "<topics>") -> TopicProfile:
    """A profile from a parsed TOML document; :class:`TopicsError` names the entry and key at fault."""
    known = {f.name: f for f in fields(Scoring)}
    scoring_table = document.get("scoring", {})
    if not isinstance(scoring_table, dict):
        raise TopicsError(f"{path}: [scoring] must be a table")
    values: dict[str, Any] = {}
    for key, value in scoring_table.items():
        if key not in known:
            raise TopicsError(f"{path}: [scoring]: unknown key {key!r}")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TopicsError(f"{path}: [scoring]: {key} must be a number")
        values[key] = int(value) if known[key].type == "int" else float(value)
    scoring = Scoring(**values)
    if not 0 < scoring.threshold < 1:
        raise TopicsError(f"{path}: [scoring]: threshold must be between 0 and 1")
    entries = document.get("term", [])
    if not isinstance(entries, list) or not entries:
        raise TopicsError(f"{path}: no [[term]] entries")
    terms = []
    for index, entry in enumerate(entries, start=1):
        where = f"{path}: term #{index}"
        if not isinstance(entry, dict):
            raise TopicsError(f"{where}: must be a table")
        unknown = set(entry) - {"text", "facet", "weight", "origin"}
        if unknown:
            raise TopicsError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        text, facet, weight = entry.get("text"), entry.get("facet"), entry.get("weight", 1.0)
        if not isinstance(text, str) or not text.strip():
            raise TopicsError(f"{where}: key 'text' must be a non-empty string")
        if facet not in FACETS:
            raise TopicsError(f"{where} ({text!r}): key 'facet' must be one of {', '.join(FACETS)}")
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
            raise TopicsError(f"{where} ({text!r}): key 'weight' must be a number >= 0")
        terms.append(Term(normalize_for_matching(text), facet, float(weight), str(entry.get("origin", ""))))
    return TopicProfile(tuple(terms), scoring)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def dump_profile(profile: TopicProfile, header: str = "") -> str:
    """The profile as TOML text in a stable order (facet, then term), for review in git."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += ["", "[scoring]"]
    for item in fields(Scoring):
        lines.append(f"{item.name} = {getattr(profile.scoring, item.name)!r}")
    order = {facet: i for i, facet in enumerate(FACETS)}
    for term in sorted(profile.terms, key=lambda t: (order[t.facet], t.text)):
        lines += [
            "",
            "[[term]]",
            f"text = {_toml_string(term.text)}",
            f'facet = "{term.facet}"',
            f"weight = {round(term.weight, 3)!r}",
        ]
        if term.origin:
            lines.append(f"origin = {_toml_string(term.origin)}")
    return "\n".join(lines) + "\n"


# -- scoring --------------------------------------------------------------------------------------
def _is_latin_word_char(char: str) -> bool:
    return ("a" <= char <= "z") or ("0" <= char <= "9")


class RelevanceScorer:
    """Scores articles against a :class:`TopicProfile`; build it once, call :meth:`score` per article.

    Terms are found in one pass with an Aho-Corasick automaton (pyahocorasick); among
    overlapping hits the leftmost longest wins, so "科学智能" is one core hit, not a hit of
    "科学" too. Latin terms only match whole words (boundaries against Latin letters and
    digits, so "AI驱动" holds the word "ai"); a trailing ``*`` matches any word ending.
    """

    def __init__(self, profile: TopicProfile) -> None:
        import ahocorasick

        self.profile = profile
        self._automaton = ahocorasick.Automaton()
        keys: dict[str, list[Term]] = defaultdict(list)
        for term in profile.terms:
            keys[term.text.rstrip("*")].append(term)
        for key, terms in keys.items():
            self._automaton.add_word(key, (key, tuple(terms)))
        self._automaton.make_automaton()

    def _matches(self, segment: str) -> list[tuple[int, int, Term]]:
        """Non-overlapping term hits of ``segment`` as (start, end, term), leftmost longest first."""
        found = []
        for last, (key, terms) in self._automaton.iter(segment):
            start, end = last - len(key) + 1, last + 1
            for term in terms:
                if not HAN_CHAR.search(key):
                    if start > 0 and _is_latin_word_char(segment[start - 1]):
                        continue
                    stop = end
                    if term.text.endswith("*"):
                        while stop < len(segment) and (_is_latin_word_char(segment[stop]) or segment[stop] == "-"):
                            stop += 1
                    elif stop < len(segment) and _is_latin_word_char(segment[stop]):
                        continue
                    found.append((start, stop, term))
                else:
                    found.append((start, end, term))
        # Leftmost first; then the longest span; then an exact term over a wildcard one.
        found.sort(key=lambda hit: (hit[0], -(hit[1] - hit[0]), hit[2].text.endswith("*")))
        chosen, reach = [], 0
        for start, end, term in found:
            if start >= reach:
                chosen.append((start, end, term))
                reach = end
        return chosen

    def score(self, title: str | None, text: str) -> Relevance:
        """The relevance of an article from its title and text (without other articles' headlines, which a text
        stored before extraction left them out may still hold)."""
        params = self.profile.scoring
        parts = [("title", normalize_for_matching(title or ""), params.title_weight)]
        body = normalize_for_matching(strip_related_headlines(text))
        parts += [("lead", body[: params.lead_chars], params.lead_weight), ("body", body[params.lead_chars :], 1.0)]
        sums: dict[str, float] = defaultdict(float)
        counts: dict[tuple[str, str], int] = defaultdict(int)
        places: dict[tuple[str, str], set[str]] = defaultdict(set)
        for where, segment, weight in parts:
            for _, end, term in self._matches(segment):
                if term.facet == "science" and _IN_INSTITUTION_NAME.match(segment, end):
                    term = Term(term.text, "research", term.weight, term.origin)
                sums[term.facet] += term.weight * weight
                counts[(term.text, term.facet)] += 1
                places[(term.text, term.facet)].add(where)
        size = weighted_length(body)
        length = max(1.0, size / params.length_unit) ** 0.5
        feature = {facet: math.log1p(sums[facet] / length) for facet in FACETS}
        feature["pair"] = min(feature["ai"], feature["science"])
        z = (
            params.bias
            + params.w_core * feature["core"]
            + params.w_pair * feature["pair"]
            + params.w_ai * feature["ai"]
            + params.w_science * feature["science"]
            + params.w_research * feature["research"]
            + params.w_entity * feature["entity"]
            + params.w_seed * feature["seed"]
            + params.w_negative * feature["negative"]
        )
        score = 1 / (1 + math.exp(-z))
        hits = tuple(
            Hit(text, facet, n, tuple(w for w in ("title", "lead", "body") if w in places[(text, facet)]))
            for (text, facet), n in counts.items()
        )
        return Relevance(round(score, 4), score >= params.threshold, hits, {k: round(v, 3) for k, v in feature.items()})
