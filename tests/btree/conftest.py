from __future__ import annotations

import pytest

from aurora_lite.btree import WriteContext
from aurora_lite.buffer import BufferPool
from aurora_lite.page import (
    NO_PAGE, OFF_META_FREELIST, OFF_META_NEXT_PAGE, OFF_META_NEXT_TREE, PageType,
)

from tests.btree._memory_volume import MemoryVolume


def bootstrap(pool: BufferPool, ctx: WriteContext) -> None:
    frame = pool.new_frame(0)
    with ctx.mtr() as mtr:
        data = frame.image.data
        mtr.init_page(data, 0, PageType.META)
        mtr.write_u64(data, 0, OFF_META_NEXT_PAGE, 1)
        mtr.write_u32(data, 0, OFF_META_FREELIST, NO_PAGE)
        mtr.write_u64(data, 0, OFF_META_NEXT_TREE, 1)
    ctx.flush()


@pytest.fixture
def storage():
    volume = MemoryVolume()
    pool = BufferPool(volume, capacity=64)
    ctx = WriteContext(pool, volume, batch_bytes=4096)
    bootstrap(pool, ctx)
    return volume, pool, ctx
