"""Debian's psql against ``aurora-lite serve`` (SCRAM login): a scripted session whose whole
output is checked.

psql comes from Debian's postgresql-client: when it is missing and this machine can install
packages (root, apt-get), the test installs it (``apt-get update``, then ``apt-get install -y
postgresql-client``, each bounded by a timeout) and fails if that does not work; it skips only
where installing is impossible (not root, or no apt-get), and says why.

psql's own ``\\d`` is not in the script: it queries pg_catalog, which the server does not have
(the shell's ``\\d`` / ``.schema`` describe tables over the wire instead, docs/shell.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.server._process import cli, serve  # noqa: F401 - fixture

APT_TIMEOUT = 600
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
"""
EXPECTED_OUT = """\
CREATE TABLE
INSERT 0 2
 id | name | score | ok 
----+------+-------+----
  1 | ann  |   1.5 | t
  2 | bob  |       | f
(2 rows)

 n 
---
 2
(1 row)

BEGIN
INSERT 0 1
ROLLBACK
 name 
------
(0 rows)

 name | doubled 
------+---------
 ann  |       3
(1 row)

"""  # noqa: W291 - psql pads header cells with a trailing blank
# With VERBOSITY verbose psql prints the SQLSTATE after "ERROR:  ".
EXPECTED_ERR = """\
ERROR:  23505: duplicate key value violates unique constraint "people_pkey" (Key (id)=(1) \
already exists.)
ERROR:  22012: division by zero
"""


def _run(command: list[str], timeout: float) -> str:
    """Run an apt-get step; its output, or why it failed."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except subprocess.TimeoutExpired:
        return f"{' '.join(command)}: no result within {timeout} s"
    if result.returncode != 0:
        return f"{' '.join(command)} exited {result.returncode}: {result.stderr[-2000:]}"
    return ""


def _psql() -> str:
    found = shutil.which("psql") or ("/usr/bin/psql" if os.path.exists("/usr/bin/psql") else None)
    if found:
        return found
    if not shutil.which("apt-get"):
        pytest.skip("psql is not installed and this machine has no apt-get to install "
                    "postgresql-client")
    if os.geteuid() != 0:
        pytest.skip("psql is not installed and installing postgresql-client with apt-get "
                    "needs root")
    problem = _run(["apt-get", "update", "-q"], APT_TIMEOUT) or \
        _run(["apt-get", "install", "-y", "-q", "postgresql-client"], APT_TIMEOUT)
    found = shutil.which("psql")
    if not found:
        pytest.fail(f"could not install postgresql-client: {problem or 'psql still missing'}")
    return found


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
    assert result.stdout == EXPECTED_OUT
    assert result.stderr == EXPECTED_ERR
    assert result.returncode == 0
    failed = run_psql(server.port, "wrong", "select 1;")
    assert failed.returncode == 2
    assert 'password authentication failed for user "ann"' in failed.stderr
    assert failed.stdout == ""
