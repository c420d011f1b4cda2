"""Join order and join method for the units of one join graph.

Greedy: start from the unit with the smallest estimate; then repeatedly join the smallest
unit connected to what is joined so far by an equality predicate, else by any predicate, and
only when nothing is connected, the smallest unit (a cartesian product is made only when no
join predicate links the rest). Equality predicates between the two sides become hash join
keys, the rest the join's residual filter; without keys the join is a nested loop. An inner
hash join builds its table on the smaller input.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.exec import Compare, Expr, relations_of


@dataclass
class Planned:
    node: object
    relations: list                  # Relation objects, in row order
    estimate: float
    ordered: bool = False

    @property
    def rels(self) -> frozenset[int]:
        return frozenset(relation.rel_id for relation in self.relations)

    def positions(self) -> dict[tuple[int, int], int]:
        out = {}
        offset = 0
        for relation in self.relations:
            for column in range(relation.width):
                out[(relation.rel_id, column)] = offset + column
            offset += relation.width
        return out


def equi_sides(cond: Expr, left: frozenset[int], right: frozenset[int]):
    """(left expression, right expression) when ``cond`` is an equality across the sides."""
    if not isinstance(cond, Compare) or cond.op != "=":
        return None
    a, b = relations_of(cond.left), relations_of(cond.right)
    if a and b and a <= left and b <= right:
        return cond.left, cond.right
    if a and b and b <= left and a <= right:
        return cond.right, cond.left
    return None


def _equi_split(cond: Expr):
    """The relation sets of the two sides of an equality (None for anything else)."""
    if not isinstance(cond, Compare) or cond.op != "=":
        return None
    a, b = relations_of(cond.left), relations_of(cond.right)
    return (a, b) if a and b else None


def greedy(plans: list[Planned], conds: list[Expr], join) -> tuple[Planned, list[Expr]]:
    """Join ``plans`` with ``join(left, right, conds, kind)``; returns the joined plan and the
    conjuncts no join consumed. Relation sets are computed once and conjuncts are indexed by
    relation: with 64 tables and hundreds of conjuncts this loop runs for every unit pair."""
    remaining = [(plan, plan.rels) for plan in plans]
    entries = [(cond, relations_of(cond), _equi_split(cond)) for cond in conds]
    pending = set(range(len(entries)))
    by_relation: dict[int, list[int]] = {}
    for number, (_, rels, _) in enumerate(entries):
        for rel in rels:
            by_relation.setdefault(rel, []).append(number)
    current, current_rels = min(remaining, key=lambda item: item[0].estimate)
    remaining = [item for item in remaining if item[0] is not current]
    while remaining:
        best = None
        for plan, rels in remaining:
            both = current_rels | rels
            candidates = {n for rel in rels for n in by_relation.get(rel, ()) if n in pending}
            connecting = [n for n in candidates
                          if entries[n][1] & current_rels and entries[n][1] <= both]
            equi = any(split is not None and
                       ((split[0] <= current_rels and split[1] <= rels) or
                        (split[1] <= current_rels and split[0] <= rels))
                       for split in (entries[n][2] for n in connecting))
            key = (0 if equi else (1 if connecting else 2), plan.estimate)
            if best is None or key < best[0]:
                best = (key, plan, rels, connecting)
        _, chosen, chosen_rels, used = best
        used = sorted(used)
        pending.difference_update(used)
        current = join(current, chosen, [entries[n][0] for n in used], "inner")
        current_rels = current_rels | chosen_rels
        remaining = [item for item in remaining if item[0] is not chosen]
    return current, [entries[n][0] for n in sorted(pending)]
