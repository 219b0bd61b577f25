"""The seed data of ai4s-monitor, shipped with the package: the seed articles (``*.txt``), the
curated lexicon, the topic profile built from them, and the default sources file.

Only paths live here; the files are read by :mod:`crawler.config` and the stage packages.
"""

from pathlib import Path

#: The folder of the seed data (in a source checkout: ``seeds/`` at the top of the project).
SEEDS_DIR = Path(__file__).resolve().parent
#: The sources file used when none is given.
DEFAULT_SOURCES_FILE = SEEDS_DIR / "sources.toml"
#: The topic profile used when none is given.
DEFAULT_PROFILE = SEEDS_DIR / "topics.toml"
#: The curated lexicon the profile is built from.
DEFAULT_LEXICON = SEEDS_DIR / "lexicon.toml"
