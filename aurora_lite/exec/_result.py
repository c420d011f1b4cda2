"""The result of executing one statement, as the driver and the wire server consume it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


@dataclass(frozen=True)
class Result:
    """``description`` follows PEP 249 (7-tuples; None for statements without rows).

    ``rows`` is consumed once (lazily for SELECT). ``rowcount`` is -1 when unknown (a SELECT
    whose rows have not all been fetched). ``command_tag`` is the PostgreSQL CommandComplete tag
    ("SELECT 3", "INSERT 0 1", "UPDATE 2", "CREATE TABLE", ...). ``type_names`` gives the SQL type
    name of every result column (e.g. "integer", "text") for the wire server's type OIDs.
    """

    description: tuple | None = None
    rows: Iterator[tuple] = field(default_factory=lambda: iter(()))
    rowcount: int = -1
    lastrowid: int | None = None
    command_tag: str = ""
    type_names: tuple[str, ...] = ()
