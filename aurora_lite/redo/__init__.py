"""Redo: the record format, mini-transactions and the page applier (reference and numba).

Public surface:
  RecordType, RedoRecord, FLAG_CPL, FLAG_TXN_END, append_record, iter_records, record_offsets,
  check_record, scan_valid_prefix      -- the binary format (docs/formats/redo.md)
  MiniTransaction, LsnAllocator        -- building records as pages change
  apply, apply_buffer, void_ranges     -- the pure-Python reference applier
  PageFullError, split_cells
  apply_to_pages, apply_to_array,      -- batch materialization through the numba kernel
  kernel_available, warm_up               (module ``materialize``; numba, ~0.6 s to import, is
                                          imported by their first call, never by this package)
This package imports only aurora_lite.page and aurora_lite.errors.
"""

from aurora_lite.redo._apply import PageFullError, apply, apply_buffer, split_cells, void_ranges
from aurora_lite.redo._mtr import LsnAllocator, MiniTransaction
from aurora_lite.redo.materialize import apply_to_array, apply_to_pages, kernel_available, warm_up
from aurora_lite.redo._record import (
    FLAG_CPL, FLAG_TXN_END, HEADER_SIZE, MAX_RECORD, RECORD_HEADER, RECORD_VERSION, RecordType,
    RedoRecord, append_record, check_record, iter_records, record_at, record_offsets, reseal,
    scan_valid_prefix, set_flags,
)

__all__ = [name for name in dir() if not name.startswith("_")]
