"""URL identity: which URL is "the same page", and which URLs are http(s) at all (which addresses
may be fetched is the address policy's, :mod:`crawler.text.addresses`).

``clean_url`` removes what never changes the page (tracking and session parameters,
fragments) and is safe to request; ``canonical_url`` goes further (host case, default
port, sorted query, trailing slash) and is the identity the corpus stores and hashes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

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
        "cmpid",
        "ncid",
        "ocid",
        "icid",
        "wt.mc_id",
        "xtor",
        "at_medium",
        "at_campaign",
        # Chinese portals (Alibaba/Tencent/NetEase/Sina share and position trackers)
        "spm",
        "scm",
        "from",
        "share_token",
        "sharer_shareid",
        "sharer_sharetime",
        "wfr",
        "isappinstalled",
        "share_from",
        "tt_from",
        "utm_from",
        # session ids
        "sid",
        "sessionid",
        "session_id",
        "phpsessid",
        "jsessionid",
        "aspsessionid",
        "cfid",
        "cftoken",
    }
)

_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sid|sessionid)=[^/?#]*", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(_TRACKING_PREFIXES)


def clean_url(url: str) -> str:
    """``url`` without fragment, tracking or session-id parameters; otherwise as given (safe to request)."""
    parts = urlsplit(url.strip())
    path = _PATH_SESSION.sub("", parts.path)
    query_names = [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
    drop = [name for name in query_names if _is_tracking(name)]
    cleaned = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    if drop:
        cleaned = url_query_cleaner(cleaned, drop, remove=True, unique=False, keep_fragments=False)
    return cleaned


@lru_cache(maxsize=1024)  # each link is canonicalised where it is named, then where known links are dropped
def canonical_url(url: str) -> str:
    """The identity of ``url``: cleaned, scheme and host lower-cased, default port, query sorted, no trailing slash."""
    cleaned = canonicalize_url(clean_url(url), keep_fragments=False)
    parts = urlsplit(cleaned)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{parts.port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host: the only kind the crawler ever fetches."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def url_host(url: str) -> str:
    """The lower-cased host name of ``url`` (empty when it has none)."""
    return (urlsplit(url).hostname or "").lower().rstrip(".")
