"""Upper layers import lower ones, never the reverse (docs/architecture.md, DESIGN.md section 5).

Every import in the package is resolved to the module it loads and checked against the rank
table below, which is the table in docs/architecture.md ("Layers"):

* ``import aurora_lite.X`` / ``from aurora_lite.X import ...``;
* ``from aurora_lite import X``: X itself when it is a subpackage or module, otherwise the
  package root's public surface (``aurora_lite/__init__.py`` re-exports the driver, so it
  counts as the interface layer, rank 11); ``import aurora_lite`` likewise;
* relative imports (``from . import x``, ``from ..redo import y``), resolved against the file;
* dynamic imports: ``importlib.import_module(...)`` / ``__import__(...)`` with a literal name,
  an f-string whose leading text names the module (``f"aurora_lite.segment.{name}"``,
  ``f"{__name__}.{name}"``), or a variable, in which case every literal module path in the
  file (``"aurora_lite.replica._control"``) counts as imported. A dynamic import that names
  nothing resolvable is itself a violation: the test cannot vouch for it.

Imports under ``if TYPE_CHECKING:`` and inside functions count like any other: a lazy import
is still a dependency. Besides the ranks, the test holds the rules DESIGN.md and the packages
state for particular layers (ALLOWED, STORAGE_SIDE, the volume interface, THIRD_PARTY_ONLY_IN
below; docs/architecture.md, "Where the layering departs from the design guide, and why").
"""

from __future__ import annotations

import ast
import functools
import pathlib
import re
from dataclasses import dataclass

import pytest

import aurora_lite

RANKS = {
    "errors": 0, "env": 0,
    "page": 1,
    "redo": 2,
    "wire": 3, "archive": 3, "membership": 3,
    "segment": 4,
    "volume": 5,
    "buffer": 6,
    "btree": 7,
    "values": 8, "catalog": 8, "txn": 8,
    "exec": 9,
    "frontend": 10,
    "dbapi": 11, "replica": 11, "cluster": 11,
    "server": 12, "shell": 12, "cli": 12, "__main__": 12, "drill": 12,
}
# The package root (aurora_lite/__init__.py) re-exports the driver (connect, the exceptions,
# the type objects): importing it is importing the interface layer.
ROOT = "<root>"
ROOT_RANK = 11

# Components whose whole set of aurora_lite imports is fixed by the design (DESIGN.md section 5
# and the packages' own docstrings). A new dependency of one of these fails even when the
# ranks would allow it.
ALLOWED = {
    # "page/ (the 16 KB layout)": the bottom of the engine.
    "page": {"errors"},
    # redo/__init__.py: "This package imports only aurora_lite.page and aurora_lite.errors."
    "redo": {"page", "errors"},
    # DESIGN: "segment/ (the storage node process: imports only wire, redo, page and low-level
    # helpers)". As built its low-level helpers are env, errors, membership (the cluster file:
    # addresses, PG placement, the secret) and archive (the archiver runs on the storage
    # node). Never the writer side: volume, buffer, btree, txn, ...
    "segment": {"wire", "redo", "page", "env", "errors", "membership", "archive"},
}
# What a storage node process may load at all, following imports transitively from segment/.
STORAGE_SIDE = {"segment", "wire", "redo", "page", "env", "errors", "membership", "archive"}

# The B-tree and the buffer pool reach storage only through the volume *interface* (issue 2:
# the quorum tier plugs in "without touching the B-tree"): nothing from a concrete volume.
VOLUME_INTERFACE_USERS = ("btree", "buffer")
VOLUME_INTERFACE_MODULES = {"aurora_lite.volume", "aurora_lite.volume._interface"}
VOLUME_INTERFACE_NAMES = {"Volume", "RecoveredState"}

# Third-party packages confined to one place: sqlglot is imported only by the frontend
# (DESIGN section 5); numba only by the kernel module, which only the materializer imports
# (lazily: importing numba costs ~0.6 s, redo/_kernels.py and redo/materialize.py).
THIRD_PARTY_ONLY_IN = {
    "sqlglot": ("aurora_lite.frontend",),
    "numba": ("aurora_lite.redo._kernels",),
    "llvmlite": ("aurora_lite.redo._kernels",),
}
MODULE_ONLY_IMPORTED_BY = {
    "aurora_lite.redo._kernels": ("aurora_lite.redo.materialize",),
}

PACKAGE = pathlib.Path(aurora_lite.__file__).parent
DOCS = PACKAGE.parent / "docs" / "architecture.md"
_MODULE_PATH = re.compile(r"aurora_lite(\.[A-Za-z_][A-Za-z0-9_]*)+")


# -- resolving imports -------------------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    lineno: int
    module: str                 # fully resolved, e.g. "aurora_lite.redo._kernels", "sqlglot"
    names: tuple[str, ...] = ()  # for ``from M import a, b``: ("a", "b")
    how: str = "import"


def module_name(path: pathlib.Path, package: pathlib.Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str, package: pathlib.Path) -> bool:
    """Is ``dotted`` (aurora_lite.x.y) a module or package in the source tree?"""
    parts = dotted.split(".")
    if parts[0] != package.name:
        return False
    base = package.joinpath(*parts[1:])
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _relative_base(own: str, is_package: bool, level: int) -> str:
    parts = own.split(".")
    if not is_package:
        parts = parts[:-1]              # a module's package
    if level > 1:
        parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts)


def _static_prefix(node: ast.AST, own: str) -> str | None:
    """The text an import_module argument is known to start with (None: nothing known)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        text = ""
        for value in node.values:
            if isinstance(value, ast.Constant):
                text += str(value.value)
            elif (isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name)
                  and value.value.id in ("__name__", "__package__") and not text):
                text = own
            else:
                break
        return text or None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _static_prefix(node.left, own)
    return None


def _dynamic_target(prefix: str, package: pathlib.Path) -> str | None:
    """The deepest module that a name starting with ``prefix`` surely lies in."""
    complete = prefix.endswith(".") or _is_module(prefix, package)
    parts = prefix.rstrip(".").split(".")
    if not complete:
        parts = parts[:-1]              # "aurora_lite.seg{x}": the last word is partial
    while parts:
        candidate = ".".join(parts)
        if _is_module(candidate, package):
            return candidate
        parts.pop()
    return None


def _is_dynamic_import(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in ("import_module", "__import__")


def find_imports(source: str, own: str, is_package: bool,
                 package: pathlib.Path = PACKAGE) -> tuple[tuple[Import, ...], tuple[str, ...]]:
    """Every import of a module's source, resolved; and the problems met while resolving."""
    return _find_imports(source, own, is_package, package)


@functools.lru_cache(maxsize=None)
def _find_imports(source: str, own: str, is_package: bool,
                  package: pathlib.Path) -> tuple[tuple[Import, ...], tuple[str, ...]]:
    tree = ast.parse(source)
    root = package.name
    found: list[Import] = []
    problems: list[str] = []
    unresolved_dynamic: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _relative_base(own, is_package, node.level)
                module = f"{base}.{node.module}" if node.module else base
                how = "relative import"
            else:
                module, how = node.module, "from-import"
            names = tuple(alias.name for alias in node.names)
            if module == root or module.startswith(root + "."):
                # ``from P import x``: the submodule P.x when there is one, else P itself.
                plain = [name for name in names if not _is_module(f"{module}.{name}", package)]
                for name in names:
                    if _is_module(f"{module}.{name}", package):
                        found.append(Import(node.lineno, f"{module}.{name}", (), how))
                if plain:
                    found.append(Import(node.lineno, module, tuple(plain), how))
            else:
                found.append(Import(node.lineno, module, names, how))
        elif isinstance(node, ast.Call) and _is_dynamic_import(node) and node.args:
            argument = node.args[0]
            prefix = _static_prefix(argument, own)
            if prefix is not None and prefix.startswith("."):
                anchor = next((kw.value for kw in node.keywords if kw.arg == "package"),
                              node.args[1] if len(node.args) > 1 else None)
                anchor_text = _static_prefix(anchor, own) if anchor is not None else None
                if anchor_text is None:
                    problems.append(f"line {node.lineno}: relative dynamic import without a "
                                    f"known package")
                    continue
                level = len(prefix) - len(prefix.lstrip("."))
                prefix = _relative_base(anchor_text, True, level) + "." + prefix[level:]
            if prefix is None:
                unresolved_dynamic.append(node.lineno)
                continue
            if not (prefix == root or prefix.startswith(root + ".")):
                if root.startswith(prefix) or not prefix:
                    unresolved_dynamic.append(node.lineno)      # e.g. f"{x}.y", "aur" + x
                else:
                    found.append(Import(node.lineno, prefix.split("{")[0], (), "import_module"))
                continue
            target = _dynamic_target(prefix, package)
            if target == root and prefix != root:
                unresolved_dynamic.append(node.lineno)          # f"aurora_lite.{x}": any layer
                continue
            if target is None:
                problems.append(f"line {node.lineno}: import_module({prefix!r}...) names no "
                                f"module of the package")
            else:
                found.append(Import(node.lineno, target, (), "import_module"))
    if unresolved_dynamic:
        # The name comes from a variable: count every literal module path in the file.
        literals = sorted({(node.lineno, node.value) for node in ast.walk(tree)
                           if isinstance(node, ast.Constant) and isinstance(node.value, str)
                           and _MODULE_PATH.fullmatch(node.value)
                           and _is_module(node.value, package)})
        if literals:
            found.extend(Import(lineno, value, (), "import_module (literal module path)")
                         for lineno, value in literals)
        else:
            problems.extend(f"line {lineno}: import_module() of a name the layering test "
                            f"cannot resolve (use a literal module path)"
                            for lineno in unresolved_dynamic)
    return tuple(found), tuple(problems)


def component_of(module: str) -> str | None:
    """The layer component of an aurora_lite module (ROOT for the package itself), else None."""
    parts = module.split(".")
    if parts[0] != "aurora_lite":
        return None
    return ROOT if len(parts) == 1 else parts[1]


def rank_of(component: str) -> int | None:
    return ROOT_RANK if component == ROOT else RANKS.get(component)


def check_module(own: str, is_package: bool, source: str,
                 package: pathlib.Path = PACKAGE) -> list[str]:
    """Layering violations of one module's source (``own`` is its dotted name)."""
    component = component_of(own)
    rank = rank_of(component)
    imports, problems = find_imports(source, own, is_package, package)
    where = own
    violations = [f"{where}: {problem}" for problem in problems]
    for item in imports:
        at = f"{where}:{item.lineno}"
        top = item.module.split(".")[0]
        allowed_places = THIRD_PARTY_ONLY_IN.get(top)
        if allowed_places and not any(own == place or own.startswith(place + ".")
                                      for place in allowed_places):
            violations.append(f"{at} imports {item.module}: only {', '.join(allowed_places)} "
                              f"may import {top}")
        importers = MODULE_ONLY_IMPORTED_BY.get(item.module)
        if importers and own != item.module and own not in importers:
            violations.append(f"{at} imports {item.module}: only {', '.join(importers)} may")
        target = component_of(item.module)
        if target is None or target == component:
            continue
        target_rank = rank_of(target)
        if target_rank is None:
            violations.append(f"{at} imports {item.module}: component {target!r} has no rank")
            continue
        if target_rank > rank:
            violations.append(f"{at} ({component}, rank {rank}) imports {item.module} "
                              f"({target}, rank {target_rank}) by {item.how}")
        if component in ALLOWED and target not in ALLOWED[component]:
            violations.append(f"{at} ({component}) imports {item.module}: {component}/ may "
                              f"import only {', '.join(sorted(ALLOWED[component]))}")
        if component in VOLUME_INTERFACE_USERS and target == "volume":
            concrete = (item.module not in VOLUME_INTERFACE_MODULES
                        or set(item.names) - VOLUME_INTERFACE_NAMES
                        or (item.module == "aurora_lite.volume" and not item.names))
            if concrete:
                violations.append(f"{at} ({component}) imports {item.module} "
                                  f"{', '.join(item.names)}: {component}/ may use only the "
                                  f"volume interface ({', '.join(sorted(VOLUME_INTERFACE_NAMES))})")
    return violations


def _package_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, module_name(path), path.name == "__init__.py"


# -- the package -------------------------------------------------------------------------------

def test_every_component_has_a_rank_and_every_rank_a_component():
    components = {component_of(own) for _path, own, _pkg in _package_modules()} - {ROOT}
    assert components - set(RANKS) == set(), "components without a layer rank"
    assert set(RANKS) - components == set(), "ranks of components that no longer exist"


def test_rank_table_matches_docs_architecture():
    """docs/architecture.md describes the layers as built: its table is this table."""
    text = DOCS.read_text()
    documented = {}
    for rank, packages in re.findall(r"^\| (\d+) \| ([^|]+) \|", text, re.MULTILINE):
        for name in re.findall(r"`([a-z_]+)`", packages):
            documented[name] = int(rank)
    assert documented == RANKS


def test_no_upward_imports():
    violations = []
    for path, own, is_package in _package_modules():
        violations.extend(check_module(own, is_package, path.read_text()))
    assert not violations, "\n".join(violations)


def component_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path, own, is_package in _package_modules():
        component = component_of(own)
        targets = graph.setdefault(component, set())
        for item in find_imports(path.read_text(), own, is_package)[0]:
            target = component_of(item.module)
            if target is not None and target != component:
                targets.add(target)
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for target in graph.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def test_a_storage_node_never_loads_the_writer_side():
    """Everything segment/ imports, directly or through its helpers, is storage-side."""
    graph = component_graph()
    assert reachable(graph, "segment") <= STORAGE_SIDE, sorted(
        reachable(graph, "segment") - STORAGE_SIDE)
    # The check itself: a helper that pulled in the writer side would be caught.
    graph["membership"] = graph["membership"] | {"volume"}
    assert not reachable(graph, "segment") <= STORAGE_SIDE


def test_the_package_imports_are_actually_resolved():
    """The forms the old test skipped occur in the package and are now seen."""
    seen = set()
    for path, own, is_package in _package_modules():
        for item in find_imports(path.read_text(), own, is_package)[0]:
            seen.add((own, item.module, item.how))
    # from aurora_lite import errors / frontend / shell: the subpackage, not the root.
    assert ("aurora_lite.dbapi._connection", "aurora_lite.errors", "from-import") in seen
    assert ("aurora_lite.cli", "aurora_lite.shell", "from-import") in seen
    # import_module(f"aurora_lite.segment.{module}") and f"{__name__}.{...}"
    assert ("aurora_lite.segment", "aurora_lite.segment", "import_module") in seen
    assert ("aurora_lite.drill", "aurora_lite.drill", "import_module") in seen
    # import_module(module) with the module paths as literals in a table
    assert ("aurora_lite.replica", "aurora_lite.replica._control",
            "import_module (literal module path)") in seen
    # the kernel module, imported as ``from aurora_lite.redo import _kernels``
    assert ("aurora_lite.redo.materialize", "aurora_lite.redo._kernels", "from-import") in seen


# -- the checker itself: each import form is caught -----------------------------------------------

@pytest.mark.parametrize("own, is_package, source, expected", [
    # from aurora_lite import <subpackage>: the subpackage's rank
    ("aurora_lite.page._layout", False, "from aurora_lite import btree", "aurora_lite.btree"),
    # from aurora_lite import <name>: the root, the interface layer
    ("aurora_lite.exec._scan", False, "from aurora_lite import connect",
     "imports aurora_lite (<root>, rank 11)"),
    ("aurora_lite.exec._scan", False, "import aurora_lite", "imports aurora_lite (<root>"),
    # relative imports
    ("aurora_lite.redo._mtr", False, "from ..volume import Volume", "aurora_lite.volume"),
    ("aurora_lite.redo", True, "from ..txn import _session", "aurora_lite.txn._session"),
    ("aurora_lite.segment._store", False, "from .. import volume", "aurora_lite.volume"),
    ("aurora_lite.segment._store", False, "from .._bogus import x", "has no rank"),
    # dynamic imports
    ("aurora_lite.segment", True,
     "import importlib\nimportlib.import_module('aurora_lite.volume._local')",
     "aurora_lite.volume._local"),
    ("aurora_lite.segment", True,
     "from importlib import import_module\nimport_module(f'aurora_lite.btree.{name}')",
     "aurora_lite.btree"),
    ("aurora_lite.page", True,
     "import importlib\nimportlib.import_module('.._kernels', 'aurora_lite.redo.x')",
     "aurora_lite.redo._kernels"),
    ("aurora_lite.wire._frame", False,
     "import importlib\nM = {'a': 'aurora_lite.txn._session'}\n"
     "def f(n):\n    return importlib.import_module(M[n])", "aurora_lite.txn._session"),
    ("aurora_lite.wire._frame", False,
     "import importlib\ndef f(n):\n    return importlib.import_module(n)", "cannot resolve"),
    ("aurora_lite.wire._frame", False, "__import__('aurora_lite.exec')", "aurora_lite.exec"),
    ("aurora_lite.server", True,
     "import importlib\ndef f(n):\n    return importlib.import_module(f'aurora_lite.{n}')",
     "cannot resolve"),
    # lazy and TYPE_CHECKING imports count
    ("aurora_lite.buffer._pool", False,
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aurora_lite.btree import BTree",
     "aurora_lite.btree"),
    ("aurora_lite.btree._tree", False,
     "def f():\n    from aurora_lite.frontend import execute", "aurora_lite.frontend"),
    # design rules beyond the ranks
    ("aurora_lite.segment._store", False, "import aurora_lite.errors\nimport sqlglot",
     "only aurora_lite.frontend may import sqlglot"),
    ("aurora_lite.segment._hotlog", False, "from aurora_lite.redo import _kernels",
     "only aurora_lite.redo.materialize may"),
    ("aurora_lite.segment._hotlog", False, "import numba", "may import numba"),
    ("aurora_lite.btree._tree", False, "from aurora_lite.volume import LocalVolume",
     "only the volume interface"),
    ("aurora_lite.buffer._pool", False, "from aurora_lite.volume._cluster import ClusterVolume",
     "only the volume interface"),
    ("aurora_lite.redo._apply", False, "from aurora_lite.env import Disk",
     "redo/ may import only"),
])
def test_the_checker_reports(own, is_package, source, expected):
    violations = check_module(own, is_package, source)
    assert any(expected in violation for violation in violations), violations


@pytest.mark.parametrize("own, is_package, source", [
    ("aurora_lite.btree._tree", False, "from aurora_lite.volume import Volume"),
    ("aurora_lite.buffer._pool", False, "from aurora_lite.volume._interface import Volume"),
    ("aurora_lite.volume._local", False, "from aurora_lite.segment import SegmentStore"),
    ("aurora_lite.segment._archiver", False, "from aurora_lite.archive import Archive"),
    ("aurora_lite.segment", True, "from . import _store\nfrom ..redo import _record"),
    ("aurora_lite.redo.materialize", False, "from aurora_lite.redo import _kernels"),
    ("aurora_lite.frontend._parse", False, "import sqlglot.tokens"),
    ("aurora_lite.shell._connect", False, "import aurora_lite"),
    ("aurora_lite.drill", True, "import importlib\nimportlib.import_module(f'{__name__}.x')"),
])
def test_the_checker_allows(own, is_package, source):
    assert check_module(own, is_package, source) == []
