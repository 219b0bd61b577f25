"""Imported first by the extraction pool's fork server, and only there: the fork server ends with the crawl
process that started it (a crawl ended by SIGKILL or the out-of-memory killer left it and its workers behind),
as each worker ends with the fork server (:func:`crawler.crawl.pool.configure_worker`)."""

from __future__ import annotations

from crawler.crawl.pool import end_with_parent

end_with_parent()
