"""Predicate push-down over the join graph of one query block.

The FROM clause becomes a ``Graph``: units joined by inner joins (reorderable) and the
conjuncts that span units. A unit is a table (``BaseUnit``) or a LEFT JOIN (``LeftUnit``),
which the join order treats as one block. A conjunct moves to the lowest place that can
evaluate it without changing the result:

* conjuncts on one table become that table's scan filter (and feed its access path);
* WHERE conjuncts on the preserved (left) side of a LEFT JOIN move into that side, but those
  touching the NULL-padded side stay above the join (they see the padded rows);
* ON conjuncts of a LEFT JOIN that read only its right side move into the right side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aurora_lite.exec import Expr, conjuncts, relations_of
from aurora_lite.frontend._logical import FromItem, FromTable
from aurora_lite.frontend._scope import Relation


@dataclass
class BaseUnit:
    relation: Relation
    filters: list[Expr] = field(default_factory=list)

    @property
    def rels(self) -> frozenset[int]:
        return frozenset((self.relation.rel_id,))


@dataclass
class LeftUnit:
    left: "Graph"
    right: "Graph"
    on: list[Expr]
    filters: list[Expr] = field(default_factory=list)    # applied above the join

    @property
    def rels(self) -> frozenset[int]:
        return self.left.rels | self.right.rels


@dataclass
class Graph:
    units: list = field(default_factory=list)
    conds: list[Expr] = field(default_factory=list)      # span units, or read no table

    @property
    def rels(self) -> frozenset[int]:
        out = frozenset()
        for unit in self.units:
            out |= unit.rels
        return out


def build_graph(items: list[FromItem], where: Expr | None) -> Graph:
    graph = Graph()
    for item in items:
        _add(graph, item)
    graph.conds.extend(conjuncts(where))
    return graph


def _add(graph: Graph, item: FromItem) -> None:
    if isinstance(item, FromTable):
        graph.units.append(BaseUnit(item.relation))
    elif item.kind == "inner":
        _add(graph, item.left)
        _add(graph, item.right)
        graph.conds.extend(conjuncts(item.condition))
    else:
        left, right = Graph(), Graph()
        _add(left, item.left)
        _add(right, item.right)
        graph.units.append(LeftUnit(left, right, conjuncts(item.condition)))


def push_down(graph: Graph) -> None:
    """Move every conjunct of ``graph`` (recursively) to the lowest unit that can take it."""
    remaining = []
    for cond in graph.conds:
        rels = relations_of(cond)
        owner = next((unit for unit in graph.units if rels and rels <= unit.rels), None)
        if owner is None:
            remaining.append(cond)
        elif isinstance(owner, BaseUnit):
            owner.filters.append(cond)
        elif rels <= owner.left.rels:
            owner.left.conds.append(cond)
        else:
            owner.filters.append(cond)
    graph.conds = remaining
    for unit in graph.units:
        if isinstance(unit, LeftUnit):
            on = []
            for cond in unit.on:
                rels = relations_of(cond)
                if rels and rels <= unit.right.rels:
                    unit.right.conds.append(cond)
                else:
                    on.append(cond)
            unit.on = on
            push_down(unit.left)
            push_down(unit.right)

