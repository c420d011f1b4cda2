"""Segment: the storage side of a protection group, and the storage node process.

Public surface:
  SegmentStore     one PG's segment in a directory: append/sync (group commit; frontier
                   ranges), SCL, gaps() and the CPL/TXN_END lookups, records_in_range, fetch,
                   get_page(page, read_point), materialize(horizon) + GC, truncate_above(lsn),
                   set_epoch, salvage of damaged log ranges, scrub/repair_log/repair_page,
                   page_images/install_pages/finish_install (rebuild from a peer), statistics()
  ReadPointBehind, ReadPointTooOld, ScrubReport
  LogFileInfo      a hot log file as the retention hook sees it
  DamagedRange     bytes a salvaging open cut out of a log file
  LogHeader, PagesHeader, JournalHeader, SclHeader, Control, NodeControl
                   the on-disk headers (docs/formats/segment.md, docs/formats/cluster.md)
  SegmentNode      one storage node's segments (one per PG placed on it) and its NODE file
  SegmentServer    the trio TCP server of a node: auth, write batches with group commit,
                   GET_PAGE, FENCE, TRUNCATE, SET_HORIZON, FETCH_RECORDS/FETCH_PAGES, STATUS;
                   gossip, scrub and materialization in the background
  UnknownProtectionGroup
  NodeClient, BlockingNodeClient, RemoteError
                   authenticated clients of a node (trio; blocking sockets for tools)
  run_segment, configure_segment
                   ``aurora-lite segment`` (aurora_lite.cli)

This package imports only page/, redo/, wire/, membership/, env/ and errors.
"""

import importlib

from aurora_lite.segment._formats import (
    CONTROL_MAGIC, FORMAT_VERSION, JOURNAL_MAGIC, LOG_MAGIC, PAGES_MAGIC, SCL_MAGIC, Control,
    JournalHeader, LogHeader, PagesHeader, SclHeader,
)
from aurora_lite.segment._hotlog import DamagedRange, LogFileInfo
from aurora_lite.segment._nodecontrol import NODE_MAGIC, NodeControl
from aurora_lite.segment._repair import ScrubReport
from aurora_lite.segment._store import (
    ReadPointBehind, ReadPointTooOld, RetentionHook, SegmentStore,
)

# The node process and its clients import trio; users of the store alone (LocalVolume, the
# shell) should not pay for that, so these load on first use.
_LAZY = {
    "SegmentNode": "_node", "UnknownProtectionGroup": "_node", "SegmentServer": "_server",
    "NodeClient": "_client", "BlockingNodeClient": "_client", "RemoteError": "_client",
    "run_segment": "_main", "configure_segment": "_main",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aurora_lite.segment' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"aurora_lite.segment.{module}"),
                    "configure" if name == "configure_segment" else name)
    globals()[name] = value
    return value


__all__ = [
    "SegmentStore", "LogFileInfo", "DamagedRange", "RetentionHook", "LogHeader", "PagesHeader",
    "JournalHeader", "SclHeader", "Control", "LOG_MAGIC", "PAGES_MAGIC", "JOURNAL_MAGIC",
    "CONTROL_MAGIC", "SCL_MAGIC", "FORMAT_VERSION", "ReadPointBehind", "ReadPointTooOld",
    "ScrubReport", "NodeControl", "NODE_MAGIC", "SegmentNode", "SegmentServer",
    "UnknownProtectionGroup", "NodeClient", "BlockingNodeClient", "RemoteError", "run_segment",
    "configure_segment",
]
