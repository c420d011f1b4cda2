"""The PEP 249 Cursor: runs statements through the frontend and pages through their rows.

Rows of a SELECT are produced lazily from the statement's read point, so a large result costs
memory only as it is fetched. Inside a write transaction the rows are taken at once: the next
statement of the same transaction may change the very pages a lazy scan would still walk.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Iterator

from aurora_lite.errors import Error, InterfaceError, InternalError, ProgrammingError

log = logging.getLogger("aurora_lite")


def _engine_call(function, *args):
    """Run an engine call; anything that is not a DB-API error is an internal error with a
    message (the traceback goes to the log, never to the user)."""
    try:
        return function(*args)
    except Error:
        raise
    except RecursionError:
        raise ProgrammingError("statement is too deeply nested", sqlstate="54001") from None
    except MemoryError:
        raise InternalError("out of memory while running the statement",
                            sqlstate="53200") from None
    except Exception as error:  # noqa: BLE001 - the boundary that turns bugs into errors
        log.exception("internal error")
        raise InternalError(f"internal error: {type(error).__name__}: {error}") from None


class Cursor:
    arraysize = 1

    def __init__(self, connection) -> None:
        self.connection = connection
        self._rows: Iterator[tuple] = iter(())
        self.description: tuple | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.command_tag = ""
        self._closed = False
        self._fetched = 0
        self._exhausted = True

    # -- PEP 249 -------------------------------------------------------------------------------
    def execute(self, operation: str, parameters: Sequence | Mapping | None = None) -> "Cursor":
        self._check()
        if not isinstance(operation, str):
            raise ProgrammingError("the statement must be a string")
        if parameters is not None and not isinstance(parameters, (Sequence, Mapping)) \
                or isinstance(parameters, (str, bytes)):
            raise ProgrammingError("parameters must be a sequence or a mapping")
        from aurora_lite import frontend
        session = self.connection._session
        result = _engine_call(frontend.execute, session, operation, parameters)
        self.description = result.description
        self.lastrowid = result.lastrowid
        self.command_tag = result.command_tag
        self._fetched = 0
        if result.description is None:
            self._rows = iter(())
            self._exhausted = True
            self.rowcount = result.rowcount
        elif session.in_write_transaction:
            rows = _engine_call(list, result.rows)
            self._rows = iter(rows)
            self._exhausted = False
            self.rowcount = len(rows)
        else:
            self._rows = iter(result.rows)
            self._exhausted = False
            self.rowcount = -1
        return self

    def executemany(self, operation: str, seq_of_parameters) -> "Cursor":
        """Run ``operation`` once per parameter set. An INSERT, UPDATE or DELETE runs as one
        statement: all of it happens, or (on an error) none of it."""
        self._check()
        if not isinstance(operation, str):
            raise ProgrammingError("the statement must be a string")
        from aurora_lite import frontend
        prepared = _engine_call(frontend.prepare, operation)
        if prepared.kind not in ("insert", "update", "delete"):
            raise ProgrammingError("executemany() runs INSERT, UPDATE or DELETE statements",
                                   sqlstate="42601")
        parameters = []
        for item in seq_of_parameters:
            if item is not None and not isinstance(item, (Sequence, Mapping)) \
                    or isinstance(item, (str, bytes)):
                raise ProgrammingError("parameters must be a sequence or a mapping")
            parameters.append(item)
        result = _engine_call(prepared.execute_many, self.connection._session, parameters)
        self.description = None
        self.lastrowid = result.lastrowid
        self.command_tag = result.command_tag
        self.rowcount = result.rowcount
        self._rows = iter(())
        self._exhausted = True
        return self

    def fetchone(self) -> tuple | None:
        self._check_result()
        row = _engine_call(next, self._rows, None)
        if row is None:
            self._finish()
            return None
        self._fetched += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        self._check_result()
        size = self.arraysize if size is None else size
        rows = _engine_call(list, itertools.islice(self._rows, size))
        self._fetched += len(rows)
        if len(rows) < size:
            self._finish()
        return rows

    def fetchall(self) -> list[tuple]:
        self._check_result()
        rows = _engine_call(list, self._rows)
        self._fetched += len(rows)
        self._finish()
        return rows

    def close(self) -> None:
        self._closed = True
        self._rows = iter(())

    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def __iter__(self) -> "Cursor":
        return self

    def __next__(self) -> tuple:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------
    def _finish(self) -> None:
        if not self._exhausted:
            self._exhausted = True
            self.rowcount = self._fetched
            self._rows = iter(())

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed")
        if self.connection.closed:
            raise InterfaceError("the connection is closed")

    def _check_result(self) -> None:
        self._check()
        if self.description is None:
            raise ProgrammingError("the last statement did not produce rows" if self.command_tag
                                   else "no statement has been executed")
