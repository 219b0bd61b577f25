"""``python -m crawler``: the same as the ``ai4s`` command."""

from crawler.cli import main

main()
