"""Package-private helpers of tools/slt.py, the sqllogictest runner.

Public surface (for slt.py and the tests): ``parse_script``, ``read_script`` and the record
classes; ``render_value``, ``sorted_values``, ``md5_of``, ``hash_line``; ``run_file``,
``FileResult`` and ``Failure``.
"""

from _slt._parser import (
    Condition, Halt, HashThreshold, Query, Record, Statement, UnknownRecord, parse_script,
    read_script,
)
from _slt._render import hash_line, md5_of, render_rows, render_value, sorted_values
from _slt._runner import Failure, FileResult, run_file

__all__ = [
    "Condition", "Halt", "HashThreshold", "Query", "Record", "Statement", "UnknownRecord",
    "parse_script", "read_script", "hash_line", "md5_of", "render_rows", "render_value",
    "sorted_values", "Failure", "FileResult", "run_file",
]
