"""Protection-group placement: which pages form a PG and which nodes hold its six segments.

docs/protocols/quorum.md: page ``p`` belongs to PG ``p // pg_size``; PG ``g`` lives on the
nodes at positions ``(g + i) mod N`` of the cluster file's node list, ``i = 0..5`` (N >= 6).
With six nodes every node holds every PG; with more, the PGs spread evenly. These functions
work on list positions; ``ClusterConfig`` maps them to node ids.
"""

from __future__ import annotations

from aurora_lite.errors import ProgrammingError

REPLICAS = 6          # segments per protection group
WRITE_QUORUM = 4      # quorum.md: PGCL is the 4th highest SCL
READ_QUORUM = 3
MIN_NODES = REPLICAS


def pg_of(page_id: int, pg_size: int) -> int:
    if page_id < 0:
        raise ProgrammingError(f"page id {page_id} is negative")
    return page_id // pg_size


def page_range(pg: int, pg_size: int) -> tuple[int, int]:
    """(first_page, page_count) of protection group ``pg``."""
    return pg * pg_size, pg_size


def positions_of(pg: int, node_count: int) -> tuple[int, ...]:
    """The node-list positions holding ``pg``'s six segments, in placement order."""
    _check_count(node_count)
    if pg < 0:
        raise ProgrammingError(f"protection group {pg} is negative")
    return tuple((pg + i) % node_count for i in range(REPLICAS))


def holds(position: int, pg: int, node_count: int) -> bool:
    """True if the node at ``position`` holds a segment of ``pg``."""
    _check_count(node_count)
    return (position - pg) % node_count < REPLICAS


def pgs_at(position: int, node_count: int, pg_count: int) -> list[int]:
    """The PGs among ``0 .. pg_count-1`` that the node at ``position`` holds."""
    return [pg for pg in range(pg_count) if holds(position, pg, node_count)]


def _check_count(node_count: int) -> None:
    if node_count < MIN_NODES:
        raise ProgrammingError(f"a cluster needs at least {MIN_NODES} nodes, not {node_count}")
