"""Session settings the server answers itself: SET, SHOW and RESET of a few parameters.

The SQL frontend does not know run-time parameters; clients and tools still send ``SET
application_name``, ``SET statement_timeout`` or ``SHOW server_version``. The server keeps
these per connection. Settings with a fixed value (the encodings, DateStyle, TimeZone) accept
only that value, so a client never believes in a conversion that does not happen. Anything
else goes to the frontend (which answers 0A000 for SET / SHOW of parameters it lacks).
"""

from __future__ import annotations

import re

from aurora_lite.errors import DataError, ProgrammingError
from aurora_lite.exec import Result
from aurora_lite.server._config import SERVER_VERSION

_SET = re.compile(r"^\s*SET\s+(?:(SESSION|LOCAL)\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=|\s+TO\s+|\s+)"
                  r"(.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_SET_TIME_ZONE = re.compile(r"^\s*SET\s+(?:(?:SESSION|LOCAL)\s+)?TIME\s+ZONE\s+(.*?)\s*;?\s*$",
                            re.IGNORECASE | re.DOTALL)
_SHOW = re.compile(r"^\s*SHOW\s+([A-Za-z_][A-Za-z0-9_.]*)\s*;?\s*$", re.IGNORECASE)
_RESET = re.compile(r"^\s*RESET\s+([A-Za-z_][A-Za-z0-9_.]*)\s*;?\s*$", re.IGNORECASE)

# Reported to the client in ParameterStatus at startup and whenever they change.
REPORTED = ("application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
            "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser",
            "server_encoding", "server_version", "session_authorization",
            "standard_conforming_strings", "TimeZone")
_FIXED = {
    "client_encoding": ("UTF8", {"utf8", "utf-8", "unicode", "sql_ascii"}),
    "server_encoding": ("UTF8", {"utf8"}),
    "datestyle": ("ISO, MDY", {"iso", "iso, mdy", "iso,mdy", "mdy, iso"}),
    "timezone": ("UTC", {"utc", "gmt", "z", "zulu", "etc/utc", "+00", "0", "00:00", "+00:00"}),
    "intervalstyle": ("postgres", {"postgres"}),
    "integer_datetimes": ("on", {"on"}),
    "standard_conforming_strings": ("on", {"on", "true", "1"}),
    "server_version": (SERVER_VERSION, set()),
    "server_version_num": ("150000", set()),
    "default_transaction_read_only": ("off", {"off", "false", "0"}),
    "in_hot_standby": ("off", set()),
    "is_superuser": ("off", set()),
    "transaction_isolation": ("serializable", {"serializable"}),
    "default_transaction_isolation": ("serializable", {"serializable"}),
    "max_identifier_length": ("63", set()),
}
# Free settings: any value is kept (and ignored by the engine, or used by the server).
_FREE = {"application_name", "extra_float_digits", "search_path", "client_min_messages",
         "statement_timeout", "idle_session_timeout", "idle_in_transaction_session_timeout",
         "lock_timeout", "datestyle", "bytea_output"}
_CANONICAL = {name.lower(): name for name in REPORTED}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_duration(value: str) -> float | None:
    """A timeout setting in seconds (None: disabled). Plain numbers are milliseconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*", value, re.IGNORECASE)
    if not match:
        raise DataError(f'invalid value for a timeout: "{value}"', sqlstate="22023")
    amount = float(match.group(1))
    unit = (match.group(2) or "ms").lower()
    seconds = amount * {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}[unit]
    return None if seconds == 0 else seconds


class Settings:
    """One connection's parameters."""

    def __init__(self, user: str, application_name: str = "") -> None:
        self.values: dict[str, str] = {name: fixed for name, (fixed, _) in _FIXED.items()}
        self.values.update({"application_name": application_name,
                            "session_authorization": user, "extra_float_digits": "1",
                            "search_path": '"$user", public', "statement_timeout": "0",
                            "client_min_messages": "notice", "bytea_output": "hex",
                            "idle_session_timeout": "0",
                            "idle_in_transaction_session_timeout": "0", "lock_timeout": "0"})
        self._defaults = dict(self.values)
        self.changed: list[str] = []   # reported parameters changed since last looked at
        self._timeouts: dict[str, float | None] = {}

    def set_default(self, name: str, value: str) -> None:
        self.values[name] = self._defaults[name] = value
        self._timeouts.pop(name, None)

    def reported(self) -> list[tuple[str, str]]:
        return [(name, self.values[name.lower()] if name.lower() in self.values
                 else self.values.get(name, "")) for name in REPORTED]

    def get(self, name: str) -> str:
        return self.values.get(name.lower(), "")

    def handle(self, sql: str) -> Result | None:
        """The result of a SET / SHOW / RESET this class owns, or None (not ours)."""
        match = _SET_TIME_ZONE.match(sql)
        if match:
            return self._set("timezone", match.group(1))
        match = _SHOW.match(sql)
        if match:
            name = match.group(1).lower()
            if name == "all":
                rows = [(key, value) for key, value in sorted(self.values.items())]
                return Result(description=(("name", "text", None, None, None, None, None),
                                           ("setting", "text", None, None, None, None, None)),
                              rows=iter(rows), rowcount=len(rows), command_tag="SHOW",
                              type_names=("text", "text"))
            if name not in self.values:
                return None
            return Result(description=((name, "text", None, None, None, None, None),),
                          rows=iter([(self.values[name],)]), rowcount=1, command_tag="SHOW",
                          type_names=("text",))
        match = _RESET.match(sql)
        if match:
            name = match.group(1).lower()
            if name == "all":
                for key in list(self.values):
                    self._assign(key, self._defaults[key])
                return Result(command_tag="RESET")
            if name not in self._defaults:
                return None
            self._assign(name, self._defaults[name])
            return Result(command_tag="RESET")
        match = _SET.match(sql)
        if match and match.group(2).lower() not in ("transaction", "constraints", "role"):
            return self._set(match.group(2).lower(), match.group(3))
        return None

    def _set(self, name: str, raw: str) -> Result | None:
        value = _unquote(raw)
        if value.upper() == "DEFAULT":
            value = self._defaults.get(name, value)
        if name in _FIXED and name not in _FREE:
            fixed, accepted = _FIXED[name]
            if value.lower() != fixed.lower() and value.lower() not in accepted:
                if not accepted:
                    raise ProgrammingError(f'parameter "{name}" cannot be changed',
                                           sqlstate="55P02")
                raise DataError(f'invalid value for parameter "{name}": "{value}" (aurora_lite '
                                f"supports only {fixed})", sqlstate="22023")
            value = fixed
        elif name in _FREE:
            if name.endswith("timeout"):
                parse_duration(value)
            if name == "datestyle" and "iso" not in value.lower():
                raise DataError(f'invalid value for parameter "DateStyle": "{value}" '
                                "(aurora_lite supports only ISO)", sqlstate="22023")
            if name == "datestyle":
                value = "ISO, MDY"
        else:
            return None
        self._assign(name, value)
        return Result(command_tag="SET")

    def _assign(self, name: str, value: str) -> None:
        if self.values.get(name) != value:
            self.values[name] = value
            self._timeouts.pop(name, None)
            if name in _CANONICAL:
                self.changed.append(_CANONICAL[name])

    def timeout(self, name: str) -> float | None:
        """A timeout setting in seconds (None: off); parsed once per change (hot path)."""
        try:
            return self._timeouts[name]
        except KeyError:
            value = self._timeouts[name] = parse_duration(self.values.get(name, "0"))
            return value
