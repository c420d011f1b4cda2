"""Pages: the 16 KB slotted layout shared by the writer, segments, replicas and restore.

Public surface: the layout constants, ``PageType``, read-only accessors, ``seal``/``verify``.
Pages are changed only by the redo applier (aurora_lite.redo); this package never imports
anything above it.
"""

from aurora_lite.page._layout import (
    FIRST_WRITABLE, HEADER, HEADER_SIZE, MAGIC, META_END, META_PAGE_ID, NO_PAGE,
    OFF_AUX, OFF_CELL_START, OFF_CHECKSUM, OFF_FLAGS, OFF_FRAG, OFF_LEVEL, OFF_LINK0, OFF_LINK1,
    OFF_LSN, OFF_MAGIC, OFF_META_CATALOG_ROOT, OFF_META_COMMIT_TIME, OFF_META_CREATED,
    OFF_META_FREELIST, OFF_META_LAST_TXN, OFF_META_NEXT_PAGE, OFF_META_NEXT_TREE, OFF_PAGE_ID,
    OFF_SLOT_COUNT, OFF_TREE_ID, OFF_TYPE, OFF_VERSION, PAGE_SIZE, SLOT_SIZE, VERSION, PageType,
    aux, cell, cell_bounds, cells, checksum, empty_page, free_space, level, link0, link1,
    page_id_of, page_lsn, page_type, read_u32, read_u64, seal, slot_array, slot_count, tree_id,
    usable_space, used_space, verify,
)

__all__ = [name for name in dir() if not name.startswith("_")]
