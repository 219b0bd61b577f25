"""A Scrapy extension for tests: how long the crawl's reactor was ever held, from a tick every 20 ms, written
to the file the ``HEARTBEAT_FILE`` setting names when the spider closes."""

from __future__ import annotations

import time
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from twisted.internet import task

#: Between two ticks of the heartbeat.
TICK = 0.02


class ReactorHeartbeat:
    """Records the longest gap between two ticks of a looping call while the spider is open."""

    def __init__(self, crawler: Crawler) -> None:
        self.out = Path(crawler.settings["HEARTBEAT_FILE"])
        self.last: float | None = None
        self.longest = 0.0
        self.loop = task.LoopingCall(self.tick)
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReactorHeartbeat:
        return cls(crawler)

    def tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.longest = max(self.longest, now - self.last)
        self.last = now

    def opened(self, spider: Spider) -> None:
        self.loop.start(TICK)

    def closed(self, spider: Spider, reason: str) -> None:
        self.loop.stop()
        self.out.write_text(f"{self.longest:.3f}")
