"""Imported once by the extraction pool's fork server: the extractor and its language model are
loaded there, so every worker forked from it starts ready instead of loading them itself."""

from crawler.crawl.pool import process_page  # noqa: F401 - imported here so the workers inherit it
from crawler.stories.fingerprint import fingerprint
from crawler.text.extract import warm_up

warm_up()
fingerprint("warm up " * 50)  # loads OpenCC's dictionaries here too
