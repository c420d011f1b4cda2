"""The PostgreSQL wire-protocol server (``aurora-lite serve``): psql and psycopg talk to it.

Public surface:

* ``Server`` (trio; ``await server.serve()``, ``server.statistics()``) and ``ServerThread``
  (the same on a background thread: ``start()``, ``port``, ``statistics()``, ``stop()``);
* ``ServerConfig`` (listen address, authentication, limits, timeouts), ``SERVER_VERSION``;
* ``EngineBackend`` (a data directory served through the SQL frontend) and the ``Backend``
  protocol a test stub implements instead; ``ReplicaBackend`` (a read replica, read-only,
  promotable) and ``run_replica`` (``aurora-lite replica``);
* users: ``UserStore``, ``add_user``, ``remove_user``, ``load_users``, ``USERS_FILE``;
* the command line: ``run_serve`` and ``run_user`` (``aurora_lite.cli`` parses their options).

The protocol codec itself lives in ``aurora_lite.dbapi._pg``, shared with the remote driver.
Names are imported on first use, so ``aurora-lite user`` does not pay for trio and the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Server": "_server", "ServerThread": "_server", "ServerConfig": "_config",
    "SERVER_VERSION": "_config", "Backend": "_backend", "EngineBackend": "_backend",
    "UserStore": "_users", "add_user": "_users", "remove_user": "_users",
    "load_users": "_users", "USERS_FILE": "_users", "run_serve": "_cli", "run_user": "_cli",
    "ReplicaBackend": "_replica", "run_replica": "_replica",
}
_RENAMED = {"load_users": "load"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'aurora_lite.server' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"aurora_lite.server.{module}"),
                    _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
