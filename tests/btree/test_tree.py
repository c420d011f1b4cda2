"""B+tree behaviour against a dict oracle, with a pool small enough to force evictions."""

from __future__ import annotations

import random
import struct

import pytest

from aurora_lite.btree import BTree, DuplicateKeyError, LatestView, SnapshotView
from aurora_lite.errors import ProgrammingError
from aurora_lite.page import PageType


def key(number: int) -> bytes:
    return struct.pack(">Q", number)


def contents(tree, view):
    out = []
    for keys, values in tree.scan(view):
        out.extend(zip(keys, values))
    return out


def test_insert_get_scan_sequential(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    for number in range(20000):
        tree.insert(ctx, key(number), b"v%d" % number * 12)
    view = LatestView(pool)
    assert tree.check(view) == 20000
    assert tree.get(view, key(4321)) == b"v4321" * 12
    assert tree.get(view, key(20000)) is None
    assert [k for k, _ in contents(tree, view)] == [key(n) for n in range(20000)]
    assert pool.statistics()["evictions"] > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_against_oracle(storage, seed):
    print("seed", seed)
    rng = random.Random(seed)
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    oracle: dict[bytes, bytes] = {}
    for step in range(6000):
        k = key(rng.randrange(3000))
        action = rng.random()
        if action < 0.55:
            value = bytes([rng.randrange(256)]) * rng.randrange(0, 300)
            tree.insert(ctx, k, value, overwrite=True)
            oracle[k] = value
        elif action < 0.9:
            assert tree.delete(ctx, k) == (k in oracle)
            oracle.pop(k, None)
        else:
            assert tree.get(LatestView(pool), k) == oracle.get(k)
    view = LatestView(pool)
    assert tree.check(view) == len(oracle)
    assert contents(tree, view) == sorted(oracle.items())
    reverse = []
    for keys, values in tree.scan_reverse(view):
        reverse.extend(zip(keys, values))
    assert reverse == sorted(oracle.items(), reverse=True)
    # Range scans with every bound combination.
    ordered = sorted(oracle)
    for _ in range(50):
        low, high = sorted(rng.sample(range(3000), 2))
        for low_inc in (True, False):
            for high_inc in (True, False):
                expected = [k for k in ordered
                            if (k > key(low) or (low_inc and k == key(low)))
                            and (k < key(high) or (high_inc and k == key(high)))]
                got = [k for keys, _ in tree.scan(view, key(low), key(high),
                                                  lower_inclusive=low_inc,
                                                  upper_inclusive=high_inc) for k in keys]
                assert got == expected
                got = [k for keys, _ in tree.scan_reverse(view, key(low), key(high),
                                                          lower_inclusive=low_inc,
                                                          upper_inclusive=high_inc)
                       for k in keys]
                assert got == expected[::-1]


def test_delete_everything_shrinks_tree(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    for number in range(4000):
        tree.insert(ctx, key(number), b"x" * 100)
    for number in range(4000):
        assert tree.delete(ctx, key(number))
    view = LatestView(pool)
    assert tree.check(view) == 0
    assert view.image(tree.root).data[7] == PageType.LEAF
    # Freed pages are reused: the high-water mark does not grow on refill.
    from aurora_lite.page import OFF_META_NEXT_PAGE, read_u64
    high_water = read_u64(view.image(0).data, OFF_META_NEXT_PAGE)
    for number in range(2000):
        tree.insert(ctx, key(number), b"x" * 100)
    assert read_u64(view.image(0).data, OFF_META_NEXT_PAGE) == high_water


def test_overflow_values(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    big = random.Random(7).randbytes(1_200_000)
    tree.insert(ctx, key(1), big)
    tree.insert(ctx, key(2), b"small")
    view = LatestView(pool)
    assert tree.get(view, key(1)) == big
    assert contents(tree, view)[0][1] == big
    tree.insert(ctx, key(1), b"now small", overwrite=True)
    assert tree.get(view, key(1)) == b"now small"


def test_duplicate_and_key_limits(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    tree.insert(ctx, b"a", b"1")
    with pytest.raises(DuplicateKeyError):
        tree.insert(ctx, b"a", b"2")
    with pytest.raises(ProgrammingError):
        tree.insert(ctx, b"k" * 5000, b"")
    assert tree.get(LatestView(pool), b"a") == b"1"


def test_large_keys_split(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    rng = random.Random(11)
    oracle = {}
    for number in range(600):
        k = bytes([rng.randrange(256) for _ in range(rng.randrange(1, 2000))])
        tree.insert(ctx, k, b"v" * rng.randrange(0, 1500), overwrite=True)
        oracle[k] = True
    view = LatestView(pool)
    assert tree.check(view) == len(oracle)
    for k in list(oracle)[:300]:
        tree.delete(ctx, k)
    assert tree.check(view) == len(oracle) - 300


def test_storage_rebuilds_the_same_pages(storage):
    """Pages built by storage from redo equal the writer's pages (Invariant 1)."""
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    rng = random.Random(5)
    for number in range(3000):
        tree.insert(ctx, key(rng.randrange(10000)), b"y" * rng.randrange(200), overwrite=True)
    ctx.flush()
    for page_id, frame in list(pool.frames.items()):
        assert volume.get_page(page_id, volume.vdl) == frame.image.data, page_id


def test_snapshot_view_is_stable(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    for number in range(1000):
        tree.insert(ctx, key(number), b"old")
    ctx.flush()
    read_point = volume.vdl
    pool.end_epoch(read_point)
    snapshot = SnapshotView(pool, read_point)
    for number in range(0, 3000, 2):
        tree.insert(ctx, key(number), b"new", overwrite=True)
    for number in range(1, 1000, 4):
        tree.delete(ctx, key(number))
    ctx.flush()
    got = contents(tree, snapshot)
    assert got == [(key(n), b"old") for n in range(1000)]


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_insert_new_against_oracle(storage, seed):
    """Batches of new keys (ascending runs, shuffled, wide and overflow values, keys that fall
    between existing ones) give the same tree as the dict oracle, and storage rebuilds the
    writer's pages from the INSERT_CELLS records."""
    print("seed", seed)
    rng = random.Random(seed)
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    oracle: dict[bytes, bytes] = {}
    for _batch in range(60):
        start = rng.randrange(200_000)
        numbers = {start + step * rng.choice([1, 1, 3]) for step in range(rng.randrange(1, 300))}
        numbers |= {rng.randrange(200_000) for _ in range(rng.randrange(0, 20))}
        numbers -= {int.from_bytes(k, "big") for k in oracle}
        items = []
        for number in numbers:
            size = rng.choice([0, 8, 40, 300, 3000, 20_000])
            items.append((key(number), bytes([number % 251]) * size))
        if rng.random() < 0.5:
            items.sort()
        else:
            rng.shuffle(items)
        with ctx.mtr() as mtr:
            tree.insert_new(ctx, mtr, items)
        oracle.update(items)
    view = LatestView(pool)
    assert tree.check(view) == len(oracle)
    assert contents(tree, view) == sorted(oracle.items())
    ctx.flush()
    for page_id, frame in list(pool.frames.items()):
        assert volume.get_page(page_id, volume.vdl) == frame.image.data, page_id


def test_insert_new_packs_a_run_into_one_record(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    with ctx.mtr() as mtr:
        tree.insert_new(ctx, mtr, [(key(n), b"x" * 20) for n in range(100)])
        records = mtr.records
    assert records == 1             # one INSERT_CELLS into the root leaf
    with ctx.mtr() as mtr:          # a run that overfills the leaf splits it, then continues
        tree.insert_new(ctx, mtr, [(key(n), b"x" * 20) for n in range(100, 1100)])
        assert mtr.records < 40
    assert tree.check(LatestView(pool)) == 1100


def test_insert_new_reports_the_duplicate(storage):
    volume, pool, ctx = storage
    tree = BTree.create(ctx, tree_id=1)
    with ctx.mtr() as mtr:
        tree.insert_new(ctx, mtr, [(key(n), b"v") for n in range(0, 50, 2)])
    for batch in ([(key(1), b"a"), (key(4), b"b")],          # an existing key after a new one
                  [(key(101), b"a"), (key(101), b"b")]):     # the same key twice in a batch
        with pytest.raises(DuplicateKeyError) as caught, ctx.mtr() as mtr:
            tree.insert_new(ctx, mtr, batch)
        assert caught.value.key in (key(4), key(101))
    with pytest.raises(ProgrammingError), ctx.mtr() as mtr:
        tree.insert_new(ctx, mtr, [(b"k" * 5000, b"v")])
    # A failing MTR is abandoned whole: nothing of either batch went in.
    view = LatestView(pool)
    assert tree.check(view) == 25 and tree.get(view, key(1)) is None
