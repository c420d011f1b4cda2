"""Column pruning: each table scan decodes only the columns the plan reads.

Decoding a row is a large part of a scan's cost, and the storage layer can decode a subset of
the columns straight from the page (``Table.scan(columns=...)``; the others come back as
None). Before a block is planned, ``note_columns`` records every column its expressions read
(select list, WHERE, join conditions, GROUP BY, HAVING, ORDER BY, the outer values passed to
its subqueries); a scan of the relation then asks for those. ``SELECT *`` reads every column,
and scans that feed UPDATE or DELETE (which rewrite whole rows) are never pruned.
"""

from __future__ import annotations

from aurora_lite.exec import ColumnRef, walk
from aurora_lite.frontend._logical import QueryBlock, block_expressions
from aurora_lite.frontend._scope import Relation


def note_columns(needed: dict[int, set[int]], block: QueryBlock) -> None:
    """Add the (relation, column) pairs ``block`` reads to ``needed``."""
    for expr in block_expressions(block):
        for node in walk(expr):
            if isinstance(node, ColumnRef):
                needed.setdefault(node.rel, set()).add(node.column)


def scan_columns(needed: dict[int, set[int]], relation: Relation) -> tuple[int, ...] | None:
    """The columns a scan of ``relation`` must decode (None: all of them)."""
    columns = needed.get(relation.rel_id, set())
    if len(columns) >= relation.width:
        return None
    return tuple(sorted(columns))
