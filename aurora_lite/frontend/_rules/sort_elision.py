"""Sort elision: does a scan's key order already give the ORDER BY order?

A scan over a key (primary key, all ascending, or an index with per-column directions) whose
first ``m`` columns are fixed by equality yields rows ordered by the remaining key columns,
forward or (scanned in reverse) backward. NULLs sit after the values of an ASC column and
before those of a DESC one, so a forward scan gives PostgreSQL's default NULL placement
(NULLS LAST for ASC, NULLS FIRST for DESC) and so does a reverse scan; an ORDER BY asking
for the other placement on a column that may hold NULLs needs a real sort.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WantedKey:
    column: int                # column index in the table
    descending: bool
    nulls_first: bool
    nullable: bool


def order_direction(wanted: list[WantedKey], key_columns: list[int],
                    key_descending: list[bool], fixed: set[int]) -> bool | None:
    """None when the key cannot give ``wanted``; otherwise whether to scan in reverse."""
    wanted = [key for key in wanted if key.column not in fixed]
    free = [(column, desc) for column, desc in zip(key_columns, key_descending)
            if column not in fixed]
    if not wanted:
        return False
    if len(wanted) > len(free):
        return None
    reverse = None
    for key, (column, desc) in zip(wanted, free):
        if key.column != column:
            return None
        flipped = key.descending != desc
        if reverse is None:
            reverse = flipped
        elif reverse != flipped:
            return None
        if key.nullable and key.nulls_first != key.descending:
            return None
    return bool(reverse)
