"""The parent watchdog, a Scrapy extension: a crawl started by the daemon ends when the daemon is gone."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.asyncio import create_looping_call

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: The close reason of a crawl whose daemon died: the run is closed as ``interrupted``.
PARENT_GONE = "parent_gone"


class ParentWatchdog:
    """Closes the spider, cleanly, when the process that started the crawl (``AI4S_PARENT_PID``)
    is gone: a daemon killed with ``kill -9`` leaves no orphan crawl running on.

    Checked every ``AI4S_PARENT_CHECK_INTERVAL`` seconds (default 1); off without ``AI4S_PARENT_PID``.
    """

    def __init__(self, crawler: Crawler, parent_pid: int, interval: float) -> None:
        self.crawler = crawler
        self.parent_pid = parent_pid
        self.interval = interval
        self.task: Any = None
        self.closing: asyncio.Future[Any] | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParentWatchdog:
        """The watchdog of a new crawl, watching ``AI4S_PARENT_PID`` if it is set."""
        # Without a parent to watch (a crawl started by hand) it stays idle: NotConfigured would
        # log a warning on every ordinary crawl.
        parent = crawler.settings.getint("AI4S_PARENT_PID", 0)
        return cls(crawler, parent, crawler.settings.getfloat("AI4S_PARENT_CHECK_INTERVAL", 1.0))

    def spider_opened(self) -> None:
        """Start watching, if there is a parent to watch."""
        if not self.parent_pid:
            return
        self.task = create_looping_call(self.check)
        self.task.start(self.interval, now=False)

    def check(self) -> None:
        """Close the spider if the parent process has ended (this process was re-parented)."""
        if os.getppid() == self.parent_pid or self.closing is not None:
            return
        logger.warning("The daemon (pid %d) is gone: closing the crawl", self.parent_pid)
        assert self.crawler.engine is not None
        self.closing = asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=PARENT_GONE))

    def spider_closed(self) -> None:
        """Stop watching."""
        if self.task is not None and self.task.running:
            self.task.stop()
        self.task = None
