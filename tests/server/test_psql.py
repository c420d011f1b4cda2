"""Debian's psql against ``aurora-lite serve`` (SCRAM login): a scripted session."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.server._process import cli, serve  # noqa: F401 - fixture

SCRIPT = r"""
\set VERBOSITY verbose
create table people (id integer primary key, name text, score double precision, ok boolean);
insert into people values (1, 'ann', 1.5, true), (2, 'bob', null, false);
select * from people order by id;
insert into people values (1, 'dup', 0, true);
select count(*) as n from people;
begin;
insert into people values (3, 'cy', 2, true);
rollback;
select name from people where id = 3;
select 1 / 0;
select name, score * 2 as doubled from people where ok;
\d people
"""


def _psql() -> str:
    found = shutil.which("psql") or ("/usr/bin/psql" if os.path.exists("/usr/bin/psql") else None)
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql-client"],
                       capture_output=True, timeout=300)
        found = shutil.which("psql")
        if found:
            return found
    pytest.skip("psql is not installed and could not be installed with apt-get "
                "(postgresql-client)")


def run_psql(port: int, password: str, script: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="10", LC_ALL="C.UTF-8",
               PGCLIENTENCODING="UTF8")
    return subprocess.run([_psql(), "-X", "-v", "ON_ERROR_STOP=0",
                           f"host=127.0.0.1 port={port} user=ann dbname=aurora"],
                          input=script, capture_output=True, text=True, timeout=180, env=env)


def test_psql_scripted_session(tmp_path, serve):
    _psql()
    assert cli("user", "add", "ann", str(tmp_path), stdin="pencil\n").returncode == 0
    server = serve(tmp_path)
    result = run_psql(server.port, "pencil", SCRIPT)
    out, err = result.stdout, result.stderr
    assert "CREATE TABLE" in out
    assert "INSERT 0 2" in out
    assert " 1 | ann  |   1.5 | t" in out
    assert " 2 | bob  |       | f" in out
    assert "(2 rows)" in out
    assert "ERROR:  23505: duplicate key value violates unique constraint" in err
    assert " n \n---\n 2\n(1 row)" in out
    assert "ROLLBACK" in out and "(0 rows)" in out
    assert "ERROR:  22012: division by zero" in err
    assert " ann  |       3\n" in out
    assert result.returncode == 0
    failed = run_psql(server.port, "wrong", "select 1;")
    assert failed.returncode == 2
    assert 'password authentication failed for user "ann"' in failed.stderr
