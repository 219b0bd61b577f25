"""The import rules of the layout, held on the source (read with ``ast`` by ``benchmarks/code_shape.py``).

(a) the pure modules (``crawler/text``, ``crawler/relevance``, ``crawler/stories/fingerprint.py``,
    ``crawler/schedule/policy.py``, ``crawler/digest/render.py`` and ``display.py``, ``crawler/sources.py``: the
    list :data:`PURE`) load neither Scrapy/Twisted nor the database
    (``storage``, SQLAlchemy), directly or through the project modules they import;
(b) only the modules of ``crawler/crawl`` import Scrapy or Twisted;
(c) nothing imports ``crawler.app`` but ``crawler/__main__.py`` and ``crawler/app`` itself;
(d) ``storage`` imports nothing from ``crawler``;
(e) no module imports a private name (``_name``) of another module.

Rule (a) is about what runs, so imports under ``if TYPE_CHECKING:`` do not count there; the other rules are about
what a module knows, so they count every import. Imports inside functions count everywhere: they run too.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

PURE = (
    "crawler/text/",
    "crawler/relevance/",
    "crawler/stories/fingerprint.py",
    "crawler/schedule/policy.py",
    "crawler/digest/render.py",
    "crawler/digest/display.py",
    "crawler/sources.py",
)
#: What a pure module may not load: the crawl engine and the database.
NOT_IN_PURE = ("scrapy", "twisted", "storage", "sqlalchemy")
CRAWL_ENGINE = ("scrapy", "twisted")
CRAWL_PACKAGE = "crawler/crawl/"
APP = "crawler.app"
MAY_IMPORT_APP = ("crawler/__main__.py", "crawler/app/")


def load_code_shape() -> ModuleType:
    """``benchmarks/code_shape.py``, loaded by its path (``benchmarks`` is no package)."""
    spec = importlib.util.spec_from_file_location("code_shape", PROJECT_ROOT / "benchmarks" / "code_shape.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


code_shape = load_code_shape()
Project = code_shape.Project
Violations = list[tuple[str, str]]


def is_pure(path: str) -> bool:
    """Whether the module file at ``path`` (relative to the root) is one of the pure modules."""
    return any(path.startswith(pure) if pure.endswith("/") else path == pure for pure in PURE)


def loading_chains(project: Project, start: str) -> Iterator[list[code_shape.Import]]:
    """Each runtime import of a Scrapy/Twisted/database package that loading ``start`` runs, with the chain of
    project imports that leads to it (shortest first)."""
    chains = {name: [] for name in [*project.parents(start), start]}
    queue = deque(chains)
    while queue:
        name = queue.popleft()
        for record in project.modules[name].imports:
            if record.type_checking:
                continue
            if record.root in NOT_IN_PURE:
                yield [*chains[name], record]
                continue
            for loaded in project.loaded_by(record):
                if loaded not in chains:
                    chains[loaded] = [*chains[name], record]
                    queue.append(loaded)


def pure_violations(project: Project) -> Violations:
    """Rule (a): ``(pure module, how it loads Scrapy/Twisted/the database)``."""
    found = []
    for module in project.modules.values():
        if is_pure(module.path):
            for chain in loading_chains(project, module.name):
                found.append((module.path, f"loads {chain[-1].root}: " + " -> ".join(r.where() for r in chain)))
    return found


def crawl_engine_violations(project: Project) -> Violations:
    """Rule (b): ``(module outside crawler/crawl, its Scrapy/Twisted import)``."""
    return [
        (record.path, f"imports {record.root}: {record.where()}")
        for record in project.imports()
        if record.root in CRAWL_ENGINE and not record.path.startswith(CRAWL_PACKAGE)
    ]


def app_violations(project: Project) -> Violations:
    """Rule (c): ``(module, its import of crawler.app)``."""
    return [
        (record.path, f"imports {APP}: {record.where()}")
        for record in project.imports()
        if not record.path.startswith(MAY_IMPORT_APP)
        and any(target == APP or target.startswith(APP + ".") for target in project.targets(record))
    ]


def storage_violations(project: Project) -> Violations:
    """Rule (d): ``(storage module, its import from crawler)``."""
    return [
        (record.path, f"imports crawler: {record.where()}")
        for record in project.imports()
        if record.path.startswith("storage/") and record.root == "crawler"
    ]


def private_violations(project: Project) -> Violations:
    """Rule (e): ``(module, the private name of another module it takes)``."""
    return [
        (use.path, f"takes {use.owner}.{use.name}: {use.path}:{use.line} `{use.text}`")
        for use in project.private_uses()
    ]


def described(violations: Violations) -> str:
    """The violations, one a line, for the failure message."""
    return "\n".join(f"  {module} {detail}" for module, detail in violations)


@pytest.fixture(scope="module")
def project() -> Project:
    """The import graph of this project."""
    return code_shape.scan(PROJECT_ROOT)


def test_pure_modules_load_neither_scrapy_nor_the_database(project: Project) -> None:
    assert any(is_pure(m.path) for m in project.modules.values()), "no pure module found: wrong root?"
    violations = pure_violations(project)
    assert not violations, "pure modules that load Scrapy/Twisted or the database:\n" + described(violations)


def test_only_the_crawl_package_imports_scrapy_or_twisted(project: Project) -> None:
    violations = crawl_engine_violations(project)
    assert not violations, "Scrapy/Twisted imported outside crawler/crawl:\n" + described(violations)


def test_nothing_imports_the_command_line_app(project: Project) -> None:
    violations = app_violations(project)
    assert not violations, "crawler.app imported from below it:\n" + described(violations)


def test_storage_imports_nothing_from_the_crawler(project: Project) -> None:
    violations = storage_violations(project)
    assert not violations, "storage imports the crawler:\n" + described(violations)


def test_no_module_takes_a_private_name_of_another(project: Project) -> None:
    violations = private_violations(project)
    assert not violations, "private names used across modules:\n" + described(violations)


# The rules on a small tree that breaks each of them once, so that a rule that finds nothing is known to look.
BROKEN_TREE = {
    "crawler/__init__.py": "",
    "crawler/__main__.py": "from crawler.app.cli import main\n",
    "crawler/text/__init__.py": "",
    "crawler/text/clean.py": "from .helpers import tidy\n",
    "crawler/text/helpers.py": "def tidy():\n    from crawler.digest import build\n    return build\n",
    "crawler/text/typed.py": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import scrapy\n    from storage.models import Row\n"
    ),
    "crawler/digest/__init__.py": "",
    "crawler/digest/build.py": "import sqlalchemy\nfrom storage.models import Row\n",
    "crawler/digest/render.py": "from crawler.text.clean import tidy\n",
    "crawler/schedule/__init__.py": "",
    "crawler/schedule/policy.py": "from twisted.internet import reactor\n",
    "crawler/schedule/daemon.py": "from crawler import app\n",
    "crawler/crawl/__init__.py": "",
    "crawler/crawl/spider.py": "import scrapy\nfrom crawler.app.report import table\n",
    "crawler/app/__init__.py": "",
    "crawler/app/cli.py": "from crawler.app.report import table\nimport storage\n",
    "crawler/app/report.py": "def table():\n    pass\n",
    "storage/__init__.py": "",
    "storage/models.py": "class Row:\n    pass\n",
    "storage/repository.py": "def _insert():\n    pass\n",
    "storage/polling.py": "from storage import repository\n\n\ndef poll():\n    repository._insert()\n",
    "storage/stories.py": "from storage.repository import _insert, __all__\n",
    "storage/schedules.py": "import storage\n\n\ndef plan():\n    storage.repository._insert()\n",
    "storage/migrations/env.py": "from crawler.config import Config\n",
    "tests/__init__.py": "",
    "tests/test_x.py": "import scrapy\nfrom crawler.app import cli\nfrom storage.repository import _insert\n",
}


@pytest.fixture
def broken(tmp_path: Path) -> Project:
    """The import graph of :data:`BROKEN_TREE`."""
    for name, text in BROKEN_TREE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return code_shape.scan(tmp_path)


def test_rule_a_follows_imports_through_functions_relative_imports_and_other_packages(broken: Project) -> None:
    violations = dict.fromkeys(f"{module} {detail}" for module, detail in pure_violations(broken))
    modules = sorted({line.split()[0] for line in violations})
    assert modules == [
        "crawler/digest/render.py",
        "crawler/schedule/policy.py",
        "crawler/text/clean.py",
        "crawler/text/helpers.py",
    ]
    render = [line for line in violations if line.startswith("crawler/digest/render.py")]
    assert len(render) == 2  # sqlalchemy and storage, both in build.py
    assert (
        "crawler/digest/render.py:1 `from crawler.text.clean import tidy` -> crawler/text/clean.py:1 "
        "`from .helpers import tidy` -> crawler/text/helpers.py:2 `from crawler.digest import build` -> "
        "crawler/digest/build.py:2 `from storage.models import Row`"
    ) in render[1]


def test_rule_b_to_e_name_the_module_and_the_import(broken: Project) -> None:
    assert crawl_engine_violations(broken) == [
        (
            "crawler/schedule/policy.py",
            "imports twisted: crawler/schedule/policy.py:1 `from twisted.internet import reactor`",
        ),
        ("crawler/text/typed.py", "imports scrapy: crawler/text/typed.py:3 `import scrapy`"),
    ]
    assert sorted(app_violations(broken)) == [
        (
            "crawler/crawl/spider.py",
            "imports crawler.app: crawler/crawl/spider.py:2 `from crawler.app.report import table`",
        ),
        ("crawler/schedule/daemon.py", "imports crawler.app: crawler/schedule/daemon.py:1 `from crawler import app`"),
    ]
    assert storage_violations(broken) == [
        (
            "storage/migrations/env.py",
            "imports crawler: storage/migrations/env.py:1 `from crawler.config import Config`",
        ),
    ]
    assert sorted(private_violations(broken)) == [
        ("storage/polling.py", "takes storage.repository._insert: storage/polling.py:5 `repository._insert`"),
        (
            "storage/schedules.py",
            "takes storage.repository._insert: storage/schedules.py:5 `storage.repository._insert`",
        ),
        (
            "storage/stories.py",
            "takes storage.repository._insert: storage/stories.py:1 `from storage.repository import _insert, __all__`",
        ),
    ]
