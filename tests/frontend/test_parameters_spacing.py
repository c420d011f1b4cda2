"""Parameters written without spaces: sqlglot would read "$1,$2" as a dollar quote."""

from __future__ import annotations

import pytest

from aurora_lite.errors import ProgrammingError
from aurora_lite.frontend._parse import _space_parameters, parse


@pytest.mark.parametrize("sql", ["INSERT INTO t VALUES (?,?,?)", "INSERT INTO t VALUES ($1,$2,$3)",
                                 "INSERT INTO t VALUES (:a,:b,:c)"])
def test_parameters_touching_commas_parse(sql):
    assert parse(sql).param_count == 3


def test_strings_comments_and_dollar_quotes_are_left_alone():
    sql = "SELECT '$1,$2', \"$3,x\", $$a$1,$$ -- $4,$5\n, $tag$ $6,$ $tag$, $1,$2"
    spaced, inserted = _space_parameters(sql)
    assert spaced == sql[:-3] + " ,$2" and len(inserted) == 1


def test_error_positions_refer_to_the_text_as_written():
    with pytest.raises(ProgrammingError) as info:
        parse("SELECT $1,$2,$3 FRM t")
    assert info.value.position == "SELECT $1,$2,$3 FRM t".index("t") + 1
