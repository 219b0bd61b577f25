"""The pure modules stay pure: importing one, directly or through what it imports, loads neither
Scrapy/Twisted nor the database (storage, SQLAlchemy), so each is used and tested without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("scrapy", "twisted", "storage", "sqlalchemy")
PURE_MODULES = sorted(
    [
        *(f"crawler.text.{path.stem}" for path in (ROOT / "crawler" / "text").glob("*.py") if path.stem != "__init__"),
        *(f"crawler.relevance.{p.stem}" for p in (ROOT / "crawler" / "relevance").glob("*.py") if p.stem != "__init__"),
        "crawler.stories.fingerprint",
        "crawler.schedule.policy",
        "crawler.digest.render",
        "crawler.digest.display",
        "crawler.sources",
    ]
)
PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(" ".join(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[2:]))))
"""


@pytest.mark.parametrize("module", PURE_MODULES)
def test_a_pure_module_loads_no_crawler_framework_and_no_database(module: str) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, module, *FORBIDDEN],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == [], f"{module} loads {probe.stdout.strip()}"
