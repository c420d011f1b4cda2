"""Invariant 7: the numba kernel and the reference applier produce byte-identical pages.

Random valid streams (tests/redo/_streams.py) are applied by ``apply_buffer`` (the reference)
and by ``materialize.apply_to_pages`` / ``apply_to_array`` (the kernel), with void ranges,
``upto_lsn`` cut-offs, chunking and replays; every page must match byte for byte, and with no
cut-off both must equal the pages the writer built. Damaged and hostile streams must fail the
same way: the same exception class at the same record, leaving the same bytes behind.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurora_lite.errors import CorruptionError
from aurora_lite.page import PAGE_SIZE
from aurora_lite.redo import (
    PageFullError, RecordType, append_record, apply_buffer, materialize, record_offsets, reseal,
)
from tests.redo._streams import PAGE_IDS, Stream, build, operations, random_ops

pytestmark = pytest.mark.skipif(not materialize.kernel_available(),
                                reason="numba is not importable: there is no kernel to compare")

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# The main property gets more examples: it is the one that holds Invariant 7.
MAIN_SETTINGS = settings(SETTINGS, max_examples=200)
ZERO = bytes(PAGE_SIZE)


def _outcome(function, *args, **kwargs) -> tuple[str, object]:
    try:
        return "ok", function(*args, **kwargs)
    except CorruptionError as error:
        return "error", type(error)


def _copy(pages: dict[int, bytearray]) -> dict[int, bytearray]:
    return {page_id: bytearray(page) for page_id, page in pages.items()}


def assert_same(buffer: bytes | bytearray, *, voids=(), upto_lsn=None,
                initial: dict[int, bytearray] | None = None) -> dict[int, bytearray]:
    """Apply with the reference and with both kernel entry points; demand identical results."""
    initial = initial or {}
    reference = _copy(initial)
    kernel = _copy(initial)
    expected = _outcome(apply_buffer, reference, buffer, voids=voids, upto_lsn=upto_lsn)
    got = _outcome(materialize.apply_to_pages, kernel, buffer, voids=voids, upto_lsn=upto_lsn)
    assert got == expected
    assert kernel.keys() == reference.keys()
    for page_id in reference:
        assert kernel[page_id] == reference[page_id], f"page {page_id} differs"

    # The array path holds exactly the pages the reference ended with (in shuffled order).
    ids = sorted(reference.keys() | initial.keys())
    random.Random(len(ids)).shuffle(ids)
    array = np.zeros((len(ids), PAGE_SIZE), dtype=np.uint8)
    for row, page_id in enumerate(ids):
        if page_id in initial:
            array[row] = np.frombuffer(initial[page_id], dtype=np.uint8)
    got = _outcome(materialize.apply_to_array, array, ids, buffer, voids=voids,
                   upto_lsn=upto_lsn)
    assert got == expected
    for row, page_id in enumerate(ids):
        assert array[row].tobytes() == bytes(reference.get(page_id, ZERO)), \
            f"page {page_id} differs (array path)"
    return reference


def assert_writer_pages(stream: Stream, pages: dict[int, bytearray]) -> None:
    for page_id in stream.pages.keys() | pages.keys():
        assert bytes(pages.get(page_id, ZERO)) == bytes(stream.pages.get(page_id, ZERO)), \
            f"page {page_id} differs from the writer's"


@MAIN_SETTINGS
@given(ops=operations, seed=st.integers(0, 2**32 - 1))
def test_random_streams_match_the_reference_and_the_writer(ops, seed):
    stream = build(ops, seed)
    pages = assert_same(stream.buffer, voids=stream.voids)
    assert_writer_pages(stream, pages)


@SETTINGS
@given(ops=operations, seed=st.integers(0, 2**32 - 1), cut=st.floats(0, 1))
def test_upto_lsn_cut_offs(ops, seed, cut):
    stream = build(ops, seed)
    assert_same(stream.buffer, voids=stream.voids, upto_lsn=int(cut * stream.last_lsn))


@SETTINGS
@given(ops=operations, seed=st.integers(0, 2**32 - 1), split=st.floats(0, 1),
       overlap=st.floats(0, 1))
def test_chunks_and_replays(ops, seed, split, overlap):
    """Applying a prefix, then an overlapping rest, then everything again changes nothing."""
    stream = build(ops, seed)
    offsets = stream.offsets
    cut = offsets[int(split * (len(offsets) - 1))]
    replay_from = offsets[int(overlap * offsets.index(cut))]
    pages = assert_same(stream.buffer[:cut], voids=stream.voids)
    pages = assert_same(stream.buffer[replay_from:], voids=stream.voids, initial=pages)
    assert_writer_pages(stream, pages)
    again = _copy(pages)
    assert materialize.apply_to_pages(again, stream.buffer, voids=stream.voids) == 0
    assert again == pages


def test_page_fill_and_compaction_long_stream():
    """A long seeded stream (the seed is printed; set REDO_SEED to replay it)."""
    seed = int(os.environ.get("REDO_SEED", random.randrange(2**32)))
    print(f"REDO_SEED={seed}")
    rng = random.Random(seed)
    stream = build(random_ops(rng, 400), seed)
    pages = assert_same(stream.buffer, voids=stream.voids)
    assert_writer_pages(stream, pages)
    assert_same(stream.buffer, voids=stream.voids, upto_lsn=rng.randrange(stream.last_lsn))


# -- error parity ----------------------------------------------------------------------------

_stream_and_target = st.tuples(operations, st.integers(0, 2**32 - 1), st.floats(0, 1),
                               st.integers(0, 2**16), st.integers(0, 255))


@SETTINGS
@given(case=_stream_and_target)
def test_damaged_records_fail_alike_and_change_nothing(case):
    """A flipped byte without a new CRC: both refuse the whole buffer before applying."""
    ops, seed, which, position, value = case
    stream = build(ops, seed)
    buffer = bytearray(stream.buffer)
    offset = stream.offsets[int(which * (len(stream.offsets) - 1))]
    length = struct.unpack_from("<I", buffer, offset + 4)[0]
    at = offset + position % length
    buffer[at] = (buffer[at] + 1 + value % 255) % 256
    initial = {1: bytearray(b"\x01" * PAGE_SIZE)}
    for apply in (apply_buffer, materialize.apply_to_pages):
        pages = _copy(initial)
        with pytest.raises(CorruptionError):
            apply(pages, buffer, voids=stream.voids)
        assert pages == initial
    with pytest.raises(CorruptionError):
        apply_buffer({}, buffer[:len(buffer) - 1 - position % 31])
    with pytest.raises(CorruptionError):
        materialize.apply_to_pages({}, buffer[:len(buffer) - 1 - position % 31])


@SETTINGS
@given(case=_stream_and_target)
def test_resealed_garbage_fails_alike(case):
    """A flipped byte with a fresh CRC is a hostile record: same outcome, same bytes."""
    ops, seed, which, position, value = case
    stream = build(ops, seed)
    buffer = bytearray(stream.buffer)
    offset = stream.offsets[int(which * (len(stream.offsets) - 1))]
    length = struct.unpack_from("<I", buffer, offset + 4)[0]
    buffer[offset + 8 + position % (length - 8)] = value   # never the CRC or length fields
    reseal(buffer, offset)
    assert_same(buffer, voids=stream.voids)


_hostile_record = st.tuples(
    st.sampled_from(list(RecordType)), st.sampled_from((0,) + PAGE_IDS),
    st.one_of(
        st.binary(max_size=40),
        st.tuples(st.integers(0, 8), st.integers(0, 8), st.binary(max_size=24)).map(
            lambda t: struct.pack("<HH", t[0], t[1]) + t[2]),
        st.tuples(st.integers(0, PAGE_SIZE + 64), st.binary(min_size=1, max_size=64)).map(
            lambda t: struct.pack("<H", t[0] % 65536) + t[1]),
        # For WRITE_BYTES: (offset, length) pairs scribbled over the slot array.
        st.tuples(st.integers(0, 12), st.lists(st.integers(0, 65535), min_size=1,
                                               max_size=6)).map(
            lambda t: struct.pack(f"<H{len(t[1])}H", 64 + 4 * t[0], *t[1])),
    ),
)


@MAIN_SETTINGS
@given(ops=operations, seed=st.integers(0, 2**32 - 1),
       hostile=st.lists(_hostile_record, min_size=1, max_size=12))
def test_hostile_records_on_real_pages_fail_alike(ops, seed, hostile):
    """Records no writer would produce (any type, payload, scribbles over slot arrays)."""
    stream = build(ops, seed)
    buffer = bytearray(stream.buffer)
    lsn = stream.last_lsn
    for rtype, page_id, payload in hostile:
        lsn += 1
        append_record(buffer, lsn, lsn - 1, page_id, rtype, 0, payload)
    assert_same(buffer, voids=stream.voids)


_bookkeeping = st.fixed_dictionaries({
    "count": st.one_of(st.none(), st.integers(0, 65535)),     # None: as many as the slots
    "cell_start": st.one_of(st.integers(PAGE_SIZE - 300, PAGE_SIZE + 100),
                            st.integers(0, 65535)),
    "frag": st.one_of(st.integers(0, 300), st.integers(65000, 65535), st.integers(0, 65535)),
    "slots": st.lists(st.tuples(st.one_of(st.integers(PAGE_SIZE - 600, PAGE_SIZE),
                                          st.integers(0, 65535)),
                                st.one_of(st.integers(0, 400), st.integers(0, 65535))),
                      max_size=8),
})


def _cell_record(t: tuple[int, int, int, int, int]) -> tuple[int, int, bytes]:
    rtype, page_id, slot, number, size = t
    if rtype in (RecordType.INSERT_CELL, RecordType.REPLACE_CELL):
        return rtype, page_id, struct.pack("<H", slot) + bytes(size)
    if rtype == RecordType.DELETE_CELLS:
        return rtype, page_id, struct.pack("<HH", slot, number)
    cells = b"".join(struct.pack("<H", size // 8) + bytes(size // 8) for _ in range(number))
    return rtype, page_id, struct.pack("<HH", slot, number) + cells


_cell_records = st.tuples(
    st.sampled_from([RecordType.INSERT_CELL, RecordType.DELETE_CELLS, RecordType.REPLACE_CELL,
                     RecordType.INSERT_CELLS]),
    st.sampled_from(PAGE_IDS[:2]), st.integers(0, 9), st.integers(0, 4),
    st.integers(0, 4000)).map(_cell_record)


@MAIN_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), books=st.lists(_bookkeeping, min_size=2, max_size=2),
       hostile=st.lists(_cell_records, min_size=1, max_size=12))
def test_impossible_pages_fail_alike(seed, books, hostile):
    """Pages whose bookkeeping cannot be true (as if read from a buggy disk) and any records."""
    rng = random.Random(seed)
    initial = {}
    for page_id, book in zip(PAGE_IDS, books):
        page = bytearray(rng.randbytes(PAGE_SIZE))
        count = len(book["slots"]) if book["count"] is None else book["count"]
        struct.pack_into("<QIHHH", page, 8, 0, page_id, count, book["cell_start"], book["frag"])
        for index, (offset, length) in enumerate(book["slots"]):
            struct.pack_into("<HH", page, 64 + 4 * index, offset, length)
        initial[page_id] = page
    buffer = bytearray()
    for lsn, (rtype, page_id, payload) in enumerate(hostile, 1):
        append_record(buffer, lsn, lsn - 1, page_id, rtype, 0, payload)
    assert_same(buffer, initial=initial)


def _records(*records: tuple[int, int, bytes], first_lsn: int = 1) -> bytearray:
    buffer = bytearray()
    for lsn, (page_id, rtype, payload) in enumerate(records, first_lsn):
        append_record(buffer, lsn, lsn - 1, page_id, rtype, 0, payload)
    return buffer


INIT_LEAF = struct.pack("<BBBxIII", 2, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF)
INIT_META = struct.pack("<BBBxIII", 1, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF)


@pytest.mark.parametrize("records, error", [
    pytest.param([(5, 1, INIT_LEAF), (5, 2, b"\0\0" + bytes(9000)), (5, 2, b"\0\0" + bytes(9000))],
                 PageFullError, id="page-full"),
    pytest.param([(5, 2, b"\0\0abc")], PageFullError, id="insert-into-uninitialised-page"),
    pytest.param([(5, 1, INIT_LEAF), (5, 2, b"\x01\0abc")], CorruptionError, id="insert-slot"),
    pytest.param([(5, 1, INIT_LEAF), (5, 3, struct.pack("<HH", 0, 1))], CorruptionError,
                 id="delete-slot"),
    pytest.param([(5, 1, INIT_LEAF), (5, 4, b"\0\0x")], CorruptionError, id="replace-slot"),
    pytest.param([(5, 1, INIT_LEAF), (5, 7, bytes(16))], CorruptionError, id="commit-not-meta"),
    pytest.param([(0, 1, INIT_META), (0, 7, bytes(15))], CorruptionError, id="short-commit"),
    pytest.param([(5, 1, INIT_LEAF), (5, 6, struct.pack("<H", 25) + b"x")], CorruptionError,
                 id="write-into-bookkeeping"),
    pytest.param([(5, 1, INIT_LEAF), (5, 6, struct.pack("<H", PAGE_SIZE - 1) + b"xy")],
                 CorruptionError, id="write-past-the-end"),
    pytest.param([(5, 1, INIT_LEAF), (5, 5, struct.pack("<HHH", 0, 2, 1) + b"a")],
                 CorruptionError, id="insert-cells-truncated"),
    pytest.param([(5, 1, INIT_LEAF[:15])], CorruptionError, id="short-init"),
    pytest.param([(5, 1, INIT_LEAF), (5, 2, b"\0\0" + bytes(10)),
                  (5, 6, struct.pack("<HHH", 64, PAGE_SIZE - 4, 9)), (5, 4, b"\0\0x")],
                 CorruptionError, id="slot-scribbled-outside-the-page"),
    pytest.param([(5, 1, INIT_LEAF), (5, 2, b"\0\0" + bytes(8000)),
                  (5, 2, b"\1\0" + bytes(8000)), (5, 3, struct.pack("<HH", 0, 1)),
                  (5, 6, struct.pack("<HHH", 64, 100, 9000)), (5, 2, b"\0\0" + bytes(8100))],
                 CorruptionError, id="compaction-of-a-scribbled-page"),
])
def test_bad_records_raise_the_reference_exception(records, error):
    buffer = _records(*[(page_id, rtype, payload) for page_id, rtype, payload in records])
    reference: dict[int, bytearray] = {}
    with pytest.raises(error) as expected:
        apply_buffer(reference, buffer)
    assert type(expected.value) is error
    kernel: dict[int, bytearray] = {}
    with pytest.raises(error) as got:
        materialize.apply_to_pages(kernel, buffer, where="segment-3/hot.log", base=4096)
    assert type(got.value) is error
    bad = record_offsets(buffer)[len(records) - 1]
    assert f"segment-3/hot.log at offset {4096 + bad}:" in str(got.value)
    assert kernel == reference


@pytest.mark.parametrize("version, rtype", [(2, 2), (0, 2), (1, 0), (1, 9), (255, 255)])
def test_unknown_version_or_type_is_refused_alike(version, rtype):
    buffer = _records((5, 1, INIT_LEAF), (5, 2, b"\0\0abc"))
    buffer[48 + 28] = rtype
    buffer[48 + 30] = version
    reseal(buffer, 48)
    message = f"log at offset 1048: unknown record version {version} or type {rtype}"
    with pytest.raises(CorruptionError, match=message):
        record_offsets(buffer, "log", 1000)
    with pytest.raises(CorruptionError, match=message):
        materialize.apply_to_pages({}, buffer, where="log", base=1000)


def _impossible_page(count: int, cell_start: int, frag: int,
                     slots: list[tuple[int, int]]) -> bytearray:
    page = bytearray(PAGE_SIZE)
    page[4:8] = b"AP\x01\x02"
    struct.pack_into("<QIHHH", page, 8, 1, 5, count, cell_start, frag)
    for index, (offset, length) in enumerate(slots):
        struct.pack_into("<HH", page, 64 + 4 * index, offset, length)
    return page


@pytest.mark.parametrize("page, rtype, payload, message", [
    pytest.param(_impossible_page(1, 16000, 65500, [(16000, 100)]), 4, b"\0\0" + bytes(10),
                 "frag_bytes overflow", id="replace-frag-overflow"),
    pytest.param(_impossible_page(2, 16000, 65500, [(16000, 100), (16100, 50)]), 3,
                 struct.pack("<HH", 0, 1), "frag_bytes overflow", id="delete-frag-overflow"),
    pytest.param(_impossible_page(1, 16000, 65500, [(16000, 100)]), 3,
                 struct.pack("<HH", 0, 1), None, id="delete-last-cell-resets-frag"),
    pytest.param(_impossible_page(5000, 16000, 0, []), 3, struct.pack("<HH", 0, 0),
                 "slot array of 5000 slots exceeds the page", id="slot-array-past-the-page"),
    pytest.param(_impossible_page(1, 16000, 0, [(16380, 10)]), 4, b"\0\0x",
                 "cell of slot 0 at offset 16380 length 10 lies outside", id="cell-outside"),
    pytest.param(_impossible_page(1, 70, 16000, [(100, 16250)]), 2, b"\0\0" + bytes(100),
                 "do not fit after compaction", id="compaction-overflow"),
    pytest.param(_impossible_page(1, 70, 16000, [(16300, 200)]), 2, b"\0\0" + bytes(100),
                 "lies outside the page", id="compaction-cell-outside"),
    pytest.param(_impossible_page(0, 20000, 0, []), 2, b"\0\0" + bytes(100),
                 "cell_start 20000 is beyond the page", id="cell-start-past-the-page"),
    pytest.param(_impossible_page(0, 0, 0, []), 3, struct.pack("<HH", 0, 0), None,
                 id="delete-nothing-from-an-empty-page"),
])
def test_impossible_pages_are_refused_alike(page, rtype, payload, message):
    buffer = _records((5, rtype, payload), first_lsn=2)
    assert_same(buffer, initial={5: page})
    if message is not None:
        with pytest.raises(CorruptionError, match=message):
            materialize.apply_to_pages({5: bytearray(page)}, buffer)


def test_disable_jit_runs_the_kernel_body_as_python():
    """With NUMBA_DISABLE_JIT=1 the kernels are plain Python and must still agree."""
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    script = f"""
import random
from aurora_lite.redo import apply_buffer, materialize, _kernels
from tests.redo._streams import build, random_ops
assert not hasattr(_kernels.apply_records, "py_func"), "numba is still compiling"
rng = random.Random({seed})
for _ in range(3):
    stream = build(random_ops(rng, 40), rng.randrange(2**32))
    reference, kernel = {{}}, {{}}
    upto = rng.choice([None, rng.randrange(stream.last_lsn + 1)])
    n = apply_buffer(reference, stream.buffer, voids=stream.voids, upto_lsn=upto)
    assert materialize.apply_to_pages(kernel, stream.buffer, voids=stream.voids,
                                      upto_lsn=upto) == n
    assert kernel == reference
print("agree")
"""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert result.returncode == 0, result.stderr
    assert "agree" in result.stdout
