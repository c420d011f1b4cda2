"""The materializer's API: the array path, argument checks, LSN edges, the no-numba fallback."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from aurora_lite.errors import CorruptionError
from aurora_lite.page import PAGE_SIZE, page_lsn
from aurora_lite.redo import (
    PageFullError, RecordType, append_record, apply_buffer, apply_to_array, apply_to_pages,
    kernel_available, materialize, warm_up,
)

INIT_LEAF = struct.pack("<BBBxIII", 2, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF)


def _buffer(*records: tuple[int, int, int, bytes]) -> bytearray:
    buffer = bytearray()
    for lsn, page_id, rtype, payload in records:
        append_record(buffer, lsn, 0, page_id, rtype, 0, payload)
    return buffer


def _cell(lsn: int, page_id: int, text: bytes, slot: int = 0) -> tuple[int, int, int, bytes]:
    return lsn, page_id, RecordType.INSERT_CELL, struct.pack("<H", slot) + text


STREAM = _buffer(
    (1, 4, RecordType.INIT_PAGE, INIT_LEAF), (2, 9, RecordType.INIT_PAGE, INIT_LEAF),
    _cell(3, 4, b"four"), _cell(4, 9, b"nine"), _cell(5, 4, b"more", 1),
)


@pytest.fixture(params=["kernel", "fallback"])
def engine(request, monkeypatch):
    """Run a test with the numba kernel and again with the reference fallback (no numba)."""
    if request.param == "kernel":
        if not kernel_available():
            pytest.skip("numba is not importable")
        assert warm_up()
    else:
        monkeypatch.setattr(materialize, "_kernel_state", False)
        assert not kernel_available()
    return request.param


def test_array_path_applies_only_the_pages_it_holds(engine):
    reference: dict[int, bytearray] = {}
    apply_buffer(reference, STREAM)
    array = np.zeros((2, PAGE_SIZE), dtype=np.uint8)
    assert apply_to_array(array, [9, 7], STREAM) == 2       # page 4's records are not ours
    assert array[0].tobytes() == bytes(reference[9])
    assert not array[1].any()
    assert apply_to_array(array, [9, 7], STREAM) == 0       # replay: nothing new


def test_pages_path_creates_missing_pages_and_keeps_given_ones(engine):
    pages = {4: bytearray(PAGE_SIZE), 5: bytearray(b"\x07" * PAGE_SIZE)}
    assert apply_to_pages(pages, STREAM) == 5
    reference: dict[int, bytearray] = {4: bytearray(PAGE_SIZE)}
    apply_buffer(reference, STREAM)
    assert pages[4] == reference[4] and pages[9] == reference[9]
    assert pages[5] == b"\x07" * PAGE_SIZE
    assert apply_to_pages(pages, np.frombuffer(bytes(STREAM), dtype=np.uint8)) == 0


def test_upto_lsn_and_voids(engine):
    pages: dict[int, bytearray] = {}
    assert apply_to_pages(pages, STREAM, upto_lsn=-1) == 0 and pages == {}
    assert apply_to_pages(pages, STREAM, voids=[(2, 5)], upto_lsn=4) == 2
    assert sorted(pages) == [4, 9] and page_lsn(pages[4]) == 1 and page_lsn(pages[9]) == 2


def test_errors_name_where_and_the_absolute_offset(engine):
    full = _buffer((1, 4, RecordType.INIT_PAGE, INIT_LEAF),
                   _cell(2, 4, bytes(9000)), _cell(3, 4, bytes(9000)))
    pages: dict[int, bytearray] = {}
    with pytest.raises(PageFullError, match=r"seg-2\.log at offset 9100: redo record lsn 3"):
        apply_to_pages(pages, full, where="seg-2.log", base=9100 - 48 - 9034)
    assert page_lsn(pages[4]) == 2          # the records before the bad one were applied
    with pytest.raises(CorruptionError, match="x.log at offset 5: truncated record header"):
        apply_to_array(np.zeros((1, PAGE_SIZE), np.uint8), [4], STREAM[:48 + 10],
                       where="x.log", base=-43)


def test_argument_checks(engine):
    with pytest.raises(ValueError, match="C-contiguous uint8"):
        apply_to_array(np.zeros((1, PAGE_SIZE), np.int16), [1], STREAM)
    with pytest.raises(ValueError, match="C-contiguous uint8"):
        apply_to_array(np.zeros((PAGE_SIZE, 2), np.uint8).T, [1, 2], STREAM)
    with pytest.raises(ValueError, match="page ids for"):
        apply_to_array(np.zeros((2, PAGE_SIZE), np.uint8), [1], STREAM)
    with pytest.raises(ValueError, match="distinct"):
        apply_to_array(np.zeros((2, PAGE_SIZE), np.uint8), [4, 4], STREAM)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32\)"):
        apply_to_array(np.zeros((1, PAGE_SIZE), np.uint8), [-1], STREAM)


@pytest.mark.parametrize("base", [2**63 - 3, 2**64 - 8, 1])
def test_lsns_across_the_signed_boundary(base):
    """The kernel compares u64 LSNs through a biased int64; the top bit must not matter."""
    if not kernel_available():
        pytest.skip("numba is not importable")
    stream = _buffer(*[(base + i, 4, RecordType.INIT_PAGE, INIT_LEAF) if i == 0 else
                       _cell(base + i, 4, bytes([i]) * i) for i in range(6)])
    for upto in (None, base + 2, 2**63 - 1, 2**63, 2**64 - 1, 2**70):
        for voids in ([], [(base, base + 3)], [(2**63 - 2, 2**63 + 1)]):
            reference: dict[int, bytearray] = {}
            kernel: dict[int, bytearray] = {}
            count = apply_buffer(reference, stream, voids=voids, upto_lsn=upto)
            assert apply_to_pages(kernel, stream, voids=voids, upto_lsn=upto) == count
            assert kernel == reference


def test_sparse_page_ids_take_the_sorting_paths(engine):
    """Page ids far apart (no dense table): the sort-based page listing and binary search."""
    far = [5, 70_000_000, 4_000_000_000, 4_294_967_295]
    stream = _buffer(*[(lsn, page_id, RecordType.INIT_PAGE, INIT_LEAF)
                       for lsn, page_id in enumerate(far, 1)],
                     *[_cell(10 + lsn, page_id, b"x" * lsn) for lsn, page_id in
                       enumerate(reversed(far))])
    reference: dict[int, bytearray] = {}
    assert apply_buffer(reference, stream) == 8
    pages: dict[int, bytearray] = {}
    assert apply_to_pages(pages, stream) == 8
    assert pages == reference
    array = np.zeros((3, PAGE_SIZE), dtype=np.uint8)
    assert apply_to_array(array, far[:0:-1], stream) == 6
    assert [array[row].tobytes() for row in range(3)] == [bytes(reference[page_id])
                                                          for page_id in far[:0:-1]]
