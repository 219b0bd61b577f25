"""An article's headline from the title a page gives (Open Graph, JSON-LD, ``<title>``): without the site's
name that most templates add to it ("Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung", "… ：朝日新聞デジタル",
"… – DW – 13.06.2023"). Pure: no Scrapy, no database.

Two signs tell the site's part from the headline, as Readability.js and newspaper read them:

- the page's own headline: where a heading (``<h1>``) is the title up to a separator, the heading is the
  headline and the rest of the title is the site's ("… - National | Globalnews.ca");
- the site's name: where the part of the title after (or before) a separator is made only of the site's
  name, its host name and dates, that part goes.

A title is cut only at a separator; at a heading only where the part kept is at least half as long as the
part dropped and is not the site's name (a site's logo in an ``<h1>`` never becomes the headline), at the
site's name only where what is kept is long enough to be a headline. A headline with a colon or a dash of
its own ("Climate change: Labor on track …") stays whole unless the rest names the site; a kicker before
the heading stays too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from crawler.text.script import HAN, HANGUL, character_class, weighted_length

_HAN = character_class(HAN)
_HANGUL = character_class(HANGUL)

#: Where a site's name is joined to a headline: bars and colons (with or without spaces, as CJK titles write
#: them), bullets, and dashes, slashes or underscores with a space on one side or between non-Latin
#: characters ("标题-新华网"), never inside a word ("US-Zinsen"). ``ㅣ`` is the Hangul letter Korean titles use
#: as a bar.
SEPARATOR = re.compile(
    r"\s*(?:[|｜ㅣ:：·•*~]+|::|-{2,})\s*"
    r"|\s+[-‐–—_/\\]+\s*|\s*[-‐–—_/\\]+\s+"
    r"|(?<=[^\x00-\x7f])[-‐–—_]+(?=[^\x00-\x7f])"
)
#: The last piece of a Chinese title that names a publication, where no tag names the site: a few Han
#: characters ending as the names of news sites, papers, agencies and broadcasters do (新华网, 中国政府网,
#: 科技日报, 新华社, 央视网(cctv.com), 澎湃新闻-The Paper), and words that end so but name no site.
_CHINESE_PUBLICATION = re.compile(
    rf"^[{_HAN}]{{1,8}}(?:网|網|报|報|社|台|新闻|新聞|在线|在線)(?:\s*[(（][\w.]+[)）]|-[A-Za-z ]+)?$"
)
#: A channel of a Chinese portal, between a headline and the portal's name ("_教育频道_中国青年网").
_CHINESE_CHANNEL = re.compile(rf"^[{_HAN}]{{1,6}}(?:频道|頻道)$")
_NOT_PUBLICATIONS = frozenset({"互联网", "物联网", "因特网", "局域网", "以太网", "电网", "互聯網", "物聯網", "電網"})
#: A section's label between a headline and the site's name ("… - 科技 - 人民网", "…_国务院文件_中国政府网",
#: "… - Research - Nature", "…-정치ㅣ한국일보"): up to six Han or Hangul characters, or one or two words of Latin
#: letters.
_SECTION_LABEL = re.compile(
    rf"^(?:[{_HAN}{_HANGUL}]{{1,6}}|[A-Za-z\u00c0-\u024f]{{2,12}}(?: [A-Za-z\u00c0-\u024f]{{2,12}})?)$"
)
#: How many times as long as a section's label the headline before it is, at least.
SECTION_SHARE = 2
#: A part of a title that is only a date (and a time): "28.04.2023", "31.10.2023, 10.19 Uhr".
_DATE_ONLY = re.compile(r"[\d\s.,:/\-]++(?:uhr|h)?")  # in full, with two digits in a row (_TWO_DIGITS)
_TWO_DIGITS = re.compile(r"\d\d")
#: The last labels of a host name that may name its site (runs of them are keyed: a host of thousands took seconds).
MAX_HOST_LABELS = 8
#: A title longer than this (CJK characters count double) is no template's headline and site name: it is not cut
#: (each cut weighs every piece again; a hostile title of thousands of separators took seconds).
MAX_TITLE_TO_CUT = 600
#: The fewest characters (CJK characters count double) a headline cut from a title keeps.
MIN_HEADLINE_CHARS = 6
_NOT_WORD = re.compile(r"[\W_]+")
#: Host labels that name no site.
_GENERIC_LABELS = frozenset({"www", "m", "mobile", "amp", "news", "web", "en"})
#: Second-level labels of country domains (``news.example.com.cn``, ``site.co.uk``): part of the suffix.
_SECOND_LEVEL = frozenset({"com", "org", "net", "gov", "edu", "co", "ac", "or", "ne", "go"})


def _folded(value: str) -> str:
    """``value`` compared as a reader would: width and case folded, spacing single."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _key(value: str) -> str:
    """``value`` with only its letters and digits, folded: "Börsen-Zeitung" and "börsen zeitung" alike."""
    return _NOT_WORD.sub("", _folded(value))


def _host_keys(host: str | None, domain_only: bool = False) -> set[str]:
    """What a title may call a site by its host: each label that names something, and runs of consecutive
    labels ("golem.de" for www.golem.de, "hejfish.com" for fischerhuette.hejfish.com); with ``domain_only``,
    the registered domain's name alone ("nikkei", "nikkei.com" for asia.nikkei.com)."""
    labels = [_key(label) for label in (host or "").lower().split(".") if label][-MAX_HOST_LABELS:]
    if all(label.isdigit() for label in labels):  # an IP address names no site
        return set()
    suffix = 2 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL else 1  # "com", "com.cn": no site's name
    first = max(len(labels) - suffix - 1, 0) if domain_only else 0
    keys = {label for label in labels[first:-suffix] if label not in _GENERIC_LABELS and len(label) >= 2}
    for start in range(first, len(labels) - suffix):
        for end in range(start + 2, len(labels) + 1):
            keys.add("".join(labels[start:end]))
    return keys


def _names_site(part: str, site_key: str, host_keys: set[str]) -> bool:
    """True when ``part`` of a title is the site's name (or a piece of it of three characters or more, or it with
    a little more), its host name, or reads as the name of a Chinese publication."""
    key = _key(part)
    if not key:
        return False
    if key in host_keys or key.removeprefix("the") in host_keys:
        return True
    if _CHINESE_PUBLICATION.match(part.strip()) and part.strip() not in _NOT_PUBLICATIONS:
        return True
    if not site_key:
        return False
    if key == site_key or (len(key) >= 3 and key in site_key):
        return True
    # the site's name with a little more ("Globalnews.ca" for Global News), not a sentence that mentions it
    return len(site_key) >= 3 and site_key in key and len(key) <= 2 * len(site_key)


def _is_site_part(part: str, site_key: str, host_keys: set[str]) -> bool:
    """True when every piece of ``part`` is the site's name, one of its channels or a date, and at least one
    names the site."""
    pieces = [piece.strip() for piece in SEPARATOR.split(part) if piece and piece.strip()]
    named = [_names_site(piece, site_key, host_keys) for piece in pieces]
    other = [_is_date_only(_folded(piece)) or bool(_CHINESE_CHANNEL.match(piece)) for piece in pieces]
    return any(named) and all(n or o for n, o in zip(named, other, strict=True))


def _mark(separator: str) -> str:
    """A separator's symbols, without the spaces around them (" - " and "-" alike)."""
    return "".join(separator.split())


def _is_section_then_site(kept: str, after: str, separator: str, site_key: str, host_keys: set[str]) -> bool:
    """True when ``after`` is a section's label, then the site's part, joined by the same ``separator`` that
    joins it to the headline ``kept`` ("… - 科技 - 人民网", "…_国务院文件_中国政府网"), and the label is short
    beside the headline: a headline's own colon, dash or last words are no section ("外交部：中方坚决反对-新华网",
    "上海合作组织-中亚峰会-新华网")."""
    mark = _mark(separator)
    found = SEPARATOR.search(after)
    if found is None or _mark(found.group()) != mark or mark in (":", "："):
        return False
    label, rest = after[: found.start()].strip(), after[found.end() :].strip()
    return (
        _SECTION_LABEL.match(label) is not None
        and weighted_length(kept) >= SECTION_SHARE * weighted_length(label)
        and _is_site_part(rest, site_key, host_keys)
    )


def _cuts(title: str) -> Iterator[tuple[str, str, str]]:
    """Each way of cutting ``title`` in two at a separator: (before, after, the separator), the two parts
    stripped and not empty."""
    for found in SEPARATOR.finditer(title):
        before, after = title[: found.start()].strip(), title[found.end() :].strip()
        if _key(before) and _key(after):
            yield before, after, found.group()


def _outweighs(kept: str, dropped: str) -> bool:
    """True when the part of a title kept is at least half as long as the part dropped (CJK characters count
    double), and long enough to be a headline."""
    return weighted_length(kept) >= max(weighted_length(dropped) / 2, MIN_HEADLINE_CHARS)


def _is_headline(part: str, site_key: str, host_keys: set[str]) -> bool:
    """True when what is left of a title once the site's name is cut is long enough to be a headline and is
    not the site's name itself."""
    return weighted_length(part) >= MIN_HEADLINE_CHARS and not _is_site_part(part, site_key, host_keys)


def _is_date_only(piece: str) -> bool:
    """Whether a (folded) piece of a title is only a date, and perhaps a time: "28.04.2023", "31.10.2023, 10.19 uhr"."""
    return bool(_DATE_ONLY.fullmatch(piece) and _TWO_DIGITS.search(piece))


def headline(
    title: str | None, headings: Iterable[str] = (), site_name: str | None = None, host: str | None = None
) -> str | None:
    """The headline in a page's ``title``: without the site's name (and dates) that the template joins to it.
    ``headings`` are the page's ``<h1>`` texts, ``site_name`` what its tags call the site, ``host`` the host
    name of its URL. A title with nothing to cut is returned as it is."""
    if not title or not title.strip():
        return title
    title = title.strip()
    if weighted_length(title) > MAX_TITLE_TO_CUT:
        return title
    folded_headings = {_folded(heading) for heading in headings if heading and heading.strip()}
    if _folded(title) in folded_headings:
        return title
    cuts = list(_cuts(title))
    site_key, host_keys = _key(site_name or ""), _host_keys(host)
    for before, after, _ in cuts:
        heading = _folded(before) in folded_headings and _outweighs(before, after)
        if heading and not _is_site_part(before, site_key, host_keys):
            return before
    for before, after, separator in cuts:  # the longest site part first: "… | DW | 28.04.2023"
        site_part = _is_site_part(after, site_key, host_keys) or _is_section_then_site(
            before, after, separator, site_key, host_keys
        )
        if site_part and _is_headline(before, site_key, host_keys):
            return before
    # A site's name before the headline: the whole of it, or the domain's name ("China: …" on a China Daily
    # page is a kicker, not the site), shorter than the headline.
    domain_keys = _host_keys(host, domain_only=True)
    for before, after, _ in reversed(cuts):
        site_first = _key(before) in {site_key, *domain_keys} - {""}
        if (
            site_first
            and _is_headline(after, site_key, host_keys)
            and weighted_length(after) >= weighted_length(before)
        ):
            return after
    return title
