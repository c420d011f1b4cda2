"""A stub engine for protocol tests: a handful of commands, real transaction semantics, no SQL.

Commands (first word, case-insensitive; parameters arrive as ``params``):

    rows N / select N N rows of (integer, text, double precision, boolean, bytea, date,
                      timestamp), produced lazily
    echo              one row holding the parameters, typed by their Python types
    fail STATE [MSG]  raise the DB-API error class of SQLSTATE with position 3
    sleep SECONDS     wait, stopping with 57014 when interrupted
    write TEXT        append TEXT (or the first parameter) to the store, in the transaction
    count             one row: how many writes are committed
    begin / start / commit / end / rollback / abort   transaction control
    crash             raise a non-DB-API exception (a bug in the engine)

Sessions follow aurora_lite.txn.Session: outside a transaction a statement runs in an
implicit one, committed at its end when ``autocommit`` is on; a failing statement undoes its
own writes; BEGIN makes the transaction explicit.
"""

from __future__ import annotations

import datetime
import threading
import time

from aurora_lite.dbapi._pg import exception_class
from aurora_lite.errors import ProgrammingError, QueryCanceledError
from aurora_lite.exec import Result

_TYPES = {int: "integer", float: "double precision", str: "text", bool: "boolean",
          bytes: "bytea", datetime.date: "date", datetime.datetime: "timestamp"}
ROW_TYPES = ("integer", "text", "double precision", "boolean", "bytea", "date", "timestamp")


def row_of(i: int) -> tuple:
    return (i, f"row {i}", i / 4, i % 2 == 0, bytes([i % 256, 0, 255]),
            datetime.date(2000, 1, 1) + datetime.timedelta(days=i),
            datetime.datetime(2020, 2, 29, 12, 30, 15, 250000) + datetime.timedelta(hours=i))


def _description(names, types) -> tuple:
    return tuple((name, type_name, None, None, None, None, True)
                 for name, type_name in zip(names, types))


class StubSession:
    def __init__(self, backend: "StubBackend") -> None:
        self.backend = backend
        self.autocommit = False
        self.in_transaction = False
        self.explicit = False
        self.pending: list = []
        self.interrupted = threading.Event()
        self.closed = False

    @property
    def in_write_transaction(self) -> bool:
        return self.in_transaction and bool(self.pending)

    def interrupt(self) -> None:
        self.interrupted.set()

    def check_interrupt(self) -> None:
        if self.interrupted.is_set():
            self.interrupted.clear()
            raise QueryCanceledError("canceling statement due to user request")

    def begin(self) -> None:
        if self.explicit:
            raise ProgrammingError("there is already a transaction in progress",
                                   sqlstate="25001")
        self.in_transaction = self.explicit = True

    def commit(self) -> None:
        with self.backend.lock:
            self.backend.committed.extend(self.pending)
        self.pending = []
        self.in_transaction = self.explicit = False

    def rollback(self) -> None:
        self.pending = []
        self.in_transaction = self.explicit = False

    def close(self) -> None:
        self.rollback()
        self.closed = True


class StubBackend:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.committed: list = []
        self.sessions: list[StubSession] = []
        self.executed: list[tuple[str, tuple]] = []

    def open_session(self) -> StubSession:
        session = StubSession(self)
        session.autocommit = True
        self.sessions.append(session)
        return session

    def statistics(self) -> dict:
        return {"committed": len(self.committed)}

    def close(self) -> None:
        pass

    def execute(self, session: StubSession, sql: str, params) -> Result:
        self.executed.append((sql, tuple(params or ())))
        words = sql.split()
        command = words[0].lower() if words else ""
        if command in ("begin", "start"):
            session.begin()
            return Result(command_tag="BEGIN")
        if command in ("commit", "end"):
            session.commit()
            return Result(command_tag="COMMIT")
        if command in ("rollback", "abort"):
            session.rollback()
            return Result(command_tag="ROLLBACK")
        implicit = not session.in_transaction
        session.in_transaction = True
        mark = len(session.pending)
        session.interrupted.clear()
        try:
            result = self._run(session, command, words, params)
        except BaseException:
            del session.pending[mark:]
            if implicit and session.autocommit:
                session.rollback()
            raise
        if implicit and session.autocommit:
            session.commit()
        return result

    def _run(self, session: StubSession, command: str, words: list[str], params) -> Result:
        if command in ("rows", "select"):
            if len(words) < 2 or not words[1].isdigit():
                raise ProgrammingError("rows needs a count", sqlstate="42601")
            count = int(words[1])

            def generate():
                for i in range(count):
                    if i % 64 == 0:
                        session.check_interrupt()
                    yield row_of(i)
            names = ("i", "t", "f", "b", "by", "d", "ts")
            return Result(description=_description(names, ROW_TYPES), rows=generate(),
                          command_tag=f"SELECT {count}", type_names=ROW_TYPES)
        if command == "echo":
            values = tuple(params or ())
            types = tuple(_TYPES.get(type(value), "text") for value in values)
            names = tuple(f"p{i + 1}" for i in range(len(values)))
            return Result(description=_description(names, types), rows=iter([values]),
                          command_tag="SELECT 1", type_names=types)
        if command == "fail":
            state = words[1] if len(words) > 1 else "42000"
            message = " ".join(words[2:]) or f"failure {state}"
            raise exception_class(state)(message, sqlstate=state, position=3)
        if command == "sleep":
            try:
                deadline = time.monotonic() + float(words[1])
            except (IndexError, ValueError):
                raise ProgrammingError("sleep needs seconds", sqlstate="42601") from None
            while time.monotonic() < deadline:
                session.check_interrupt()
                time.sleep(0.005)
            return Result(command_tag="SLEEP")
        if command == "write":
            value = params[0] if params else " ".join(words[1:])
            session.pending.append(value)
            return Result(rowcount=1, command_tag="INSERT 0 1")
        if command == "count":
            with self.lock:
                count = len(self.committed)
            return Result(description=_description(("count",), ("integer",)),
                          rows=iter([(count,)]), command_tag="SELECT 1",
                          type_names=("integer",))
        if command == "crash":
            raise ZeroDivisionError("a bug")
        raise ProgrammingError(f'syntax error at or near "{words[0] if words else ""}"',
                               sqlstate="42601", position=1)
