"""The PEP 249 exception hierarchy, shared by every layer.

This module sits at the very bottom of the layering: any layer may raise these, so that every
error a user sees is a DB-API exception that names the problem. Each class carries a default
SQLSTATE which the wire server sends; an instance may override it (``sqlstate=``) and may carry
the position of the problem in the SQL text (``position=``, 1-based character offset).
"""

from __future__ import annotations


class Warning(Exception):  # noqa: A001 - the name is mandated by PEP 249
    """Important warnings such as data truncation."""

    sqlstate = "01000"


class Error(Exception):
    """Base class of every error raised by aurora_lite."""

    sqlstate = "XX000"

    def __init__(self, message: str = "", *, sqlstate: str | None = None,
                 position: int | None = None) -> None:
        super().__init__(message)
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.position = position

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InterfaceError(Error):
    """Misuse of the driver itself (closed cursor, bad connection URL, ...)."""

    sqlstate = "08000"


class DatabaseError(Error):
    """Errors related to the database."""

    sqlstate = "XX000"


class DataError(DatabaseError):
    """Bad data: division by zero, value out of range, invalid cast."""

    sqlstate = "22000"


class OperationalError(DatabaseError):
    """Errors of the database's operation: storage unavailable, lock held, timeouts."""

    sqlstate = "58000"


class IntegrityError(DatabaseError):
    """A constraint was violated (unique, primary key, not null)."""

    sqlstate = "23000"


class InternalError(DatabaseError):
    """The engine found itself in an inconsistent state (corruption, bug)."""

    sqlstate = "XX000"


class ProgrammingError(DatabaseError):
    """Bad SQL, unknown table or column, wrong number of parameters."""

    sqlstate = "42000"


class NotSupportedError(DatabaseError):
    """A construct that aurora_lite does not support."""

    sqlstate = "0A000"


class CorruptionError(InternalError):
    """A page or record failed its CRC32C check. The message names the file and offset."""

    sqlstate = "XX001"


class ReadOnlyError(OperationalError):
    """A write was attempted where only reads are allowed (replica, read-only transaction)."""

    sqlstate = "25006"


class QueryCanceledError(OperationalError):
    """The statement was interrupted (Connection.interrupt, CancelRequest, statement timeout)."""

    sqlstate = "57014"


class StaleEpochError(OperationalError):
    """Storage refused a request carrying an older volume epoch: this writer has been fenced."""

    sqlstate = "72000"


__all__ = [
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "CorruptionError", "ReadOnlyError", "QueryCanceledError", "StaleEpochError",
]
