"""Finding an outlet's entry points from one URL (``ai4s sources discover``), and proposing the outlets of
seed articles as sources: the fetching side; what the pages say is read by :mod:`crawler.text.entrypoints`."""
