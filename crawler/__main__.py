"""``python -m crawler``: the same as the ``ai4s`` command."""

from crawler.app.cli import main

main()
