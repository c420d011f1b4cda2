"""Access path selection for one table and its pushed-down conjuncts.

Candidates are the primary key and every secondary index. For each, the conjuncts of the form
``column op constant`` (constants and parameters: evaluated once per execution) fix a prefix
of the key by equality and perhaps bound the next column by a range. The cheapest candidate
wins: a point lookup when the whole primary key is fixed, else estimated rows against a full
scan. A row found through an index costs a table lookup, measured at about ten rows of a
sequential scan (which decodes only the columns it needs straight from the page), unless the
index covers every column the query reads (index and primary-key columns): then the scan is
index-only and a row costs little more than a scanned one. A range's selectivity is estimated
from the smallest and largest value of the column (read from the index at plan time) when
the bounds are numeric constants, else guessed. When the query wants an order, a candidate
that yields it may win instead (always with LIMIT; without LIMIT when it costs no more than a
sort would save).

Bounds are passed in the engine's value-space convention (``TableAccess.scan``): a bound
tuple's last column decides which end of the key space it limits (DESC columns limit the
other end). A one-sided range on a column that may hold NULLs is fenced with a NULL bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.catalog import IndexDef
from aurora_lite.exec import (
    ColumnRef, Compare, Const, Expr, IndexScan, InList, OutputColumn, PkLookup, PkMultiLookup,
    TableScan, is_constant, make_and,
)
from aurora_lite.frontend._rules.sort_elision import WantedKey, order_direction
from aurora_lite.frontend._scope import Relation
from aurora_lite.values import SqlType

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
EQ_SELECTIVITY = 0.05
RANGE_SELECTIVITY = 0.3          # one bound, when the column's extent is unknown
BETWEEN_SELECTIVITY = 0.1        # both bounds
MIN_SELECTIVITY = 0.001
INDEX_LOOKUP_COST = 10.0         # a row through an index and a table lookup, in scanned rows
INDEX_ONLY_COST = 2.5            # a row decoded from an index key alone


@dataclass
class Sarg:
    cond: Expr
    column: int
    op: str
    value: Expr


@dataclass
class Candidate:
    kind: str                     # "pk" or "index"
    index: IndexDef | None
    columns: list[int]
    descending: list[bool]
    unique: bool


@dataclass
class Path:
    node: object
    estimate: float
    ordered: bool


def _compatible(column_type: SqlType, value_type: SqlType | None) -> bool:
    if value_type is None:
        return False
    return column_type == value_type or \
        (column_type is SqlType.REAL and value_type is SqlType.INTEGER)


def sargs_of(relation: Relation, conds: list[Expr]) -> list[Sarg]:
    out = []
    for cond in conds:
        if not isinstance(cond, Compare) or cond.op == "<>":
            continue
        left, right, op = cond.left, cond.right, cond.op
        if not isinstance(left, ColumnRef):
            left, right, op = right, left, _FLIP[op]
        if isinstance(left, ColumnRef) and left.rel == relation.rel_id and \
                is_constant(right) and _compatible(left.type, right.type):
            out.append(Sarg(cond, left.column, op, right))
    return out


def candidates(relation: Relation, indexes: list[IndexDef]) -> list[Candidate]:
    table = relation.table
    out = []
    if table.primary_key:
        out.append(Candidate("pk", None, list(table.primary_key_positions),
                             [False] * len(table.primary_key), True))
    for index in indexes:
        out.append(Candidate("index", index, [table.column_index(c) for c in index.columns],
                             list(index.descending), index.unique))
    return out


def _match(candidate: Candidate, sargs: list[Sarg]):
    """(equality sargs for the fixed prefix, lower sarg, upper sarg) on this key."""
    equal = []
    for column in candidate.columns:
        found = next((s for s in sargs if s.column == column and s.op == "="), None)
        if found is None:
            break
        equal.append(found)
    lower = upper = None
    if len(equal) < len(candidate.columns):
        column = candidate.columns[len(equal)]
        lower = next((s for s in sargs if s.column == column and s.op in (">", ">=")), None)
        upper = next((s for s in sargs if s.column == column and s.op in ("<", "<=")), None)
    return equal, lower, upper


def _bounds(candidate: Candidate, equal: list[Sarg], lower: Sarg | None, upper: Sarg | None,
            nullable: bool):
    """Value-space (lower, upper, lower_inclusive, upper_inclusive, used sargs), or None when
    the engine's bound convention cannot express the range (then only the equalities)."""
    prefix = tuple(s.value for s in equal)
    if lower is None and upper is None:
        return prefix, prefix, True, True, list(equal)
    depth = len(equal)
    desc = candidate.descending
    range_desc = desc[depth]
    null = Const(None, None)
    # Key-space bounds: (values, inclusive) for the low and the high end of the key order.
    small = (prefix + (lower.value,), lower.op == ">=") if lower else None
    large = (prefix + (upper.value,), upper.op == "<=") if upper else None
    if range_desc:
        small, large = large, small
    fence = (prefix + (null,), False) if nullable else None
    if range_desc:
        low_end = small if small else (fence or ((prefix, True) if prefix else None))
        high_end = large if large else ((prefix, True) if prefix else None)
    else:
        low_end = small if small else ((prefix, True) if prefix else None)
        high_end = large if large else (fence or ((prefix, True) if prefix else None))
    params = {}
    for end, bound in (("low", low_end), ("high", high_end)):
        if bound is None:
            continue
        values, inclusive = bound
        last_desc = desc[len(values) - 1]
        name = ("lower" if end == "low" else "upper") if not last_desc else \
            ("upper" if end == "low" else "lower")
        if name in params:
            return None
        params[name] = (values, inclusive)
    low = params.get("lower", ((), True))
    high = params.get("upper", ((), True))
    used = list(equal) + [s for s in (lower, upper) if s is not None]
    return low[0], high[0], low[1], high[1], used


def _number(expr) -> float | None:
    if isinstance(expr, Const) and isinstance(expr.value, (int, float)) and \
            not isinstance(expr.value, bool):
        return float(expr.value)
    return None


def range_selectivity(lower: Sarg | None, upper: Sarg | None, extent) -> float:
    """The fraction of rows within the bounds: from the column's (smallest, largest) value
    when known and the bounds are numbers, else a guess."""
    guess = BETWEEN_SELECTIVITY if lower and upper else RANGE_SELECTIVITY
    if extent is None:
        return guess
    low, high = (float(value) for value in extent)
    start = low if lower is None else _number(lower.value)
    stop = high if upper is None else _number(upper.value)
    if start is None or stop is None:
        return guess
    if high <= low:
        return 1.0 if start <= low <= stop else MIN_SELECTIVITY
    inside = min(stop, high) - max(start, low)
    return min(1.0, max(MIN_SELECTIVITY, inside / (high - low)))


def covered(candidate: Candidate, relation: Relation, columns: tuple[int, ...] | None) -> bool:
    """Whether an index holds every column the query reads (an index-only scan)."""
    if candidate.kind != "index":
        return False
    held = set(candidate.columns) | set(relation.table.primary_key_positions)
    needed = range(relation.width) if columns is None else columns
    return set(needed) <= held


def choose_path(relation: Relation, conds: list[Expr], indexes: list[IndexDef], rows: int,
                resolve, *, wanted: list[WantedKey] | None = None, limited: bool = False,
                with_locators: bool = False, columns: tuple[int, ...] | None = None,
                extent=None) -> Path:
    """The access path for ``relation`` filtered by ``conds`` (ColumnRef expressions);
    ``resolve`` turns those into the scan's Field expressions. ``columns`` are the columns
    the plan reads (None: all), passed to table scans (column pruning) and deciding whether
    an index scan can be index-only. ``extent(candidate)`` gives the (smallest, largest)
    value of a candidate key's first column, or None."""
    table = relation.table
    output = tuple(OutputColumn(column.name, column.type,
                                relation.nullable or not (column.not_null or
                                                          column.name in table.primary_key))
                   for column in table.columns)
    nullable = [o.nullable for o in output]
    sargs = sargs_of(relation, conds)
    rows = float(max(rows, 1))
    # The full scan runs in primary-key order (row-id order, i.e. none, without a key).
    full_reverse = None
    if wanted and table.primary_key:
        pk = candidates(relation, [])[0]
        full_reverse = order_direction(wanted, pk.columns, pk.descending, set())
    options = [(rows, rows, full_reverse, None, [], None, None)]
    for candidate in candidates(relation, indexes):
        equal, lower, upper = _match(candidate, sargs)
        fixed = {s.column for s in equal}
        reverse = None if not wanted else order_direction(
            wanted, candidate.columns, candidate.descending, fixed)
        if not equal and lower is None and upper is None:
            # Useful only for its order: a full index scan pays a lookup per row.
            if reverse is None or candidate.kind == "pk" or not limited:
                continue
            estimate = rows
        elif len(equal) == len(candidate.columns) and candidate.unique:
            estimate = 1.0
        else:
            fraction = 1.0
            if lower or upper:
                known = extent(candidate) if extent is not None and not equal else None
                fraction = range_selectivity(lower, upper, known)
            estimate = rows * EQ_SELECTIVITY ** len(equal) * fraction
        # A primary-key range reads no more than a full scan, even when it keeps every row.
        cost = estimate * 0.999
        if candidate.kind == "index":
            cost *= INDEX_ONLY_COST if not with_locators and \
                covered(candidate, relation, columns) else INDEX_LOOKUP_COST
        if candidate.kind == "pk" and len(equal) == len(candidate.columns):
            cost = 0.5                # a point lookup beats everything
        options.append((cost, estimate, reverse, candidate, equal, lower, upper))
    if not with_locators:
        options.extend(_in_list_options(relation, conds, wanted))
    best = min(options, key=lambda option: option[0])
    if wanted and best[2] is None:
        ordered = [option for option in options if option[2] is not None]
        if ordered:
            alternative = min(ordered, key=lambda option: option[0])
            if limited or alternative[0] <= best[0] * 1.5:
                best = alternative
    cost, estimate, reverse, candidate, equal, lower, upper = best
    if with_locators:
        reverse = None
    return _build(relation, output, nullable, conds, candidate, equal, lower, upper,
                  estimate, reverse, resolve, with_locators, columns)


MAX_IN_KEYS = 1000


def _in_list_options(relation: Relation, conds: list[Expr], wanted) -> list[tuple]:
    """``pk IN (constants)`` on a one-column primary key: one lookup per value."""
    table = relation.table
    if len(table.primary_key) != 1:
        return []
    column = table.primary_key_positions[0]
    column_type = table.columns[column].type
    out = []
    for cond in conds:
        if not isinstance(cond, InList) or cond.negated or \
                not isinstance(cond.arg, ColumnRef) or cond.arg.rel != relation.rel_id or \
                cond.arg.column != column or len(cond.items) > MAX_IN_KEYS:
            continue
        if not all(is_constant(item) and (_compatible(column_type, item.type) or
                                          isinstance(item, Const) and item.value is None)
                   for item in cond.items):
            continue
        reverse = None if not wanted else order_direction(wanted, [column], [False], set())
        candidate = Candidate("in", None, [column], [False], True)
        count = float(len(cond.items))
        out.append((count * 0.5, count, reverse, candidate, [Sarg(cond, column, "in", cond)],
                    None, None))
    return out


def _build(relation, output, nullable, conds, candidate, equal, lower, upper, estimate,
           reverse, resolve, with_locators, columns=None) -> Path:
    table = relation.table
    ordered = reverse is not None
    scan_reverse = bool(reverse)
    if candidate is not None and candidate.kind == "in":
        cond = equal[0].cond
        node = PkMultiLookup(table.name, relation.alias, output,
                             tuple(resolve(item) for item in cond.items),
                             table.columns[candidate.columns[0]].type, scan_reverse,
                             _filter(conds, [cond], resolve), (resolve(cond),))
        return Path(node, estimate, ordered)
    if candidate is None:
        node = TableScan(table.name, relation.alias, output,
                         filter=_filter(conds, [], resolve), with_locators=with_locators,
                         reverse=scan_reverse, columns=columns)
        return Path(node, estimate, ordered)
    types = tuple(table.columns[c].type for c in candidate.columns)
    range_column = candidate.columns[len(equal)] if len(equal) < len(candidate.columns) else None
    bounds = _bounds(candidate, equal, lower, upper,
                     range_column is not None and nullable[range_column])
    if bounds is None:
        bounds = _bounds(candidate, equal, None, None, False)
        if not equal:
            node = TableScan(table.name, relation.alias, output,
                             filter=_filter(conds, [], resolve), with_locators=with_locators,
                             columns=columns)
            return Path(node, float(estimate), False)
    low, high, low_inc, high_inc, used = bounds
    access = tuple(resolve(s.cond) for s in used)
    residual = _filter(conds, [s.cond for s in used], resolve)
    low = tuple(resolve(v) for v in low)
    high = tuple(resolve(v) for v in high)
    if candidate.kind == "pk":
        if len(equal) == len(candidate.columns) and not with_locators:
            node = PkLookup(table.name, relation.alias, output, low, types, residual, access)
            return Path(node, estimate, True)
        node = TableScan(table.name, relation.alias, output, types, low, high, low_inc,
                         high_inc, scan_reverse, residual, with_locators, access, columns)
        return Path(node, estimate, ordered)
    index_only = not with_locators and covered(candidate, relation, columns)
    node = IndexScan(table.name, relation.alias, candidate.index.name, output, types, low, high,
                     low_inc, high_inc, scan_reverse, residual, with_locators, access,
                     (columns if columns is not None else tuple(range(relation.width)))
                     if index_only else None)
    return Path(node, estimate, ordered)


def _filter(conds: list[Expr], used: list[Expr], resolve) -> Expr | None:
    rest = [resolve(cond) for cond in conds if not any(cond is u for u in used)]
    return make_and(rest)
