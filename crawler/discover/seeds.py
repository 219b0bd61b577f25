"""Seeds to sources: the outlet a seed article came from, proposed as a source to discover.

A seed added from a web page came from that page's site; a seed's text may credit another outlet
(``来源：新华网``, ``Source: Xinhua``), which first published it. Either is worth following. An outlet named
by its domain, or one of the few outlets of :data:`KNOWN_OUTLETS`, has a home page to run
``ai4s sources discover`` on; another is named, for the user to find its home page. An outlet a source
already follows is said to be followed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crawler.sources import Source
from crawler.stories.fingerprint import credited_source
from crawler.text.entrypoints import site_root
from crawler.text.urls import is_http_url, url_host

#: Home pages of outlets that seed articles credit by name (the outlets of the shipped sources file).
KNOWN_OUTLETS: dict[str, str] = {
    "新华网": "https://www.news.cn/",
    "新華網": "https://www.news.cn/",
    "新华社": "https://www.news.cn/",
    "新華社": "https://www.news.cn/",
    "xinhua": "https://english.news.cn/",
    "xinhuanet": "https://english.news.cn/",
    "网易": "https://www.163.com/",
    "网易新闻": "https://www.163.com/",
    "netease": "https://www.163.com/",
    "中国政府网": "https://www.gov.cn/",
    "中國政府網": "https://www.gov.cn/",
    "科技日报": "https://www.stdaily.com/",
    "科技日報": "https://www.stdaily.com/",
    "消费日报": "http://www.xfrb.com.cn/",
    "消费日报网": "http://www.xfrb.com.cn/",
    "科技部": "https://www.most.gov.cn/",
    "人民网": "http://www.people.com.cn/",
    "人民網": "http://www.people.com.cn/",
}
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$", re.IGNORECASE)


@dataclass(frozen=True)
class OutletProposal:
    """An outlet a seed came from: its name as the seed gives it, how it was found, its home page when known,
    and the source that already follows it, if one does."""

    outlet: str
    found: str  # "the seed's page" or "credited in its text"
    home: str | None = None
    followed_by: str | None = None

    def advice(self) -> str:
        """What the user may do about it, in one line."""
        where = f"{self.outlet} ({self.found})"
        if self.followed_by is not None:
            return f"{where} is already followed by source {self.followed_by!r}"
        if self.home is None:
            return f"{where} is not a source yet: find its home page, then run: ai4s sources discover URL"
        return f"{where} is not a source yet; to follow it run: ai4s sources discover {self.home} --write"


def propose_outlets(seed: str, text: str, sources: Sequence[Source]) -> list[OutletProposal]:
    """The outlets the seed ``seed`` (a URL or a file name) with text ``text`` came from, as proposals."""
    proposals: list[OutletProposal] = []
    if is_http_url(seed):
        proposals.append(OutletProposal(url_host(seed), "the seed's page", site_root(seed)))
    credited = credited_source(text)
    if credited:
        home = KNOWN_OUTLETS.get(credited.lower())
        if home is None and _DOMAIN.match(credited):
            home = f"https://{credited.lower()}/"
        if home is None or all(url_host(home) != url_host(p.home or "") for p in proposals):
            proposals.append(OutletProposal(credited, "credited in its text", home))
    return [_with_follower(proposal, sources) for proposal in proposals]


def _with_follower(proposal: OutletProposal, sources: Sequence[Source]) -> OutletProposal:
    """``proposal`` with the source that follows its site (same host, ``www.`` or not), if any."""
    if proposal.home is None:
        return proposal
    site = url_host(proposal.home).removeprefix("www.")
    for source in sources:
        if any(host.removeprefix("www.") == site for host in source.hosts):
            return OutletProposal(proposal.outlet, proposal.found, proposal.home, source.name)
    return proposal
