"""Parsing sqllogictest scripts: records, comments, CRLF, conditions, query headers."""

from _slt import (
    Halt, HashThreshold, Query, Statement, UnknownRecord, parse_script, read_script,
)


def test_records_are_separated_by_blank_lines_and_comments_do_not_separate():
    records = parse_script(
        "# leading comment\n"
        "statement ok\n"
        "CREATE TABLE t(a INTEGER,\n"
        "# a comment inside the record\n"
        "b TEXT)\n"
        "\n"
        "   \n"
        "statement error\n"
        "SELECT * FROM missing\n"
    )
    assert records == [
        Statement(2, sql="CREATE TABLE t(a INTEGER,\nb TEXT)", expect_error=False),
        Statement(8, sql="SELECT * FROM missing", expect_error=True),
    ]


def test_crlf_line_endings_are_stripped(tmp_path):
    path = tmp_path / "crlf.test"
    path.write_bytes(b"query IT rowsort\r\nSELECT 1, 'a'\r\n----\r\n1\r\na\r\n\r\nhalt\r\n")
    query, halt = read_script(str(path))
    assert query == Query(1, sql="SELECT 1, 'a'", types="IT", sort="rowsort", label=None,
                          expected=("1", "a"))
    assert halt == Halt(7)


def test_query_header_variants():
    q1, q2, q3, q4 = parse_script(
        "query I\nSELECT 1\n----\n1\n\n"
        "query R valuesort label-7\nSELECT 1.0\n----\n1.000\n\n"
        "query T nosort\nSELECT ''\n----\n\n"
        "query II rowsort\nSELECT 1, 2\n"
    )
    assert (q1.sort, q1.label, q1.expected) == ("nosort", None, ("1",))
    assert (q2.sort, q2.label) == ("valuesort", "label-7")
    assert q3.expected == ()  # '----' followed by nothing: an empty result is expected
    assert q4.expected is None  # no '----': the query only has to run
    assert q4.expected_hash is None


def test_expected_hash_line_is_recognised():
    (query,) = parse_script("query I rowsort\nSELECT 1\n----\n"
                            "30 values hashing to 3C13DD3D1B1B4A0B7B1E3A7A94AC3F71\n")
    assert query.expected_hash == (30, "3c13dd3d1b1b4a0b7b1e3a7a94ac3f71")


def test_conditions_stack_and_ignore_trailing_comments():
    records = parse_script(
        "onlyif sqlite # empty RHS\nskipif mysql\nquery I nosort\nSELECT 1 IN ()\n----\n0\n\n"
        "onlyif mssql\nhalt\n\n"
        "hash-threshold 8\n"
    )
    query, halt, threshold = records
    assert [c.engine for c in query.conditions] == ["sqlite", "mysql"]
    assert query.applies_to("sqlite")
    assert not query.applies_to("mysql")
    assert not query.applies_to("postgresql")
    assert isinstance(halt, Halt) and not halt.applies_to("postgresql")
    assert halt.applies_to("mssql")
    assert threshold == HashThreshold(11, threshold=8)


def test_malformed_records_are_kept_as_unknown_tests():
    records = parse_script("statement maybe\nSELECT 1\n\nquery X\nSELECT 1\n\nloop i 1 3\n\n"
                           "skipif sqlite\n")
    assert all(isinstance(record, UnknownRecord) for record in records)
    assert all(record.is_test for record in records)
    assert "statement ok" in records[0].problem
    assert "type letters" in records[1].problem
    assert "loop" in records[2].problem


def test_line_numbers_point_at_the_command_line():
    (record,) = parse_script("\n\n# c\nskipif mysql\nstatement ok\nSELECT 1\n")
    assert record.line == 5
