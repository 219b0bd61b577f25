"""What a non-editable install ships: every package and every data file of the source tree (checked here
against pyproject.toml, offline), and what an installed copy lacks: the labelled texts of the test corpus.

The installed package itself is built, installed into a fresh virtualenv and run (``ai4s demo``) by
``.ci/check_installed``, which ``.ci/run`` runs: it needs the package registry, which tests may not reach.
"""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.app.cli import app
from seeds import DEFAULT_LEXICON, DEFAULT_PROFILE, DEFAULT_SOURCES_FILE, SEEDS_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = ("crawler", "storage", "seeds")


def setuptools_table() -> dict:
    """The ``[tool.setuptools]`` table of pyproject.toml."""
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["tool"]["setuptools"]


def tracked_files() -> list[Path]:
    """The files of the package folders that git tracks (what a clone has: no caches, no leftovers)."""
    try:
        listing = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "ls-files", "-z", "--", *PACKAGE_ROOTS],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        pytest.skip("git is not installed: the tracked files of the packages cannot be listed")
    if listing.returncode != 0 or not listing.stdout:
        pytest.skip("not a git checkout: the tracked files of the packages cannot be listed")
    return [PROJECT_ROOT / name for name in listing.stdout.decode().split("\0") if name]


def nearest_package(path: Path) -> Path:
    """The innermost folder with an ``__init__.py`` that holds ``path``."""
    folder = path.parent
    while not (folder / "__init__.py").is_file():
        folder = folder.parent
    return folder


def dotted(package_dir: Path) -> str:
    """The import name of a package folder of the project."""
    return ".".join(package_dir.relative_to(PROJECT_ROOT).parts)


def test_every_package_and_data_file_is_shipped() -> None:
    table = setuptools_table()
    include = table["packages"]["find"]["include"]
    package_data: dict[str, list[str]] = table["package-data"]
    files = tracked_files()
    packages = {nearest_package(path) for path in files if path.name == "__init__.py"}
    assert {dotted(p) for p in packages} >= {"crawler", "crawler.app", "crawler.crawl.spiders", "storage", "seeds"}
    not_found = sorted(dotted(p) for p in packages if not any(fnmatch.fnmatch(dotted(p), i) for i in include))
    assert not_found == [], f"packages that [tool.setuptools.packages.find] include leaves out: {not_found}"

    missing = []
    for path in files:
        package = nearest_package(path)
        if path.suffix == ".py" and path.parent == package:
            continue  # a module of a package that is shipped
        # anything else ships only as package data: a glob of its package, as setuptools applies it
        shipped = {match for pattern in package_data.get(dotted(package), []) for match in package.glob(pattern)}
        if path not in shipped:
            missing.append(str(path.relative_to(PROJECT_ROOT)))
    assert missing == [], f"files [tool.setuptools.package-data] does not ship: {missing}"


def test_the_default_sources_and_profile_are_seed_package_data() -> None:
    for default in (DEFAULT_SOURCES_FILE, DEFAULT_PROFILE, DEFAULT_LEXICON):
        assert default.is_file() and default.parent == SEEDS_DIR
    assert SEEDS_DIR == PROJECT_ROOT / "seeds" or "site-packages" in SEEDS_DIR.parts


def test_topics_eval_asks_for_labelled_texts_it_cannot_find(tmp_path: Path) -> None:
    absent = tmp_path / "labelled"

    result = CliRunner().invoke(app, ["topics", "eval", "--labelled", str(absent)])

    said = " ".join(result.output.split())  # as one line, however the console wrapped it
    assert result.exit_code == 2
    assert f"no folder of labelled texts at {absent}: give one with --labelled DIR" in said
