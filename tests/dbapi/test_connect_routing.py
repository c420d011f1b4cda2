"""Which driver ``aurora_lite.connect`` picks: a server connection as soon as any libpq-style
keyword is given (host, port, user, password, dbname), the embedded database otherwise; the
embedded-only options are refused for a server connection instead of being dropped."""

from __future__ import annotations

import socket

import pytest

import aurora_lite


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("keywords", [{"port": None}, {"user": "ann", "port": None},
                                      {"host": "127.0.0.1", "port": None}])
def test_any_server_keyword_means_a_server_connection(keywords, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    keywords = {key: (_closed_port() if value is None else value)
                for key, value in keywords.items()}
    with pytest.raises(aurora_lite.OperationalError):
        aurora_lite.connect(connect_timeout=2, **keywords)
    # Nothing was opened as an embedded database in the working directory.
    assert not (tmp_path / "aurora-data").exists()


@pytest.mark.parametrize("option", [{"storage": "local"}, {"pool_pages": 64}, {"fsync": False},
                                    {"lock_timeout": 1.0}, {"commit_timeout": 1.0}])
def test_embedded_options_are_refused_for_a_server(option):
    with pytest.raises(aurora_lite.InterfaceError, match=next(iter(option))):
        aurora_lite.connect(host="127.0.0.1", port=_closed_port(), **option)
    with pytest.raises(aurora_lite.InterfaceError, match=next(iter(option))):
        aurora_lite.connect("postgresql://ann@127.0.0.1:1/db", **option)


def test_unknown_options_are_refused(tmp_path):
    with pytest.raises(aurora_lite.InterfaceError, match="colour"):
        aurora_lite.connect(str(tmp_path / "db"), storage="local", colour="red")
