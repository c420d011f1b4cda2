"""Structure changes of the B-tree are single mini-transactions (issue 2, part 3; DESIGN §3 CPL).

A leaf split touches three pages (the old leaf, the new right leaf, the parent) plus the meta
page for the allocation; a root split grows the tree by a level; a merge frees a page and
shrinks the parent. Each must be ONE mini-transaction: its records reach the volume together
(in one submitted buffer, consecutive LSNs) and only the last carries the CPL flag, so no
reader or recovery can stop inside it. A B-tree that made the parent update its own MTR, or
flagged a CPL in the middle, fails here.

The volume is the in-memory test double with a recorder of every ``submit`` call; trees are
read back through it (pages built from redo, as storage builds them) at the CPLs on either side
of the change.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

import pytest

from aurora_lite.btree import BTree, LatestView, WriteContext
from aurora_lite.buffer import BufferPool
from aurora_lite.page import (
    META_PAGE_ID, OFF_META_NEXT_PAGE, PageType, cell, level, link0, page_type, read_u64,
    slot_count,
)
from aurora_lite.redo import FLAG_CPL, FLAG_TXN_END, RECORD_HEADER, RecordType, record_offsets

from tests.btree._memory_volume import MemoryVolume
from tests.btree.conftest import bootstrap


@dataclass(frozen=True)
class Record:
    lsn: int
    page_id: int
    rtype: int
    flags: int
    payload: bytes
    submit: int             # index of the submit() call that carried it


class RecordingVolume(MemoryVolume):
    """MemoryVolume that keeps every submitted buffer, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.buffers: list[bytes] = []

    def submit(self, buffer, last_lsn, *, txn_end) -> None:
        self.buffers.append(bytes(buffer))
        super().submit(buffer, last_lsn, txn_end=txn_end)

    def all_records(self) -> list[Record]:
        out = []
        for index, buffer in enumerate(self.buffers):
            for offset in record_offsets(buffer):
                _crc, length, lsn, _prev, page_id, rtype, flags, _v = RECORD_HEADER.unpack_from(
                    buffer, offset)
                out.append(Record(lsn, page_id, rtype, flags,
                                  buffer[offset + RECORD_HEADER.size:offset + length], index))
        return out


class StorageView:
    """A tree as storage builds it from the redo it received, at a read point."""

    class _Image:
        __slots__ = ("data",)

        def __init__(self, data) -> None:
            self.data = data

    def __init__(self, volume: MemoryVolume, read_point: int) -> None:
        self.volume = volume
        self.read_point = read_point

    def image(self, page_id: int):
        return self._Image(self.volume.get_page(page_id, self.read_point))


@pytest.fixture
def env():
    volume = RecordingVolume()
    pool = BufferPool(volume, capacity=256)
    ctx = WriteContext(pool, volume, batch_bytes=4096)
    bootstrap(pool, ctx)
    ctx.flush()
    return volume, pool, ctx


def key(number: int, width: int = 8) -> bytes:
    return struct.pack(">Q", number).rjust(width, b"k")


def mtrs_of(volume: RecordingVolume, ctx: WriteContext, operation) -> list[list[Record]]:
    """Run ``operation`` and return the MTRs it shipped (each a list of records, CPL last)."""
    ctx.flush()
    before = volume.next_lsn()
    mtrs_before = ctx.mtrs
    operation()
    ctx.flush()
    records = [r for r in volume.all_records() if r.lsn >= before]
    groups: list[list[Record]] = []
    current: list[Record] = []
    for record in records:
        current.append(record)
        if record.flags & FLAG_CPL:
            groups.append(current)
            current = []
    assert current == [], "records after the last CPL: an MTR was shipped without its end"
    assert len(groups) == ctx.mtrs - mtrs_before, "CPL flags do not match the MTRs finished"
    return groups


def assert_one_mtr(groups: list[list[Record]]) -> list[Record]:
    """The operation was exactly one MTR, shipped in one submit, CPL on the last record only."""
    assert len(groups) == 1, f"{len(groups)} mini-transactions: {[_pages(g) for g in groups]}"
    records = groups[0]
    assert [bool(r.flags & FLAG_CPL) for r in records] == [False] * (len(records) - 1) + [True]
    assert not any(r.flags & FLAG_TXN_END for r in records)
    lsns = [r.lsn for r in records]
    assert lsns == list(range(lsns[0], lsns[0] + len(lsns))), "the MTR's LSNs are not consecutive"
    assert len({r.submit for r in records}) == 1, "the MTR was split across submit() calls"
    return records


def _pages(records: list[Record]) -> set[int]:
    return {r.page_id for r in records}


def _separators(data) -> list[bytes]:
    return [cell(data, slot)[4:] for slot in range(slot_count(data))]


def _children(data) -> list[int]:
    return [link0(data)] + [struct.unpack_from("<I", cell(data, slot))[0]
                            for slot in range(slot_count(data))]


def _leaf_of(view, tree: BTree, wanted: bytes) -> int:
    page_id = tree.root
    data = view.image(page_id).data
    while page_type(data) == PageType.INTERNAL:
        separators = _separators(data)
        children = _children(data)
        index = sum(1 for separator in separators if separator <= wanted)
        page_id = children[index]
        data = view.image(page_id).data
    return page_id


def _high_water(pool: BufferPool) -> int:
    return read_u64(LatestView(pool).image(META_PAGE_ID).data, OFF_META_NEXT_PAGE)


def _assert_storage_sees_whole_mtrs(volume, tree, records, keys_before, keys_after):
    """Built from redo at the CPL before the MTR and at its CPL, the tree is whole each time."""
    before = records[0].lsn - 1     # the previous MTR's CPL
    assert tree.check(StorageView(volume, before)) == keys_before
    assert tree.check(StorageView(volume, records[-1].lsn)) == keys_after


def test_every_submitted_buffer_ends_on_a_cpl(env):
    """A batch carries whole MTRs only: whatever storage holds ends at a consistency point."""
    volume, pool, ctx = env
    tree = BTree.create(ctx, tree_id=1)
    rng = random.Random(3)
    for number in range(3000):
        tree.insert(ctx, key(rng.randrange(5000)), b"v" * rng.randrange(400), overwrite=True)
        if number % 3 == 0:
            tree.delete(ctx, key(rng.randrange(5000)))
    ctx.flush()
    assert len(volume.buffers) > 20
    for index, buffer in enumerate(volume.buffers):
        offsets = list(record_offsets(buffer))
        flags = RECORD_HEADER.unpack_from(buffer, offsets[-1])[6]
        assert flags & FLAG_CPL, f"submit #{index} ends inside a mini-transaction"


def test_leaf_split_under_a_parent_is_one_mtr(env):
    volume, pool, ctx = env
    tree = BTree.create(ctx, tree_id=1)
    value = b"x" * 300
    for number in range(0, 200_000, 1000):          # 200 keys: a root over several leaves
        tree.insert(ctx, key(number), value)
    view = LatestView(pool)
    assert page_type(view.image(tree.root).data) == PageType.INTERNAL
    root_level = level(view.image(tree.root).data)
    assert root_level == 1
    leaf = _leaf_of(view, tree, key(100_000))
    assert leaf != tree.root
    separators_before = len(_separators(view.image(tree.root).data))

    # Insert keys right after 100000, all into that leaf, until it splits.
    count = 200
    for number in range(100_001, 101_000):
        new_id = _high_water(pool)
        groups = mtrs_of(volume, ctx, lambda: tree.insert(ctx, key(number), value))
        count += 1
        records = assert_one_mtr(groups)
        if len(_pages(records)) > 1:
            break
        assert _pages(records) == {leaf}
    else:
        pytest.fail("the leaf never split")

    # The split: old leaf, new right leaf, parent (the root), and the meta page's allocation.
    assert _pages(records) == {leaf, new_id, tree.root, META_PAGE_ID}
    by_page = {page: [r.rtype for r in records if r.page_id == page] for page in _pages(records)}
    assert by_page[new_id][0] == RecordType.INIT_PAGE
    assert RecordType.INSERT_CELL in by_page[tree.root]       # the new separator
    assert records[-1].flags == FLAG_CPL
    root = view.image(tree.root).data
    assert level(root) == root_level                          # not a root split
    assert len(_separators(root)) == separators_before + 1
    assert new_id in _children(root)
    assert link0(view.image(leaf).data) == new_id
    assert tree.check(view) == count
    _assert_storage_sees_whole_mtrs(volume, tree, records, count - 1, count)


def test_root_split_grows_the_tree_in_one_mtr(env):
    volume, pool, ctx = env
    tree = BTree.create(ctx, tree_id=1)
    view = LatestView(pool)
    for number in range(1000):
        new_id = _high_water(pool)
        groups = mtrs_of(volume, ctx, lambda: tree.insert(ctx, key(number), b"r" * 200))
        records = assert_one_mtr(groups)
        if page_type(view.image(tree.root).data) == PageType.INTERNAL:
            break
    else:
        pytest.fail("the root never split")
    # The root keeps its page id and becomes an internal page over two new leaves.
    assert _pages(records) == {tree.root, new_id, new_id + 1, META_PAGE_ID}
    root = view.image(tree.root).data
    assert level(root) == 1
    assert sorted(_children(root)) == [new_id, new_id + 1]
    root_records = [r for r in records if r.page_id == tree.root]
    assert root_records[0].rtype == RecordType.INIT_PAGE
    assert root_records[0].payload[0] == PageType.INTERNAL
    assert tree.check(view) == number + 1
    _assert_storage_sees_whole_mtrs(volume, tree, records, number, number + 1)


def test_split_cascading_into_a_root_split_is_one_mtr(env):
    """Leaf split -> full parent (the root) splits -> the tree grows from 2 to 3 levels: the
    leaf, the new leaf, the root and two new internal pages, all in one MTR."""
    volume, pool, ctx = env
    tree = BTree.create(ctx, tree_id=1)
    view = LatestView(pool)
    width = 1500                                     # ~10 separators per internal page
    for number in range(2000):
        new_id = _high_water(pool)
        levels_before = level(view.image(tree.root).data)
        groups = mtrs_of(volume, ctx,
                         lambda: tree.insert(ctx, key(number, width), b"c" * 20))
        records = assert_one_mtr(groups)
        if levels_before == 1 and level(view.image(tree.root).data) == 2:
            break
    else:
        pytest.fail("the tree never reached three levels")
    pages = _pages(records)
    allocated = {page for page in pages if page >= new_id}
    assert tree.root in pages and META_PAGE_ID in pages
    assert len(allocated) == 3                       # the new leaf and two new internal pages
    assert len(pages) == 3 + 3                       # + the old leaf, the root, the meta page
    assert tree.check(view) == number + 1
    _assert_storage_sees_whole_mtrs(volume, tree, records, number, number + 1)


def test_merge_and_root_collapse_are_one_mtr_each(env):
    volume, pool, ctx = env
    tree = BTree.create(ctx, tree_id=1)
    view = LatestView(pool)
    numbers = list(range(300))
    for number in numbers:
        tree.insert(ctx, key(number), b"m" * 300)
    assert level(view.image(tree.root).data) == 1
    remaining = len(numbers)
    merges = collapses = 0
    rng = random.Random(8)
    rng.shuffle(numbers)
    for number in numbers:
        separators = len(_separators(view.image(tree.root).data))
        root_level = level(view.image(tree.root).data)
        groups = mtrs_of(volume, ctx, lambda: tree.delete(ctx, key(number)))
        records = assert_one_mtr(groups)
        remaining -= 1
        freed = [r for r in records if r.rtype == RecordType.INIT_PAGE
                 and r.payload[0] == PageType.FREE]
        if not freed:
            assert len(_pages(records)) == 1         # a plain delete touches its leaf only
            continue
        # A merge: the emptied sibling goes to the free list (meta page) and the parent loses
        # its separator, in the same MTR as the delete that caused it.
        assert META_PAGE_ID in _pages(records) and tree.root in _pages(records)
        assert records[-1].flags == FLAG_CPL
        if level(view.image(tree.root).data) < root_level:
            collapses += 1                            # the root took over its last child
            assert page_type(view.image(tree.root).data) == PageType.LEAF
        else:
            merges += 1
            assert len(_separators(view.image(tree.root).data)) == separators - 1
        assert tree.check(view) == remaining
        _assert_storage_sees_whole_mtrs(volume, tree, records, remaining + 1, remaining)
    assert merges >= 3 and collapses == 1
    assert tree.check(view) == 0
