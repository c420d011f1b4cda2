"""Benchmark: page materialization with the numba kernel against the pure-Python reference.

Generates one B-tree-like redo stream with MiniTransaction (pages initialised as leaves fill
up and split, cells inserted in mostly ascending slots, some deletes and replaces, a COMMIT on
the meta page per transaction), then applies the same stream from empty pages with

* the reference applier (``aurora_lite.redo.apply_buffer``, pure Python, checks CRCs),
* the kernel through ``apply_to_pages`` (a dict of bytearrays, copied in and out), and
* the kernel through ``apply_to_array`` (storage's batch path: rows of one array),

all in the same run, after a warm-up so JIT compilation is excluded. Every result is checked
against the pages the writer built. Reports the median of the repeats, records/s, MB/s and
the ratio to the reference. Run: ``.venv/bin/python bench/materializer.py [--quick]``.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

from aurora_lite.page import (  # noqa: E402
    OFF_LINK0, OFF_META_NEXT_PAGE, PAGE_SIZE, PageType, slot_count, usable_space,
)
from aurora_lite.redo import MiniTransaction, apply_buffer  # noqa: E402
from aurora_lite.redo import materialize  # noqa: E402

TREES = 4


class _Writer:
    """A toy B-tree writer: enough structure for a realistic mix of records."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.allocator = _harness.SequentialAllocator()
        self.pages: dict[int, bytearray] = {}
        self.stream = bytearray()
        self.records = 0
        self.next_page = 1
        self.txn = 0
        mtr = self._mtr()
        self.meta = self._new_page(mtr, PageType.META, page_id=0)
        self.leaves: list[list[int]] = []
        self.parents: list[int] = []
        for tree in range(1, TREES + 1):
            self.parents.append(self._new_page(mtr, PageType.INTERNAL, tree=tree, level=1))
            self.leaves.append([self._new_page(mtr, PageType.LEAF, tree=tree)])
        self._finish(mtr, txn_end=True)

    def _mtr(self) -> MiniTransaction:
        return MiniTransaction(self.allocator)

    def _finish(self, mtr: MiniTransaction, txn_end: bool = False) -> None:
        self.stream += mtr.finish(txn_end=txn_end)
        self.records += mtr.records

    def _new_page(self, mtr: MiniTransaction, page_type: int, *, tree: int = 0,
                  level: int = 0, page_id: int | None = None) -> int:
        if page_id is None:
            page_id = self.next_page
            self.next_page += 1
            mtr.write_u64(self.pages[0], 0, OFF_META_NEXT_PAGE, self.next_page)
        page = self.pages[page_id] = bytearray(PAGE_SIZE)
        mtr.init_page(page, page_id, page_type, level=level, tree_id=tree)
        return page_id

    def _cell(self) -> bytes:
        size = min(200, max(12, int(self.rng.gauss(64, 24))))
        return self.rng.randbytes(size)

    def _split(self, tree: int, index: int) -> int:
        """Move the upper half of a full leaf to a new one: one MTR, like a real split."""
        leaves = self.leaves[tree]
        old_id = leaves[index]
        old = self.pages[old_id]
        mtr = self._mtr()
        new_id = self._new_page(mtr, PageType.LEAF, tree=tree + 1)
        count = slot_count(old)
        keep = count // 2 if index < len(leaves) - 1 else count - 1   # ascending: keep most
        moved = [bytes(old[o:o + n]) for o, n in _slots(old)[keep:]]
        if moved:
            mtr.insert_cells(self.pages[new_id], new_id, 0, moved)
            mtr.delete_cells(old, old_id, keep, len(moved))
        mtr.write_u32(old, old_id, OFF_LINK0, new_id)
        parent_id = self.parents[tree]
        parent = self.pages[parent_id]
        separator = new_id.to_bytes(4, "little") + self.rng.randbytes(12)
        if usable_space(parent) < len(separator) + 4:
            parent_id = self.parents[tree] = self._new_page(mtr, PageType.INTERNAL,
                                                            tree=tree + 1, level=1)
            parent = self.pages[parent_id]
        mtr.insert_cell(parent, parent_id, slot_count(parent), separator)
        self._finish(mtr)
        leaves.insert(index + 1, new_id)
        return index + 1

    def _row_change(self) -> None:
        rng = self.rng
        tree = rng.randrange(TREES)
        leaves = self.leaves[tree]
        roll = rng.random()
        if roll < 0.86:
            ascending = rng.random() < 0.85
            index = len(leaves) - 1 if ascending else rng.randrange(len(leaves))
            cell = self._cell()
            if usable_space(self.pages[leaves[index]]) < len(cell) + 4:
                index = self._split(tree, index)
            page_id = leaves[index]
            page = self.pages[page_id]
            count = slot_count(page)
            slot = count if ascending else rng.randint(0, count)
            mtr = self._mtr()
            mtr.insert_cell(page, page_id, slot, cell)
            self._finish(mtr)
            return
        page_id = leaves[rng.randrange(len(leaves))]
        page = self.pages[page_id]
        count = slot_count(page)
        if count == 0:
            return
        slot = rng.randrange(count)
        mtr = self._mtr()
        if roll < 0.93:
            mtr.delete_cells(page, page_id, slot, min(count - slot, rng.randint(1, 3)))
        else:
            old = _slots(page)[slot][1]
            size = rng.choice((old, max(1, old - rng.randint(1, 16)), old + rng.randint(1, 32)))
            if size > old and usable_space(page) < size + 4:
                size = old
            mtr.replace_cell(page, page_id, slot, rng.randbytes(size))
        self._finish(mtr)

    def transaction(self) -> None:
        for _ in range(self.rng.randint(10, 60)):
            self._row_change()
        self.txn += 1
        mtr = self._mtr()
        mtr.commit_record(self.pages[0], self.txn, 1_700_000_000_000_000 + self.txn)
        self._finish(mtr, txn_end=True)


def _slots(page: bytearray) -> list[tuple[int, int]]:
    count = slot_count(page)
    return [(int.from_bytes(page[64 + 4 * i:66 + 4 * i], "little"),
             int.from_bytes(page[66 + 4 * i:68 + 4 * i], "little")) for i in range(count)]


def generate(records: int, seed: int) -> _Writer:
    writer = _Writer(seed)
    while writer.records < records:
        writer.transaction()
    return writer


def main() -> None:
    args = _harness.parser(__doc__.splitlines()[0]).parse_args()
    records = 100_000 if args.quick else 1_000_000
    repeats = _harness.repeats_of(args)
    seed = 20240917
    print(f"generating ~{records:,} records (seed {seed}) ...", flush=True)
    start = time.perf_counter()
    writer = generate(records, seed)
    stream = bytes(writer.stream)
    expected = writer.pages
    print(f"  {writer.records:,} records, {len(stream) / 1e6:.1f} MB, {len(expected):,} pages, "
          f"{time.perf_counter() - start:.1f} s", flush=True)

    import numpy as np
    start = time.perf_counter()
    materialize.warm_up()
    print(f"kernel warm-up (numba import + compile or cache load): "
          f"{time.perf_counter() - start:.2f} s; kernel available: "
          f"{materialize.kernel_available()}", flush=True)

    ids = np.array(sorted(expected), dtype=np.int64)
    buf = np.frombuffer(stream, dtype=np.uint8)
    empty = np.zeros(0, dtype=np.int64)
    results: dict[str, object] = {}

    def run_reference(pages: dict[int, bytearray]) -> None:
        results["reference"] = (apply_buffer(pages, stream), pages)

    def run_pages(pages: dict[int, bytearray]) -> None:
        results["pages"] = (materialize.apply_to_pages(pages, stream), pages)

    def fresh_array() -> np.ndarray:
        # The caller's array already holds page images (copied from a page store), so its
        # memory is resident: fill it here, untimed, rather than fault it in inside the run.
        array = np.empty((ids.shape[0], PAGE_SIZE), np.uint8)
        array.fill(0)
        return array

    def run_array(array: np.ndarray) -> None:
        results["array"] = (materialize.apply_to_array(array, ids, stream), array)

    def run_check() -> None:
        from aurora_lite.redo import _kernels
        _kernels.scan_records(buf, (1 << 63) - 1, empty, empty)

    contenders = [
        ("reference (pure Python)", run_reference, dict, 1),
        ("kernel apply_to_pages", run_pages, dict, 3),
        ("kernel apply_to_array", run_array, fresh_array, 3),
    ]
    if materialize.kernel_available():
        contenders.append(("kernel check only (CRC32C)", run_check, None, 3))
    times = _harness.interleaved_times(contenders, repeats)

    # Every contender must have built the writer's pages.
    for key in ("reference", "pages"):
        applied, pages = results[key]
        if applied != writer.records or pages.keys() != expected.keys() or any(
                pages[k] != expected[k] for k in expected):
            raise SystemExit(f"{key}: materialized pages differ from the writer's pages")
    applied, array = results["array"]
    if applied != writer.records or any(array[row].tobytes() != bytes(expected[page_id])
                                        for row, page_id in enumerate(ids.tolist())):
        raise SystemExit("array: materialized pages differ from the writer's pages")

    rows = [_harness.Row(name, statistics.median(times[name][0]), writer.records, len(stream),
                         times[name][0], cpu_seconds=statistics.median(times[name][1]),
                         cpu_times=times[name][1])
            for name, _run, _setup, _n in contenders]
    _harness.print_table(f"Materializer: {writer.records:,} records, "
                         f"{len(stream) / 1e6:.1f} MB, {len(expected):,} pages; medians of "
                         f"{repeats} rounds taken in turns (kernels 3 runs a round)", rows,
                         baseline="reference (pure Python)")
    if args.json:
        _harness.write_json(args.json, "materializer", rows, "reference (pure Python)",
                            {"records": writer.records, "bytes": len(stream),
                             "pages": len(expected), "repeats": repeats, "seed": seed,
                             "quick": args.quick})


if __name__ == "__main__":
    main()
