"""The digest's sections: which theme a story belongs to (weather and climate, materials and chemistry,
life sciences and medicine, ...), from the terms of each theme (``themes.toml``, data) found in its
headline, its lead and the topic terms it matched. Pure."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from crawler.text.normalize import to_simplified

THEMES_FILE = Path(__file__).parent / "themes.toml"
#: How much a term found in each place counts: the headline says what the story is about.
HEADLINE, MATCHED, LEAD = 3, 2, 1


@dataclass(frozen=True)
class Theme:
    """A section of the digest: its key, its title and the pattern of its terms."""

    key: str
    title: str
    pattern: re.Pattern[str] | None  # None: the last section, for the stories no other theme takes


def _pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """Latin terms at the start of a word, Chinese ones anywhere."""
    if not terms:
        return None
    parts = [(r"(?<![a-z0-9])" if term[:1].isascii() else "") + re.escape(term) for term in terms]
    return re.compile("|".join(sorted(parts, key=len, reverse=True)))


@cache
def themes(path: Path = THEMES_FILE) -> tuple[Theme, ...]:
    """The themes, in the order of their sections."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(Theme(t["key"], t["title"], _pattern([x.casefold() for x in t["terms"]])) for t in data["theme"])


def theme_of(headline: str, lead: str, matched: Sequence[str]) -> str:
    """The key of the theme whose terms the story holds most (the headline counting most)."""
    places = [(to_simplified(headline.casefold()), HEADLINE), (to_simplified(lead.casefold()), LEAD)]
    places.append((to_simplified(" | ".join(matched).casefold()), MATCHED))
    best, best_score = themes()[-1].key, 0
    for theme in themes():
        if theme.pattern is None:
            continue
        score = sum(weight * len(theme.pattern.findall(text)) for text, weight in places)
        if score > best_score:
            best, best_score = theme.key, score
    return best
