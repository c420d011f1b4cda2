"""Meta-commands in both dialects, run in-process on an embedded database: describing the
schema, timing, output modes, reading files, help, quitting, and their errors."""

import io
import re

import pytest

from aurora_lite.shell import run, target_for
from aurora_lite.shell import _meta

SCHEMA = """\
CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance REAL DEFAULT 0,
                       UNIQUE (owner));
CREATE INDEX accounts_balance ON accounts (balance DESC, id);
CREATE TABLE "Mixed Case" (k INTEGER, v TEXT);
INSERT INTO accounts VALUES (1, 'ann', 10.5), (2, 'bob', 0);
"""

ACCOUNTS = """\
Table "accounts"
 Column  | Type | Nullable | Default
---------+------+----------+---------
 id      | int  | not null |
 owner   | text | not null |
 balance | real |          | 0
Indexes:
    PRIMARY KEY (id)
    "accounts_balance" (balance DESC, id)
    "accounts_owner_key" UNIQUE CONSTRAINT (owner)

"""


def shell(tmp_path, *commands, stdin=None):
    """Run the shell in this process; -c for each command, else ``stdin`` piped."""
    out, err = io.StringIO(), io.StringIO()
    status = run(target_for(str(tmp_path / "data")), [("command", c) for c in commands],
                 stdin=io.StringIO(stdin or ""), stdout=out, stderr=err)
    assert "Traceback" not in err.getvalue()
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def db(tmp_path):
    status, _, err = shell(tmp_path, SCHEMA)
    assert status == 0, err
    return tmp_path


def test_list_relations_in_both_dialects(db):
    listing = ('List of relations\n    Name    | Type\n------------+-------\n'
               ' Mixed Case | table\n accounts   | table\n(2 rows)\n\n')
    for command in ("\\d", ".tables", "\\dt"):
        assert shell(db, command) == (0, listing, "")
    status, out, _ = shell(db, "\\di")
    assert status == 0
    assert out.splitlines()[3:5] == [" accounts_balance   | index | accounts",
                                     " accounts_owner_key | index | accounts"]
    assert shell(db, "\\dv") == (0, "Did not find any relations.\n", "")


def test_describe_a_table_in_both_dialects(db):
    for command in ("\\d accounts", ".schema accounts", "\\d ACCOUNTS", "\\d+ accounts;"):
        assert shell(db, command) == (0, ACCOUNTS, ""), command
    status, out, _ = shell(db, '\\d "Mixed Case"')
    assert status == 0 and out.startswith('Table "Mixed Case"\n') and " v      | text" in out
    status, out, _ = shell(db, ".schema")  # every relation
    assert status == 0 and ACCOUNTS in out and 'Table "Mixed Case"' in out


def test_describing_what_is_not_there_fails(db):
    status, out, err = shell(db, "\\d nosuch", "SELECT 1 AS still_running")
    assert status == 1
    assert err == 'ERROR:  Did not find any relation named "nosuch".\n'
    assert "still_running" in out
    assert shell(db, "\\bogus")[2] == "ERROR:  invalid command \\bogus; try \\? or .help for help\n"


def test_timing_on_and_off(db):
    status, out, _ = shell(db, "\\timing", "SELECT 1 AS a", "\\timing off", "SELECT 2 AS b",
                           ".timer on", "SELECT 3 AS c")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "Timing is on."
    assert re.fullmatch(r"Time: \d+\.\d{3} ms", lines[lines.index("(1 row)") + 2])
    assert out.count("Time: ") == 2 and "Timing is off." in lines
    assert shell(db, "\\timing maybe")[2].startswith('ERROR:  unrecognized value "maybe"')


def test_each_output_mode(db):
    query = "SELECT id, owner FROM accounts ORDER BY id"
    status, out, err = shell(db, ".mode csv", query, "\\pset format json", query,
                             ".mode line", query, "\\x off", query, "\\x", ".mode",
                             "\\pset format aligned", query)
    assert status == 0, err
    assert out == (
        "Output mode is csv.\nid,owner\n1,ann\n2,bob\n"
        "Output mode is json.\n"
        '[{"id": 1, "owner": "ann"},\n {"id": 2, "owner": "bob"}]\n'
        "Output mode is line.\n   id = 1\nowner = ann\n\n   id = 2\nowner = bob\n\n"
        "Expanded display is off.\n"
        " id | owner\n----+-------\n  1 | ann\n  2 | bob\n(2 rows)\n\n"
        "Expanded display is on.\nOutput mode is line.\n"
        "Output mode is table.\n"
        " id | owner\n----+-------\n  1 | ann\n  2 | bob\n(2 rows)\n\n")
    status, _, err = shell(db, ".mode html", "\\pset border 2")
    assert status == 1
    assert err.splitlines() == [
        'ERROR:  unknown output mode "html"; one of: table, csv, json, line',
        "ERROR:  \\pset border: only \\pset format is supported"]


def test_read_files_in_both_dialects(db):
    inner = db / "inner.sql"
    inner.write_text("SELECT count(*) AS n FROM accounts;\n.mode csv\nSELECT 'unterminated' AS u")
    outer = db / "outer.sql"
    outer.write_text(f"\\i {inner}\nSELECT 'after' AS w;\n")
    status, out, err = shell(db, f".read {outer}")
    assert status == 0, err
    assert out == " n\n---\n 2\n(1 row)\n\nOutput mode is csv.\nu\nunterminated\nw\nafter\n"
    missing = shell(db, f"\\i {db / 'nope.sql'}", "SELECT 1 AS goes_on")
    assert missing[0] == 1 and missing[2].startswith("ERROR:  cannot read ")
    assert "goes_on" in missing[1]
    loop = db / "loop.sql"
    loop.write_text(f".read {loop}\n")
    status, _, err = shell(db, f".read {loop}")
    assert status == 1 and "files nested more than 16 deep" in err
    assert shell(db, ".read")[2] == "ERROR:  .read: missing required argument FILE\n"


@pytest.mark.parametrize("command", ["\\q", "\\quit", ".quit", ".exit"])
def test_quit_commands_stop_reading(db, command):
    status, out, _ = shell(db, stdin=f"SELECT 1 AS a;\n{command}\nSELECT 2 AS b;\n")
    assert status == 0
    assert " a\n" in out and " b\n" not in out


def test_quit_in_a_read_file_ends_the_session(db):
    script = db / "quit.sql"
    script.write_text("SELECT 1 AS a;\n\\q\nSELECT 2 AS b;\n")
    status, out, _ = shell(db, stdin=f".read {script}\nSELECT 3 AS c;\n")
    assert status == 0 and " a\n" in out and " b\n" not in out and " c\n" not in out


def test_help_in_both_dialects_names_every_command(db):
    status, out, _ = shell(db, ".help")
    assert status == 0 and out == shell(db, "\\?")[1]
    for command in _meta.COMMANDS:
        for name in command.names:
            assert name in out


def test_conninfo_and_cluster_view_of_a_local_volume(db):
    status, out, err = shell(db, "\\conninfo", ".cluster")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"You are connected to the embedded database in {db / 'data'}."
    assert lines[1].startswith(f"Storage: local volume in {db / 'data'}")
    assert lines[2].split("|")[0].strip() == "VDL"
    vdl = int(lines[4].split("|")[0])
    assert vdl > 0
    assert f"Writer: VDL {vdl}, read point {vdl}" in out
    assert lines[-1] == ("Replicas: none connected (a local volume serves no read replicas: "
                         "replicas read the storage cluster)")


def test_a_failing_meta_command_is_an_error_line_not_a_traceback(db, monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")
    monkeypatch.setattr(_meta, "relation_list", broken)
    status, out, err = shell(db, "\\d", "SELECT 1 AS a")
    assert status == 1
    assert err == "ERROR:  internal error (RuntimeError): boom\n"
    assert " a\n" in out
