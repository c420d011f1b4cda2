"""The runner on real corpus files with sqlite3, which produced them: nothing may fail.

The corpus is read from ../shared/sqllogictest relative to the repository, never copied.
"""

import pathlib

import pytest

import slt
from _slt import run_file

CORPUS = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "sqllogictest"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(),
                                reason=f"sqllogictest corpus not found at {CORPUS}")


@pytest.mark.parametrize("name, minimum_tests", [
    ("select1.test", 1000),
    ("evidence/in1.test", 200),
    ("evidence/in2.test", 50),
    ("index/between/1/slt_good_0.test", 10000),  # labels and hash-threshold 8
])
def test_corpus_file_passes_on_sqlite3(name, minimum_tests):
    failures = []
    result = run_file(str(CORPUS / name), slt.sqlite3_database, "sqlite",
                      on_failure=lambda path, failure: failures.append(failure))
    assert result.failed == 0, failures[:3]
    assert result.passed + result.skipped >= minimum_tests
    assert result.passed > 0


def test_engine_name_changes_what_is_skipped():
    as_sqlite = run_file(str(CORPUS / "evidence/in1.test"), slt.sqlite3_database, "sqlite")
    as_postgres = run_file(str(CORPUS / "evidence/in1.test"), slt.sqlite3_database)
    # One record is one test, whichever engine runs: only the split changes.
    total = as_sqlite.passed + as_sqlite.failed + as_sqlite.skipped
    assert as_postgres.passed + as_postgres.failed + as_postgres.skipped == total
    assert as_postgres.skipped > as_sqlite.skipped
