"""URL identity: which URL is "the same page", and which URLs are http(s) at all (which addresses
may be fetched is the address policy's, :mod:`crawler.text.addresses`).

``clean_url`` removes what never changes the page (tracking and session parameters,
fragments) and is safe to request; ``canonical_url`` goes further (host case, an IP address in one spelling, default
port, sorted query, trailing slash, repeated slashes, a directory's index file, the AMP form of a page) and is
the identity the corpus stores and hashes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from crawler.text.addresses import DEFAULT_PORTS, MalformedHost, host_address, normal_host

#: Query parameters that only track a visit or a session; dropped from every URL.
TRACKING_PARAMETERS = frozenset(
    {
        # campaign and click trackers
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "utm_id",
        "utm_name",
        "utm_reader",
        "utm_brand",
        "utm_social",
        "utm_social-type",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "fbclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "ref_src",
        "ref_url",
        "cmp",
        "cmpid",
        "ncid",
        "ocid",
        "icid",
        "wt.mc_id",
        "xtor",
        "at_medium",
        "at_campaign",
        "fb_ref",
        "fb_source",
        "fb_action_ids",
        "fb_action_types",
        # Chinese portals (Alibaba/Tencent/NetEase/Sina share and position trackers; WeChat's share parameters)
        "spm",
        "scm",
        "share_token",
        "sharer_shareid",
        "sharer_sharetime",
        "wfr",
        "isappinstalled",
        "share_from",
        "tt_from",
        "utm_from",
        "mpshare",
        "srcid",
        "scene",
        "ascene",
        "clicktime",
        "enterid",
        "pass_ticket",
        "exportkey",
        # cache busters: a new value at every request (jQuery's ``$.ajax({cache: false})``, ExtJS's, hand-made ones)
        "_",
        "_dc",
        "_t",
        "_ts",
        "_r",
        "timestamp",
        "nocache",
        "cachebuster",
        "cache_buster",
        "cb",
        "rnd",
        "rand",
        "random",
        # session ids ("sid" only with a session's value: see _SESSION_VALUED)
        "sessionid",
        "session_id",
        "sessid",
        "phpsessid",
        "jsessionid",
        "aspsessionid",
        "cfid",
        "cftoken",
    }
)

_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
#: Parameters that hold a session's token on some sites and an article's id on others (PHP-Nuke's
#: ``modules.php?name=News&file=article&sid=101``, Slashcode's ``sid=07/01/23/1234217``, ``view.php?sid=a81f3c``):
#: dropped only with a session's value, a long run of letters and digits (``sid=5f2b60531c9e1``).
_SESSION_VALUED = frozenset({"sid", "s"})
_SESSION_TOKEN = re.compile(r"(?=[0-9a-z]*[a-z])(?=[0-9a-z]*[0-9])(?:[0-9a-f]{12,}|[0-9a-z]{20,})", re.IGNORECASE)
#: Parameters that tag where a visitor came from on some sites and hold an id or an offset on others (``?ref=A1234``,
#: a listing's ``?from=20``): dropped only with a tag's value, a word (``?ref=rss``, ``?from=timeline``,
#: ``?source=newsletter``, ``?ref=feed_2``).
_TAG_VALUED = frozenset({"ref", "from", "source"})
_TAG = re.compile(r"[a-z]{2,}(?:[_.-][a-z]+)*(?:[_.-]?\d{1,2})?", re.IGNORECASE)
#: Parameters that hold a time or a random number as a cache buster on some sites and a type, version or id on others
#: (YouTube's ``?v=``): dropped only with such a value, seconds or milliseconds since 1970 or a fraction of a random
#: draw (``?t=1733212345``, ``?v=1733212345000``, ``?r=0.8419``).
_TIME_VALUED = frozenset({"t", "ts", "time", "v", "ver", "r"})
_TIME_OR_RANDOM = re.compile(r"1\d{9}(?:\d{3})?|0?\.\d{4,}")
#: A directory's index file as the last segment of a path: the directory's own page (``/a/index.html`` is ``/a/``).
INDEX_FILE = re.compile(r"/(?:index|default)\.(?:html?|shtml|php|aspx?|jsp)$", re.IGNORECASE)
#: The AMP form of a page, as a first or last path segment (``/amp/news/story``, ``/story/amp``), before the
#: extension (``story.amp.html``) or a parameter (``?amp=1``, ``?outputType=amp``).
_AMP_SEGMENT = re.compile(r"^/amp(?=/)|/amp/?$|\.amp(?=\.s?html?$)", re.IGNORECASE)
_AMP_PARAMETER = re.compile(r"amp(?:=.*)?|outputtype=amp", re.IGNORECASE)
#: An ampersand escaped once too often (``&amp;`` in a feed's, a sitemap's or a page's link after its markup was read):
#: a parameter's separator, never part of a name (``?id=50&amp;page=2`` asked the server for ``amp;page``, page 1).
_ESCAPED_AMPERSAND = re.compile(r"&(?:amp;)+", re.IGNORECASE)
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sid|sessionid)=[^/?#]*", re.IGNORECASE)
_MANY_SLASHES = re.compile(r"//+")


def _is_tracking(pair: str) -> bool:
    """Whether a query's ``name=value`` pair only tracks a visit or a session."""
    name, _, value = pair.partition("=")
    lowered = name.lower()
    if lowered in _SESSION_VALUED:
        return bool(_SESSION_TOKEN.fullmatch(value))
    if lowered in _TAG_VALUED:
        return bool(_TAG.fullmatch(value))
    if lowered in _TIME_VALUED:
        return bool(_TIME_OR_RANDOM.fullmatch(value))
    return lowered in TRACKING_PARAMETERS or lowered.startswith(_TRACKING_PREFIXES)


def clean_url(url: str) -> str:
    """``url`` without fragment, tracking or session-id parameters, its parameters separated by ``&`` where a
    separator was left escaped as ``&amp;``; otherwise as given (safe to request)."""
    parts = urlsplit(url.strip())
    path = _PATH_SESSION.sub("", parts.path)
    pairs = _ESCAPED_AMPERSAND.sub("&", parts.query).split("&")
    query = "&".join(pair for pair in pairs if pair and not _is_tracking(pair))
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


@lru_cache(maxsize=1024)  # each link is canonicalised where it is named, then where known links are dropped
def canonical_url(url: str) -> str:
    """The identity of ``url``: cleaned, scheme and host lower-cased, an IP address in one spelling (dotted decimal,
    IPv6 compressed), default port, query sorted, no trailing slash, no repeated slashes, no index file, not the AMP
    form."""
    cleaned = canonicalize_url(clean_url(url), keep_fragments=False)
    parts = urlsplit(cleaned)
    query = parts.query
    if query:
        query = "&".join(pair for pair in query.split("&") if not _AMP_PARAMETER.fullmatch(pair))
    scheme = parts.scheme.lower()
    host = normal_host(parts.hostname or "")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port and parts.port != DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{parts.port}"
    path = _MANY_SLASHES.sub("/", parts.path) or "/"
    path = INDEX_FILE.sub("/", _AMP_SEGMENT.sub(_without_amp, path))
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def _without_amp(match: re.Match[str]) -> str:
    """What an AMP marker of a path becomes: nothing before an extension or a path's rest, else a slash."""
    return "" if match.group().startswith(".") or match.start() == 0 else "/"


def is_well_formed(url: str) -> bool:
    """Whether ``url`` can be taken apart at all: a bracketed host that is no IPv6 address (``http://[x/``), a port
    that is no number or past 65535, or a lone surrogate make it no URL; a replacement character (U+FFFD) makes it a
    link whose bytes were lost in decoding (raw GBK in a UTF-8 sitemap), which no server knows."""
    if "\ufffd" in url:
        return False
    try:
        url.encode("utf-8")
        urlsplit(url).port  # noqa: B018 - reading the port checks it
    except (ValueError, UnicodeEncodeError):
        return False
    return True


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host: the only kind the crawler ever fetches."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def url_host(url: str) -> str:
    """The host of ``url`` in one spelling (lower case, no trailing dot, an IP address in its canonical form; empty
    when it has none, or is no URL)."""
    try:
        return normal_host(urlsplit(url).hostname or "")
    except ValueError:
        return ""


#: Host prefixes of a site's other editions (mobile, WAP, AMP, ``www.``): a page may name its edition there as its own.
_EDITION_PREFIX = re.compile(r"^(?:www|m|wap|mobile|amp)\.", re.IGNORECASE)


def _site_of(parts: SplitResult) -> tuple[str, int | None]:
    """A URL's host without the prefix of a site's edition, and its port where it is not the default."""
    host = _EDITION_PREFIX.sub("", (parts.hostname or "").rstrip("."))
    port = parts.port
    return host, (None if port == DEFAULT_PORTS.get(parts.scheme) else port)


def declared_identity(page_url: str, declared: str | None) -> str | None:
    """The canonical URL of the page a page declares it is (``<link rel="canonical">``, ``og:url``), where that
    is another URL of its own site (its ``www.``, ``m.``, ``wap.`` or AMP edition counts, http or https) and neither
    the site's home page nor a section above the page (what a template that gives every page one canonical URL
    names); ``None`` otherwise."""
    if not declared or not is_well_formed(declared) or not is_http_url(declared):
        return None
    named, own = canonical_url(declared), canonical_url(page_url)
    if named == own:
        return None
    named_parts, own_parts = urlsplit(named), urlsplit(own)
    if _site_of(named_parts) != _site_of(own_parts):
        return None
    if not named_parts.query:
        if named_parts.path in ("", "/") or (named_parts.path == own_parts.path and own_parts.query):
            return None  # the home page; the page's own script without the query that names the page
        segments = [segment for segment in named_parts.path.split("/") if segment]
        own_segments = [segment for segment in own_parts.path.split("/") if segment]
        edition = len(own_segments) == len(segments) + 1 and _EDITION_SEGMENT.fullmatch(own_segments[-1])
        if len(segments) < len(own_segments) and segments == own_segments[: len(segments)] and not edition:
            return None  # a section the page is in (not /story/ named by /story/print/)
    return named


#: The last path segment of a page's other edition under its own path (WordPress's ``/story/print/``; an AMP
#: segment is folded by :func:`canonical_url` already).
_EDITION_SEGMENT = re.compile(r"(?:print|printable|printer|print-friendly|mobile|full|all)(?:\.\w+)?", re.IGNORECASE)


def identity_spellings(url: str) -> list[str]:
    """The canonical URL of ``url`` as one site may spell it: http and https, its host bare and with each prefix of
    a site's edition (``www.``, ``m.``, ``wap.``, ``mobile.``, ``amp.``; an IP address only as it is)."""
    parts = urlsplit(canonical_url(url))
    host, port = _site_of(parts)
    if not host or _is_address(host):
        hosts = [parts.netloc]
    else:
        suffix = f":{port}" if port else ""
        hosts = [f"{prefix}{host}{suffix}" for prefix in ("", "www.", "m.", "wap.", "mobile.", "amp.")]
    return [
        urlunsplit((scheme, netloc, parts.path, parts.query, "")) for scheme in ("https", "http") for netloc in hosts
    ]


def _is_address(host: str) -> bool:
    """Whether ``host`` is an IP address (or a malformed one), not a name a site's editions prefix."""
    try:
        return host_address(host) is not None
    except MalformedHost:
        return True
