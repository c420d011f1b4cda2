"""Upper layers import lower ones, never the reverse (docs/architecture.md, DESIGN.md section 5).

Every ``import aurora_lite.X`` / ``from aurora_lite.X import`` in the package is checked against
the rank table below; sqlglot may be imported only by the frontend.
"""

from __future__ import annotations

import ast
import pathlib

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
# The package root re-exports the driver (connect, exceptions): it sits with the driver.
ROOT_RANK = 11

PACKAGE = pathlib.Path(aurora_lite.__file__).parent


def _component(path: pathlib.Path) -> str | None:
    relative = path.relative_to(PACKAGE)
    if relative.parts == ("__init__.py",):
        return None
    return relative.parts[0].removesuffix(".py")


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_every_component_has_a_rank():
    for path in PACKAGE.rglob("*.py"):
        component = _component(path)
        if component is not None:
            assert component in RANKS, f"{path}: component {component!r} has no layer rank"


def test_no_upward_imports():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        component = _component(path)
        rank = ROOT_RANK if component is None else RANKS[component]
        tree = ast.parse(path.read_text(), str(path))
        for lineno, module in _imports(tree):
            parts = module.split(".")
            if parts[0] == "sqlglot" and component != "frontend":
                violations.append(f"{path}:{lineno} imports sqlglot outside frontend/")
            if parts[0] != "aurora_lite" or len(parts) < 2:
                continue
            target = parts[1]
            if target == component:
                continue
            if target not in RANKS:
                violations.append(f"{path}:{lineno} imports unknown component {module}")
            elif RANKS[target] > rank:
                violations.append(f"{path}:{lineno} ({component}, rank {rank}) imports "
                                  f"{module} (rank {RANKS[target]})")
    assert not violations, "\n".join(violations)
