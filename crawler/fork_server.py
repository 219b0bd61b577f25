"""Imported first by the extraction pools' fork servers, and only there: the fork server ends with the process
that started it (see :mod:`crawler.children`)."""

from __future__ import annotations

from crawler.children import end_fork_server_with_parent

end_fork_server_with_parent()
