"""Imported once by the extraction pool's fork server: the extractor and its language model are
loaded there, so every worker forked from it starts ready instead of loading them itself."""

from crawler.extract import warm_up

warm_up()
