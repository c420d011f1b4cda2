"""Fixtures of the DB-API suite. ``connect`` runs a test twice, through the public
``aurora_lite.connect``: embedded (a directory, in this process) and remote (a postgresql://
URL to an ``aurora-lite serve`` process started once for the session, SCRAM login, stopped
by PID at the end). Both modes share one database each for the whole session, so tests name
their tables with ``unique_name``."""

from __future__ import annotations

import itertools
import os
import urllib.parse

import pytest

import aurora_lite
from aurora_lite import errors

USER = "dbapi"
PASSWORD = "pw-✓ :@/"          # needs quoting in a URL
MODES = ("embedded", "remote")


@pytest.fixture(scope="session")
def remote_server(tmp_path_factory):
    """The ``aurora-lite serve`` process (a ServeProcess: ``.port``, ``.process``)."""
    from aurora_lite.server import add_user
    from tests.server._process import serving

    directory = tmp_path_factory.mktemp("dbapi-remote")
    add_user(directory, USER, PASSWORD, iterations=1024)
    with serving() as start:
        yield start(directory, "--quiet")


@pytest.fixture(scope="session")
def remote_url(remote_server) -> str:
    return (f"postgresql://{USER}:{urllib.parse.quote(PASSWORD, safe='')}@127.0.0.1:"
            f"{remote_server.port}/db")


@pytest.fixture(scope="session")
def remote_options(remote_server) -> dict:
    """The keyword form of the remote connection: host, port, user, password."""
    return {"host": "127.0.0.1", "port": remote_server.port, "user": USER,
            "password": PASSWORD}


@pytest.fixture(scope="session")
def embedded_directory(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("dbapi-embedded"))


@pytest.fixture(params=MODES)
def connect(request, embedded_directory):
    """connect(autocommit=False) -> a PEP 249 connection in this test's mode (``.mode``)."""
    opened = []
    if request.param == "remote":
        url = request.getfixturevalue("remote_url")

        def make(autocommit: bool = False):
            connection = aurora_lite.connect(url, autocommit=autocommit)
            opened.append(connection)
            return connection
    else:
        def make(autocommit: bool = False):
            connection = aurora_lite.connect(embedded_directory, autocommit=autocommit,
                                             fsync=False)
            opened.append(connection)
            return connection
    make.mode = request.param
    yield make
    for connection in opened:
        try:
            connection.close()
        except errors.Error:
            pass


_names = itertools.count()


@pytest.fixture
def unique_name():
    """unique_name(prefix="t") -> a table name no other test of the session uses."""
    return lambda prefix="t": f"{prefix}{os.getpid()}_{next(_names)}"
