"""The shape of the code, read from its source with ``ast`` (nothing is imported or run): modules per package,
package-level import edges, which modules import Scrapy/Twisted, ``storage`` or SQLAlchemy, private names
imported across modules, and the longest classes and functions.

    python3 benchmarks/code_shape.py [ROOT] [--depth 2] [--top 10]

``ROOT`` is a project tree (default: this project). Its packages are the top-level folders with an
``__init__.py`` except ``tests`` and ``benchmarks``. A package, for the edges, is a folder cut to ``--depth``
components (``crawler/crawl/spiders`` counts as ``crawler/crawl``). An edge counts import statements, at the top
of a module and inside functions alike; those inside functions and those under ``if TYPE_CHECKING:`` (never run)
are also shown apart.

:func:`scan` builds the import graph that ``tests/test_layout.py`` holds the import rules with.
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders that are not part of the application even when they hold an ``__init__.py``.
NOT_APPLICATION = ("tests", "benchmarks")
#: Packages whose importers are listed (the crawl engine and the database).
WATCHED = {"Scrapy/Twisted": ("scrapy", "twisted"), "storage": ("storage",), "SQLAlchemy": ("sqlalchemy",)}


@dataclass(frozen=True)
class Import:
    """One module named by an import statement of a project module."""

    importer: str
    path: str
    line: int
    module: str
    names: tuple[str, ...]
    in_function: bool
    type_checking: bool
    text: str

    @property
    def root(self) -> str:
        """The top-level package imported (``scrapy`` for ``from scrapy.http import Request``)."""
        return self.module.split(".")[0]

    def where(self) -> str:
        """``path:line `statement```, for messages."""
        return f"{self.path}:{self.line} `{self.text}`"


@dataclass(frozen=True)
class PrivateUse:
    """A private name (``_name``) of one project module used by another."""

    path: str
    line: int
    owner: str
    name: str
    text: str


@dataclass
class Module:
    """One project module: its file, its imports and the lengths of its classes and functions."""

    name: str
    path: str
    lines: int
    imports: list[Import] = field(default_factory=list)
    classes: list[tuple[int, str]] = field(default_factory=list)
    functions: list[tuple[int, str]] = field(default_factory=list)
    module_aliases: dict[str, str] = field(default_factory=dict)
    private_attribute_uses: list[tuple[int, str, str, str]] = field(default_factory=list)

    @property
    def folder(self) -> str:
        """The folder of the module, relative to the root (``crawler/text``)."""
        return str(Path(self.path).parent)


@dataclass
class Project:
    """The modules of a project tree, by dotted name, and what their imports resolve to."""

    root: Path
    packages: list[str]
    modules: dict[str, Module]

    def targets(self, record: Import) -> list[str]:
        """The project modules an import names: ``a.b.c`` for ``from a.b import c`` when ``c`` is a module, else
        ``a.b`` (both when it takes a module and a name); empty for a module outside the project."""
        submodules = [f"{record.module}.{name}" for name in record.names if f"{record.module}.{name}" in self.modules]
        takes_names = len(submodules) < len(record.names) or not record.names
        return submodules + ([record.module] if takes_names and record.module in self.modules else [])

    def loaded_by(self, record: Import) -> list[str]:
        """Every project module an import loads: the module, its parent packages and submodules named in it."""
        parts = record.module.split(".")
        loaded = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        loaded += [f"{record.module}.{name}" for name in record.names]
        return [name for name in loaded if name in self.modules]

    def parents(self, name: str) -> list[str]:
        """The packages Python runs before module ``name`` (``crawler``, ``crawler.text`` for ``crawler.text.urls``)."""
        parts = name.split(".")
        return [p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in self.modules]

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r}, {len(self.modules)} modules)"

    def imports(self) -> Iterator[Import]:
        """Every import of every module."""
        for module in self.modules.values():
            yield from module.imports

    def private_uses(self) -> list[PrivateUse]:
        """Private names of project modules taken by another module, by ``from m import _x`` or ``m._x``."""
        uses = []
        for module in self.modules.values():
            for record in module.imports:
                target = record.module
                if target == module.name or target not in self.modules:
                    continue
                for name in record.names:
                    if _is_private(name):
                        uses.append(PrivateUse(module.path, record.line, target, name, record.text))
            for line, owner, name, text in module.private_attribute_uses:
                if owner != module.name:
                    uses.append(PrivateUse(module.path, line, owner, name, text))
        return uses


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(relative: Path) -> str:
    """The dotted name of the module in file ``relative`` (``crawler/text/__init__.py`` → ``crawler.text``)."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def application_packages(root: Path) -> list[str]:
    """The top-level packages of the tree at ``root`` (folders with an ``__init__.py``, tests excluded)."""
    return sorted(
        child.name
        for child in root.iterdir()
        if child.is_dir() and (child / "__init__.py").is_file() and child.name not in NOT_APPLICATION
    )


def scan(root: Path | str = PROJECT_ROOT) -> Project:
    """Read every module of the project tree at ``root`` and record its imports, classes and functions."""
    root = Path(root).resolve()
    packages = application_packages(root)
    modules: dict[str, Module] = {}
    for package in packages:
        for file in sorted((root / package).rglob("*.py")):
            relative = file.relative_to(root)
            if "__pycache__" in relative.parts:
                continue
            source = file.read_text(encoding="utf-8")
            module = Module(module_name(relative), str(relative), source.count("\n") + 1)
            _Reader(module, source).visit(ast.parse(source, filename=str(relative)))
            modules[module.name] = module
    project = Project(root, packages, modules)
    for module in modules.values():
        module.module_aliases = {alias: target for alias, target in module.module_aliases.items() if target in modules}
        module.private_attribute_uses = [use for use in module.private_attribute_uses if use[1] in modules]
    return project


class _Reader(ast.NodeVisitor):
    """Collects a module's imports (with their context), the lengths of its classes and functions, and the
    private attributes it reads from the modules it imported."""

    def __init__(self, module: Module, source: str) -> None:
        self.module = module
        self.source_lines = source.splitlines()
        self.scope: list[str] = []
        self.function_depth = 0
        self.type_checking_depth = 0
        self.attribute_reads: list[tuple[int, str, str]] = []

    def statement_text(self, node: ast.stmt) -> str:
        text = " ".join(line.strip() for line in self.source_lines[node.lineno - 1 : node.end_lineno])
        return text if len(text) <= 110 else text[:107] + "..."

    def record(self, node: ast.stmt, module: str, names: tuple[str, ...]) -> None:
        self.module.imports.append(
            Import(
                importer=self.module.name,
                path=self.module.path,
                line=node.lineno,
                module=module,
                names=names,
                in_function=self.function_depth > 0,
                type_checking=self.type_checking_depth > 0,
                text=self.statement_text(node),
            )
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.record(node, alias.name, ())
            if alias.asname:
                self.module.module_aliases[alias.asname] = alias.name
            else:
                parts = alias.name.split(".")
                for i in range(1, len(parts) + 1):
                    self.module.module_aliases[".".join(parts[:i])] = ".".join(parts[:i])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self.absolute(node.module, node.level)
        names = tuple(alias.name for alias in node.names)
        self.record(node, base, names)
        for alias in node.names:
            self.module.module_aliases[alias.asname or alias.name] = f"{base}.{alias.name}"

    def absolute(self, module: str | None, level: int) -> str:
        """The absolute name of a (possibly relative) ``from`` import."""
        if level == 0:
            return module or ""
        package = self.module.name.split(".")
        if not self.module.path.endswith("__init__.py"):
            package = package[:-1]
        base = package[: len(package) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if not guarded:
            self.generic_visit(node)
            return
        self.visit(node.test)
        self.type_checking_depth += 1
        for statement in node.body:
            self.visit(statement)
        self.type_checking_depth -= 1
        for statement in node.orelse:
            self.visit(statement)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.measure(node, self.module.classes)
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.measure(node, self.module.functions)
        self.scope.append(node.name)
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def measure(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, into: list) -> None:
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        into.append((length, f"{self.module.path}:{'.'.join([*self.scope, node.name])}"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_private(node.attr):
            owner = _dotted(node.value)
            if owner is not None:
                # ``m._x`` for an imported module ``m``, or ``pkg.m._x`` when only ``pkg`` was imported
                head, _, rest = owner.partition(".")
                aliases = self.module.module_aliases
                target = aliases.get(owner) or (f"{aliases[head]}.{rest}" if rest and head in aliases else None)
                if target is not None:
                    self.module.private_attribute_uses.append((node.lineno, target, node.attr, f"{owner}.{node.attr}"))
        self.generic_visit(node)


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else ``None``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def package_of(path: str, depth: int) -> str:
    """The package a module file counts in: its folder cut to ``depth`` components."""
    return "/".join(Path(path).parent.parts[:depth])


@dataclass
class Edge:
    """Import statements from the modules of one package to those of another."""

    statements: set[tuple[str, int]] = field(default_factory=set)
    in_functions: set[tuple[str, int]] = field(default_factory=set)
    type_checking: set[tuple[str, int]] = field(default_factory=set)


def package_edges(project: Project, depth: int = 2) -> dict[tuple[str, str], Edge]:
    """Package → package import edges (self-edges left out), each with the statements that make it."""
    edges: dict[tuple[str, str], Edge] = defaultdict(Edge)
    for record in project.imports():
        source_package = package_of(record.path, depth)
        for target in project.targets(record):
            target_package = package_of(project.modules[target].path, depth)
            if source_package == target_package:
                continue
            edge = edges[(source_package, target_package)]
            statement = (record.path, record.line)
            edge.statements.add(statement)
            if record.in_function:
                edge.in_functions.add(statement)
            if record.type_checking:
                edge.type_checking.add(statement)
    return dict(sorted(edges.items()))


def importers(project: Project, roots: tuple[str, ...]) -> dict[str, list[Import]]:
    """The modules that import any of the top-level packages ``roots`` directly, with those imports."""
    found: dict[str, list[Import]] = defaultdict(list)
    for record in project.imports():
        if record.root in roots and record.path.split("/")[0] not in roots:
            found[record.path].append(record)
    return dict(sorted(found.items()))


def _context(in_functions: int, type_checking: int) -> str:
    notes = [f"{in_functions} in functions"] if in_functions else []
    notes += [f"{type_checking} TYPE_CHECKING only"] if type_checking else []
    return f" ({', '.join(notes)})" if notes else ""


def print_shape(project: Project, depth: int, top: int) -> None:
    """Print the figures of the project tree."""
    modules = list(project.modules.values())
    print(f"Code shape of {project.root}")
    print(f"packages {', '.join(project.packages)}: {len(modules)} modules, {sum(m.lines for m in modules):,} lines")
    internal = [r for r in project.imports() if project.targets(r)]
    in_functions = sum(r.in_function for r in internal)
    print(f"{len(internal)} import statements between project modules ({in_functions} in functions)")

    print("\nModules per package (lines)")
    per_package: Counter[str] = Counter(m.folder for m in modules)
    lines: Counter[str] = Counter()
    for module in modules:
        lines[module.folder] += module.lines
    for package in sorted(per_package):
        print(f"  {package:<32} {per_package[package]:>3}  ({lines[package]:,})")

    edges = package_edges(project, depth)
    total = sum(len(edge.statements) for edge in edges.values())
    print(f"\nPackage import edges, depth {depth} ({len(edges)} edges, {total} import statements)")
    for (source, target), edge in edges.items():
        context = _context(len(edge.in_functions), len(edge.type_checking))
        print(f"  {source} -> {target}: {len(edge.statements)}{context}")

    for label, roots in WATCHED.items():
        found = importers(project, roots)
        print(f"\nModules importing {label} ({len(found)})")
        for path, records in found.items():
            in_functions = sum(r.in_function for r in records)
            type_checking = sum(r.type_checking for r in records)
            print(f"  {path}: {len(records)}{_context(in_functions, type_checking)}")

    uses = project.private_uses()
    print(f"\nPrivate names imported across modules ({len(uses)})")
    for use in uses:
        print(f"  {use.path}:{use.line} {use.owner}.{use.name}  `{use.text}`")

    code = [m for m in modules if "migrations" not in Path(m.path).parts]
    for label, key in (("classes", "classes"), ("functions and methods", "functions")):
        ranked = sorted((item for m in code for item in getattr(m, key)), key=lambda item: (-item[0], item[1]))
        print(f"\nLongest {label} (lines; migrations left out)")
        for length, name in ranked[:top]:
            print(f"  {length:>5}  {name}")


def main() -> None:
    """Print the shape of the tree given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=str(PROJECT_ROOT), help="project tree (default: this project)")
    parser.add_argument("--depth", type=int, default=2, help="folder components that make a package for the edges")
    parser.add_argument("--top", type=int, default=10, help="how many of the longest classes and functions")
    options = parser.parse_args()
    print_shape(scan(options.root), options.depth, options.top)


if __name__ == "__main__":
    main()
