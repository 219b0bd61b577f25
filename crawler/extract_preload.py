"""Imported once by the extraction pool's fork server: the extractor and its language model are
loaded there, so every worker forked from it starts ready instead of loading them itself."""

from crawler.extract import warm_up
from crawler.neardup import fingerprint
from crawler.worker import process_page  # noqa: F401 - imported here so the workers inherit it

warm_up()
fingerprint("warm up " * 50)  # loads OpenCC's dictionaries here too
