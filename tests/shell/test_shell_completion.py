"""Tab completion (keywords, tables, columns, meta-commands) and when Enter runs the input,
without a terminal: the completer is asked directly, over an embedded database and over a
connection that has no catalog."""

import sqlite3

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

import aurora_lite
from aurora_lite.shell._completion import SqlCompleter, insertable, table_references
from aurora_lite.shell._interactive import input_is_complete
from aurora_lite.shell._introspect import QueryIntrospector, introspector_for


@pytest.fixture
def completer(tmp_path):
    connection = aurora_lite.connect(str(tmp_path / "data"), autocommit=True)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)")
    cursor.execute("CREATE TABLE audit_log (at INTEGER, note TEXT)")
    cursor.execute('CREATE TABLE "Odd Name" (x INTEGER)')
    yield SqlCompleter(introspector_for(connection, lambda: False))
    connection.close()


def complete(completer, text):
    """Completions with the cursor at "|" (or at the end)."""
    cursor = text.find("|")
    text, cursor = (text, len(text)) if cursor < 0 else (text.replace("|", "", 1), cursor)
    document = Document(text, cursor)
    return [(c.text, c.start_position)
            for c in completer.get_completions(document, CompleteEvent(completion_requested=True))]


def texts(completer, text):
    return [item[0] for item in complete(completer, text)]


def test_table_names_after_from_join_into_update(completer):
    assert complete(completer, "SELECT * FROM a") == [("accounts", -1), ("audit_log", -1)]
    assert texts(completer, "select * from accounts a join au") == ["audit_log"]
    assert texts(completer, "INSERT INTO acc") == ["accounts"]
    assert texts(completer, "update o") == ['"Odd Name"']


def test_columns_of_the_tables_named_and_of_aliases(completer):
    assert texts(completer, "SELECT bal") == ["balance"]  # no table named yet: all tables
    found = texts(completer, "SELECT o| FROM accounts")
    assert found[0] == "owner" and "note" not in found and "or" in found
    assert complete(completer, "SELECT a.o| FROM accounts a") == [("owner", -1)]
    assert texts(completer, "SELECT x.| FROM accounts AS x") == ["id", "owner", "balance"]
    assert texts(completer, "select audit_log.n") == ["note"]


def test_keywords_follow_the_case_being_typed(completer):
    assert "SELECT" in texts(completer, "SEL") and "select" in texts(completer, "sel")
    assert "sum" in texts(completer, "select su") and "SUM" in texts(completer, "SELECT SU")


def test_meta_commands_and_their_arguments(completer):
    assert texts(completer, "\\ti") == ["\\timing"]
    assert set(texts(completer, ".re")) == {".read"}
    assert texts(completer, "\\d acc") == ["accounts"]
    assert texts(completer, ".schema au") == ["audit_log"]
    assert texts(completer, ".mode j") == ["json"]
    assert texts(completer, "\\timing o") == ["on", "off"]


def test_names_that_need_quotes_are_quoted():
    assert insertable("accounts") == "accounts"
    assert insertable("Odd Name") == '"Odd Name"'
    assert insertable("select") == '"select"'
    assert table_references('SELECT * FROM accounts AS a, "Odd Name" o WHERE') == {
        "accounts": "accounts", "a": "accounts", "Odd Name": "Odd Name", "o": "Odd Name"}


def test_without_a_catalog_names_come_from_the_session_s_statements():
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute("CREATE TABLE seen (alpha INTEGER)")
    introspector = QueryIntrospector(connection, lambda: False)
    completer = SqlCompleter(introspector)
    assert texts(completer, "SELECT * FROM se") == []  # sqlite3 has no information_schema
    introspector.observe("INSERT INTO seen VALUES (1)")
    assert texts(completer, "SELECT * FROM se") == ["seen"]
    assert texts(completer, "SELECT al| FROM seen")[0] == "alpha"  # SELECT * ... LIMIT 0
    introspector.observe("DROP TABLE seen")
    assert texts(completer, "SELECT * FROM se") == []


@pytest.mark.parametrize("text, complete", [
    ("", True),
    ("SELECT 1;", True),
    ("SELECT 1", False),
    ("SELECT 1;\nSELECT", False),
    ("SELECT 'a;\nb'", False),
    ("SELECT 'a;\nb';", True),
    ("SELECT 1; -- done", True),
    ("/* open", False),
    ("\\d accounts", True),
    (".mode csv", True),
    ("SELECT 1\n\\q", True),          # quitting drops the unfinished statement
    ("SELECT 1\n.mode csv", False),  # a meta-command only where a statement may start
])
def test_enter_runs_the_input_only_when_it_is_complete(text, complete):
    assert input_is_complete(text) is complete
