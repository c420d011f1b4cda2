"""``aurora-lite user`` and ``aurora-lite serve`` as an operator runs them."""

from __future__ import annotations

import os
import stat

import pytest

from aurora_lite.dbapi import _remote
from aurora_lite.errors import OperationalError
from aurora_lite.server import USERS_FILE, load_users
from tests.server._process import cli, serve  # noqa: F401 - fixture


def test_user_add_list_remove(tmp_path):
    result = cli("user", "add", "ann", str(tmp_path), stdin="pencil-✓\n")
    assert result.returncode == 0, result.stderr
    assert "added user ann" in result.stdout
    path = tmp_path / USERS_FILE
    text = path.read_text()
    assert text.startswith("# aurora_lite users v1\nann SCRAM-SHA-256$4096:")
    assert "pencil" not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_users(tmp_path)["ann"].check_password("pencil-✓")
    again = cli("user", "add", "ann", str(tmp_path), stdin="other\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert cli("user", "add", "ann", str(tmp_path), "--replace", stdin="other\n").returncode == 0
    assert load_users(tmp_path)["ann"].check_password("other")
    assert cli("user", "add", "bob", str(tmp_path), stdin="x\n").returncode == 0
    assert cli("user", "list", str(tmp_path)).stdout.split() == ["ann", "bob"]
    assert cli("user", "remove", "bob", str(tmp_path)).returncode == 0
    assert cli("user", "list", str(tmp_path)).stdout.split() == ["ann"]
    for bad in (["user", "add", "has space", str(tmp_path)], ["user", "add", "#x", str(tmp_path)],
                ["user", "remove", "nobody", str(tmp_path)]):
        result = cli(*bad, stdin="pw\n")
        assert result.returncode == 1 and result.stderr.startswith("aurora-lite user: ")
    assert cli("user", "add", "empty", str(tmp_path), stdin="\n").returncode == 1


def test_serve_without_users_says_how_to_add_one_and_picks_them_up(tmp_path, serve):
    server = serve(tmp_path)
    with pytest.raises(OperationalError) as caught:
        _remote.connect(host="127.0.0.1", port=server.port, user="ann", password="pw")
    assert caught.value.sqlstate == "28P01"
    assert cli("user", "add", "ann", str(tmp_path), stdin="pw\n").returncode == 0
    with _remote.connect(f"postgresql://ann:pw@127.0.0.1:{server.port}/db",
                         autocommit=True) as connection:
        assert connection.execute("select 1 + 1").fetchall() == [(2,)]
    assert server.stop() == 0
    assert f"aurora-lite user add NAME {tmp_path}" in server.stderr


def test_serve_trust_warns_and_bad_arguments(tmp_path, serve):
    server = serve(tmp_path, "--auth", "trust")
    with _remote.connect(host="127.0.0.1", port=server.port, user="anyone",
                         autocommit=True) as connection:
        assert connection.execute("select 'ok'").fetchall() == [("ok",)]
    assert server.stop() == 0
    assert "--auth trust" in server.stderr
    assert cli("serve", str(tmp_path), "--auth", "md5").returncode == 2
    assert cli("serve", str(tmp_path), "--listen", "127.0.0.1:99999").returncode == 2
