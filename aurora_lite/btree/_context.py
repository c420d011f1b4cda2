"""The writer's context for changing pages: mini-transactions over the pool, batched shipping.

Every change the B-tree makes happens inside ``WriteContext.mtr()``: a MiniTransaction whose
records are applied to pool frames as they are generated. When the MTR ends its packed buffer
joins a pending batch; batches go to the volume when they are large, when a transaction ends,
or when the pool needs durability to evict (``flush``). Shipping many MTRs per ``submit``
keeps the per-record cost of the write path low.

If an MTR fails half-way (a bug, or an error raised between two records), its frames are
dropped and the allocator is reset to before it: storage never saw its records, so reloading
those pages at VDL gives back their state before the MTR.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from aurora_lite.buffer import BufferPool, Frame
from aurora_lite.page import (
    META_PAGE_ID, NO_PAGE, OFF_META_FREELIST, OFF_META_NEXT_PAGE, OFF_META_NEXT_TREE, PageType,
    link0, read_u32, read_u64,
)
from aurora_lite.redo import MiniTransaction
from aurora_lite.volume import Volume

BATCH_BYTES = 128 * 1024


class WriteContext:
    """Owned by the holder of the write lock; ``flush`` may be called from any thread."""

    def __init__(self, pool: BufferPool, volume: Volume, batch_bytes: int = BATCH_BYTES) -> None:
        self.pool = pool
        self.volume = volume
        self.batch_bytes = batch_bytes
        self._pending: list[bytes | bytearray] = []
        self._pending_size = 0
        self._pending_last = 0
        self._pending_txn_end = False
        self._lock = threading.Lock()
        self.last_submitted = 0
        # LSN of the last record of the last finished MTR (the writer's position in the log).
        self.last_lsn = 0
        self.mtrs = 0
        # Called with (buffer, last_lsn) for every batch shipped to storage, in LSN order
        # (the writer's redo stream for read replicas). Listeners must not block.
        self.listeners: list = []
        pool.flush_hook = self.flush
        pool.pinned.add(META_PAGE_ID)

    @contextlib.contextmanager
    def mtr(self, *, txn_end: bool = False) -> Iterator[MiniTransaction]:
        """One mini-transaction; with ``txn_end`` its CPL also ends the transaction and the
        batch is shipped at once."""
        token = self.volume.mark()
        self.pool.begin_op()
        mtr = MiniTransaction(self.volume)
        try:
            yield mtr
        except BaseException:
            self._abandon(mtr, token)
            raise
        if mtr.records:
            self.queue(mtr.finish(txn_end=txn_end), mtr.last_lsn, txn_end=txn_end)

    def queue(self, buffer: bytes | bytearray, last_lsn: int, *, txn_end: bool = False) -> None:
        with self._lock:
            self._pending.append(buffer)
            self._pending_size += len(buffer)
            self._pending_last = last_lsn
            self._pending_txn_end = txn_end
            self.last_lsn = last_lsn
            self.mtrs += 1
            full = self._pending_size >= self.batch_bytes
        if full or txn_end:
            self.flush()

    def flush(self) -> None:
        """Submit every pending MTR to the volume."""
        with self._lock:
            if not self._pending:
                return
            buffer = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            last, txn_end = self._pending_last, self._pending_txn_end
            self._pending = []
            self._pending_size = 0
            self.volume.submit(buffer, last, txn_end=txn_end)
            self.last_submitted = last
            for listener in self.listeners:
                listener(buffer, last)

    def _abandon(self, mtr: MiniTransaction, token: object) -> None:
        if mtr.records:
            # Earlier MTRs must be durable before the touched pages are reloaded at VDL.
            self.flush()
            if self.last_submitted:
                self.volume.wait_durable(self.last_submitted, timeout=60)
            self.pool.discard(mtr.pages)
        self.volume.reset(token)

    # -- the meta page: allocation of pages and tree ids --------------------------------------
    def meta(self) -> Frame:
        return self.pool.get(META_PAGE_ID)

    def allocate_page(self, mtr: MiniTransaction) -> int:
        """A page id for a new page (from the free list, else past the high-water mark)."""
        meta = self.meta()
        data = meta.image.data
        head = read_u32(data, OFF_META_FREELIST)
        if head != NO_PAGE and head != 0:
            next_free = link0(self.pool.get(head).image.data)
            mtr.write_u32(self.pool.for_write(meta), META_PAGE_ID, OFF_META_FREELIST, next_free)
            return head
        page_id = read_u64(data, OFF_META_NEXT_PAGE)
        mtr.write_u64(self.pool.for_write(meta), META_PAGE_ID, OFF_META_NEXT_PAGE, page_id + 1)
        return page_id

    def free_page(self, mtr: MiniTransaction, page_id: int) -> None:
        """Put a page on the free list (it becomes a FREE page linking to the old head)."""
        meta = self.meta()
        head = read_u32(meta.image.data, OFF_META_FREELIST)
        frame = self.pool.new_frame(page_id)
        mtr.init_page(frame.image.data, page_id, PageType.FREE, link0=head)
        mtr.write_u32(self.pool.for_write(meta), META_PAGE_ID, OFF_META_FREELIST, page_id)

    def allocate_tree_id(self, mtr: MiniTransaction) -> int:
        meta = self.meta()
        tree = read_u64(meta.image.data, OFF_META_NEXT_TREE)
        mtr.write_u64(self.pool.for_write(meta), META_PAGE_ID, OFF_META_NEXT_TREE, tree + 1)
        return tree

    def new_page(self, mtr: MiniTransaction, page_type: int, *, tree_id: int, level: int = 0,
                 link0: int = NO_PAGE) -> tuple[int, Frame]:
        page_id = self.allocate_page(mtr)
        frame = self.pool.new_frame(page_id)
        mtr.init_page(frame.image.data, page_id, page_type, level=level, tree_id=tree_id,
                      link0=link0)
        frame.image.keys = [] if page_type == PageType.LEAF else None
        frame.image.children = None
        return page_id, frame
