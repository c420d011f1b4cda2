"""Fixtures: servers on free loopback ports (port 0), stopped after each test."""

from __future__ import annotations

import pytest

from aurora_lite.server import Server, ServerConfig, ServerThread, UserStore, add_user
from tests.server._stub import StubBackend


@pytest.fixture
def make_stub_server(tmp_path):
    """make_stub_server(**config) -> (ServerThread, StubBackend); trust auth unless users=
    {name: password} is given (then SCRAM against a users file in tmp_path)."""
    started: list[ServerThread] = []

    def make(users: dict[str, str] | None = None, **config):
        backend = StubBackend()
        store = None
        if users is not None:
            for name, password in users.items():
                add_user(tmp_path, name, password, iterations=512)
            store = UserStore(tmp_path)
            config.setdefault("auth", "scram")
        else:
            config.setdefault("auth", "trust")
        config.setdefault("port", 0)
        thread = ServerThread(Server(backend, ServerConfig(**config), store))
        thread.start()
        started.append(thread)
        return thread, backend

    yield make
    for thread in started:
        thread.stop(timeout=20)


@pytest.fixture
def stub_server(make_stub_server):
    return make_stub_server()
