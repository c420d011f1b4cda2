"""B+trees over 16 KB pages, changed only through mini-transactions of redo records.

Keys are memcomparable byte strings (aurora_lite.values), values are byte strings; values too
large for a cell live in a chain of overflow pages. The root page of a tree never moves (a root
split moves the root's content into two new children), so the catalog never has to follow it.

Every operation that changes the tree is one MTR: a leaf split (old leaf, new leaf, parent, and
the meta page for the allocation) is applied atomically, as is a merge. Leaves are chained
left-to-right through link0; a reverse scan finds the previous leaf by descending again.

Reads go through a *view*: ``LatestView`` (the writer, its own changes included) or
``SnapshotView`` (a reader at a read point, resolved by the buffer pool to the page version
of that read point). A scan through a snapshot view sees one consistent tree.

Invariant 1: nothing here writes page bytes; every change is a record applied by the MTR.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Iterator

from aurora_lite.btree._cells import (
    CAPACITY, MAX_CELL, MAX_KEY, OVERFLOW_CAPACITY, UNDERFLOW, internal_cell, internal_entries,
    leaf_cell, leaf_keys, leaf_values, overflow_cell, raw_cell, split_leaf_value,
)
from aurora_lite.btree._context import WriteContext
from aurora_lite.buffer import BufferPool, Frame, Image
from aurora_lite.errors import IntegrityError, ProgrammingError
from aurora_lite.page import (
    HEADER_SIZE, NO_PAGE, OFF_AUX, OFF_LINK0, PageType, aux, level as page_level, link0,
    usable_space, used_space,
)
from aurora_lite.redo import MiniTransaction

LEAF = PageType.LEAF
INTERNAL = PageType.INTERNAL


class DuplicateKeyError(IntegrityError):
    """The key is already in a tree that does not allow duplicates."""

    sqlstate = "23505"


class LatestView:
    """The writer's view: the newest version of every page."""

    __slots__ = ("pool", "read_point")

    def __init__(self, pool: BufferPool) -> None:
        self.pool = pool
        self.read_point = None

    def image(self, page_id: int) -> Image:
        return self.pool.get(page_id).image


class SnapshotView:
    """A reader's view at a read point."""

    __slots__ = ("pool", "read_point")

    def __init__(self, pool: BufferPool, read_point: int) -> None:
        self.pool = pool
        self.read_point = read_point

    def image(self, page_id: int) -> Image:
        return self.pool.read(page_id, self.read_point)


def _keys(image: Image) -> list[bytes]:
    keys = image.keys
    if keys is None:
        keys = image.keys = leaf_keys(image.data)
    return keys


def _entries(image: Image) -> tuple[list[bytes], list[int]]:
    if image.children is None:
        image.keys, image.children = internal_entries(image.data)
    return image.keys, image.children


class BTree:
    """One B+tree, named by its fixed root page."""

    __slots__ = ("pool", "root", "tree_id")

    def __init__(self, pool: BufferPool, root: int, tree_id: int) -> None:
        self.pool = pool
        self.root = root
        self.tree_id = tree_id

    # -- creation and destruction ------------------------------------------------------------
    @classmethod
    def create(cls, ctx: WriteContext, tree_id: int) -> "BTree":
        with ctx.mtr() as mtr:
            root, _frame = ctx.new_page(mtr, LEAF, tree_id=tree_id)
        return cls(ctx.pool, root, tree_id)

    def destroy(self, ctx: WriteContext) -> int:
        """Free every page of the tree (the root included); return the number freed."""
        view = LatestView(self.pool)
        pages: list[int] = []
        stack = [self.root]
        while stack:
            page_id = stack.pop()
            pages.append(page_id)
            image = view.image(page_id)
            if image.data[7] == INTERNAL:
                keys, children = _entries(image)
                stack.append(link0(image.data))
                stack.extend(children)
            else:
                for value in leaf_values(image.data, 0, len(_keys(image))):
                    if type(value) is tuple:
                        pages.extend(self._overflow_pages(view, value[1]))
        for start in range(0, len(pages), 64):
            with ctx.mtr() as mtr:
                for page_id in pages[start:start + 64]:
                    ctx.free_page(mtr, page_id)
        return len(pages)

    # -- reads -------------------------------------------------------------------------------
    def _find_leaf(self, view, key: bytes) -> Image:
        image = view.image(self.root)
        while image.data[7] == INTERNAL:
            keys, children = _entries(image)
            index = bisect_right(keys, key) - 1
            image = view.image(children[index] if index >= 0 else link0(image.data))
        return image

    def get(self, view, key: bytes) -> bytes | None:
        image = self._find_leaf(view, key)
        keys = image.keys
        if keys is None:
            keys = _keys(image)
        position = bisect_left(keys, key)
        if position < len(keys) and keys[position] == key:
            overflow, value = split_leaf_value(image.data, position)
            return self._read_overflow(view, *value) if overflow else value
        return None

    def contains(self, view, key: bytes) -> bool:
        keys = _keys(self._find_leaf(view, key))
        position = bisect_left(keys, key)
        return position < len(keys) and keys[position] == key

    def leaf_ranges(self, view, lower: bytes | None = None, upper: bytes | None = None, *,
                    lower_inclusive: bool = True, upper_inclusive: bool = True
                    ) -> Iterator[tuple[Image, int, int]]:
        """(leaf image, first slot, stop slot) per leaf, ascending, within the bounds: the
        raw form of ``scan`` for callers that decode cells straight from the page."""
        if lower is None:
            image = view.image(self.root)
            while image.data[7] == INTERNAL:
                image = view.image(link0(image.data))
            start = 0
        else:
            image = self._find_leaf(view, lower)
            keys = _keys(image)
            start = bisect_left(keys, lower) if lower_inclusive else bisect_right(keys, lower)
        while True:
            data = image.data
            keys = image.keys
            if keys is None:
                keys = _keys(image)
            stop = len(keys)
            done = False
            if upper is not None and stop and keys[-1] >= upper:
                stop = bisect_right(keys, upper) if upper_inclusive else bisect_left(keys, upper)
                done = stop < len(keys)
            if stop > start:
                yield image, start, stop
            if done:
                return
            next_page = link0(data)
            if next_page == NO_PAGE:
                return
            image = view.image(next_page)
            start = 0

    def scan(self, view, lower: bytes | None = None, upper: bytes | None = None, *,
             lower_inclusive: bool = True, upper_inclusive: bool = True
             ) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """(keys, values) per leaf, ascending, within the bounds."""
        for image, start, stop in self.leaf_ranges(view, lower, upper,
                                                   lower_inclusive=lower_inclusive,
                                                   upper_inclusive=upper_inclusive):
            values = leaf_values(image.data, start, stop)
            for index, value in enumerate(values):
                if type(value) is tuple:
                    values[index] = self._read_overflow(view, *value)
            yield image.keys[start:stop], values

    def value_at(self, view, data: bytearray | bytes, slot: int) -> bytes:
        """The value of ``slot`` of a leaf page (following an overflow chain if needed)."""
        overflow, value = split_leaf_value(data, slot)
        return self._read_overflow(view, *value) if overflow else value

    def scan_reverse(self, view, lower: bytes | None = None, upper: bytes | None = None, *,
                     lower_inclusive: bool = True, upper_inclusive: bool = True
                     ) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """(keys, values) per leaf, each list descending, within the bounds."""
        if upper is None:
            image = view.image(self.root)
            while image.data[7] == INTERNAL:
                keys, children = _entries(image)
                image = view.image(children[-1] if children else link0(image.data))
            keys = _keys(image)
            stop = len(keys)
        else:
            image = self._find_leaf(view, upper)
            keys = _keys(image)
            stop = bisect_right(keys, upper) if upper_inclusive else bisect_left(keys, upper)
        while True:
            start = 0
            done = False
            if lower is not None and keys and keys[0] <= lower:
                start = bisect_left(keys, lower) if lower_inclusive else bisect_right(keys, lower)
                done = True
            if stop > start:
                values = leaf_values(image.data, start, stop)
                for index, value in enumerate(values):
                    if type(value) is tuple:
                        values[index] = self._read_overflow(view, *value)
                values.reverse()
                yield keys[start:stop][::-1], values
            if done:
                return
            bound = keys[0] if keys else None
            image = self._leaf_before(view, bound, image)
            if image is None:
                return
            keys = _keys(image)
            stop = len(keys)

    def _leaf_before(self, view, key: bytes | None, current: Image) -> Image | None:
        """The leaf holding the largest key below ``key`` (None when there is none)."""
        while key is not None:
            image = view.image(self.root)
            separator = None
            while image.data[7] == INTERNAL:
                keys, children = _entries(image)
                index = bisect_left(keys, key) - 1
                if index >= 0:
                    separator = keys[index]
                image = view.image(children[index] if index >= 0 else link0(image.data))
            keys = _keys(image)
            if keys and keys[0] < key:
                return image
            # That leaf holds nothing below the key (it may be empty): look left of its range.
            if separator is None or separator >= key:
                return None
            key = separator
        return None

    def estimate_count(self, view) -> int:
        """A cheap row-count estimate from the fan-out along the leftmost path."""
        image = view.image(self.root)
        estimate = 1
        while image.data[7] == INTERNAL:
            keys, _children = _entries(image)
            estimate *= len(keys) + 1
            image = view.image(link0(image.data))
        return estimate * len(_keys(image)) if estimate > 1 else len(_keys(image))

    def first_key(self, view) -> bytes | None:
        for keys, _values in self.scan(view):
            if keys:
                return keys[0]
        return None

    def last_key(self, view) -> bytes | None:
        for keys, _values in self.scan_reverse(view):
            if keys:
                return keys[0]
        return None

    def has_prefix(self, view, prefix: bytes) -> bool:
        for keys, _values in self.scan(view, prefix):
            if keys:
                return keys[0].startswith(prefix)
        return False

    def keys_with_prefix(self, view, prefix: bytes) -> list[bytes]:
        found = []
        for keys, _values in self.scan(view, prefix):
            for key in keys:
                if not key.startswith(prefix):
                    return found
                found.append(key)
        return found

    # -- overflow chains -------------------------------------------------------------------------
    def _read_overflow(self, view, length: int, first: int) -> bytes:
        parts = []
        page_id = first
        while page_id != NO_PAGE and length > 0:
            data = view.image(page_id).data
            used = aux(data)
            parts.append(bytes(data[HEADER_SIZE:HEADER_SIZE + used]))
            length -= used
            page_id = link0(data)
        return b"".join(parts)

    def _overflow_pages(self, view, first: int) -> list[int]:
        pages = []
        page_id = first
        while page_id != NO_PAGE:
            pages.append(page_id)
            page_id = link0(view.image(page_id).data)
        return pages

    def _make_cell(self, ctx: WriteContext, mtr: MiniTransaction, key: bytes,
                   value: bytes) -> bytes:
        if 2 + len(key) + len(value) <= MAX_CELL:
            return leaf_cell(key, value)
        chunks = [value[start:start + OVERFLOW_CAPACITY]
                  for start in range(0, len(value), OVERFLOW_CAPACITY)]
        page_ids = [ctx.allocate_page(mtr) for _chunk in chunks]
        for index, (page_id, chunk) in enumerate(zip(page_ids, chunks)):
            frame = self.pool.new_frame(page_id)
            data = frame.image.data
            following = page_ids[index + 1] if index + 1 < len(page_ids) else NO_PAGE
            mtr.init_page(data, page_id, PageType.OVERFLOW, tree_id=self.tree_id,
                          link0=following)
            mtr.write_bytes(data, page_id, HEADER_SIZE, chunk)
            mtr.write_u64(data, page_id, OFF_AUX, len(chunk))
        return overflow_cell(key, len(value), page_ids[0])

    def _free_value(self, ctx: WriteContext, mtr: MiniTransaction, image: Image,
                    slot: int) -> None:
        overflow, value = split_leaf_value(image.data, slot)
        if overflow:
            for page_id in self._overflow_pages(LatestView(self.pool), value[1]):
                ctx.free_page(mtr, page_id)

    # -- writes ----------------------------------------------------------------------------------
    def _descend(self, key: bytes) -> tuple[list[tuple[Frame, int]], Frame]:
        pool = self.pool
        frame = pool.get(self.root)
        path = []
        while frame.image.data[7] == INTERNAL:
            keys, children = _entries(frame.image)
            index = bisect_right(keys, key) - 1
            path.append((frame, index))
            frame = pool.get(children[index] if index >= 0 else link0(frame.image.data))
        return path, frame

    def insert(self, ctx: WriteContext, key: bytes, value: bytes, *,
               overwrite: bool = False, mtr: MiniTransaction | None = None) -> bool:
        """Insert ``key``; if it exists, replace its value when ``overwrite`` else raise
        DuplicateKeyError. Return True when the key is new. With ``mtr`` the change joins that
        mini-transaction (bulk loads put many rows in one) instead of making its own."""
        if len(key) > MAX_KEY:
            raise ProgrammingError(f"index row size {len(key)} exceeds the maximum {MAX_KEY}",
                                   sqlstate="54000")
        if mtr is not None:
            return self._insert(ctx, mtr, key, value, overwrite)
        with ctx.mtr() as mtr:
            return self._insert(ctx, mtr, key, value, overwrite)

    def _insert(self, ctx: WriteContext, mtr: MiniTransaction, key: bytes, value: bytes,
                overwrite: bool) -> bool:
        path, leaf = self._descend(key)
        keys = _keys(leaf.image)
        position = bisect_left(keys, key)
        exists = position < len(keys) and keys[position] == key
        if exists and not overwrite:
            raise DuplicateKeyError("duplicate key")
        cell = self._make_cell(ctx, mtr, key, value)
        if exists:
            self._free_value(ctx, mtr, leaf.image, position)
            data = self.pool.for_write(leaf)
            old_length = len(raw_cell(data, position))
            if usable_space(data) + old_length >= len(cell):
                mtr.replace_cell(data, leaf.page_id, position, cell)
                return False
            mtr.delete_cells(data, leaf.page_id, position, 1)
            leaf.image.keys.pop(position)
        self._insert_leaf(ctx, mtr, path, leaf, position, key, cell)
        return not exists

    def insert_new(self, ctx: WriteContext, mtr: MiniTransaction,
                   items: list[tuple[bytes, bytes]]) -> None:
        """Insert many new keys in one mini-transaction; a key already in the tree raises
        DuplicateKeyError with ``key`` set to it (what came before it is in the tree).

        A bulk load's rows mostly land next to each other: each run of ascending keys that
        falls between two neighbours of one leaf and fits in it becomes one INSERT_CELLS
        record instead of one record (and one descent) per key. Anything else (a full leaf,
        an overflow value, keys out of order) goes through ``insert`` one key at a time."""
        count = len(items)
        index = 0
        while index < count:
            key, value = items[index]
            if len(key) > MAX_KEY:
                raise ProgrammingError(f"index row size {len(key)} exceeds the maximum "
                                       f"{MAX_KEY}", sqlstate="54000")
            path, leaf = self._descend(key)
            keys = _keys(leaf.image)
            position = bisect_left(keys, key)
            if position < len(keys) and keys[position] == key:
                error = DuplicateKeyError("duplicate key")
                error.key = key
                raise error
            # The run must stay below the key that follows it: in this leaf, or above it
            # the nearest separator to the right on the way down.
            upper = keys[position] if position < len(keys) else self._upper_fence(path)
            space = usable_space(leaf.image.data)
            run_keys: list[bytes] = []
            cells: list[bytes] = []
            previous = None
            end = index
            while end < count:
                next_key, next_value = items[end]
                size = 2 + len(next_key) + len(next_value)
                if (size > MAX_CELL or len(next_key) > MAX_KEY or space < size + 4
                        or (previous is not None and next_key <= previous)
                        or (upper is not None and next_key >= upper)):
                    break
                run_keys.append(next_key)
                cells.append(leaf_cell(next_key, next_value))
                space -= size + 4
                previous = next_key
                end += 1
            if not cells:
                try:
                    self._insert(ctx, mtr, key, value, False)
                except DuplicateKeyError as error:
                    error.key = key
                    raise
                index += 1
                continue
            data = self.pool.for_write(leaf)
            if len(cells) == 1:
                mtr.insert_cell(data, leaf.page_id, position, cells[0])
            else:
                mtr.insert_cells(data, leaf.page_id, position, cells)
            # for_write may have given the frame a private copy: its own cached keys change.
            _keys(leaf.image)[position:position] = run_keys
            index = end

    def _upper_fence(self, path: list[tuple[Frame, int]]) -> bytes | None:
        """The smallest separator to the right of the path: every key of its leaf is below."""
        for frame, index in reversed(path):
            keys, _children = _entries(frame.image)
            if index + 1 < len(keys):
                return keys[index + 1]
        return None

    def delete(self, ctx: WriteContext, key: bytes) -> bool:
        """Remove ``key``; return False when it was not there."""
        with ctx.mtr() as mtr:
            path, leaf = self._descend(key)
            keys = _keys(leaf.image)
            position = bisect_left(keys, key)
            if position >= len(keys) or keys[position] != key:
                return False
            self._free_value(ctx, mtr, leaf.image, position)
            data = self.pool.for_write(leaf)
            mtr.delete_cells(data, leaf.page_id, position, 1)
            leaf.image.keys.pop(position)
            if path and used_space(data) < UNDERFLOW:
                self._rebalance(ctx, mtr, path, leaf)
        return True

    def _insert_leaf(self, ctx: WriteContext, mtr: MiniTransaction,
                     path: list[tuple[Frame, int]], leaf: Frame, position: int, key: bytes,
                     cell: bytes) -> None:
        data = self.pool.for_write(leaf)
        keys = _keys(leaf.image)
        if usable_space(data) >= len(cell) + 4:
            mtr.insert_cell(data, leaf.page_id, position, cell)
            keys.insert(position, key)
            return
        count = len(keys)
        cells = [raw_cell(data, slot) for slot in range(count)]
        all_cells = cells[:position] + [cell] + cells[position:]
        all_keys = keys[:position] + [key] + keys[position:]
        right_sibling = link0(data)
        if position == count and right_sibling == NO_PAGE:
            split = count          # appending at the end of the tree: keep the left page full
        else:
            split = _balanced_split(all_cells)
        if not path:
            self._split_root(ctx, mtr, leaf, all_cells, all_keys, None, split, LEAF)
            return
        right_id, right = ctx.new_page(mtr, LEAF, tree_id=self.tree_id, link0=right_sibling)
        mtr.insert_cells(right.image.data, right_id, 0, all_cells[split:])
        right.image.keys = all_keys[split:]
        if position < split:
            if count - (split - 1) > 0:
                mtr.delete_cells(data, leaf.page_id, split - 1, count - (split - 1))
            mtr.insert_cell(data, leaf.page_id, position, cell)
        elif count - split > 0:
            mtr.delete_cells(data, leaf.page_id, split, count - split)
        mtr.write_u32(data, leaf.page_id, OFF_LINK0, right_id)
        leaf.image.keys = all_keys[:split]
        self._insert_parent(ctx, mtr, path, all_keys[split], right_id)

    def _insert_parent(self, ctx: WriteContext, mtr: MiniTransaction,
                       path: list[tuple[Frame, int]], separator: bytes, child: int) -> None:
        parent, index = path[-1]
        position = index + 1
        cell = internal_cell(separator, child)
        data = self.pool.for_write(parent)
        keys, children = _entries(parent.image)
        if usable_space(data) >= len(cell) + 4:
            mtr.insert_cell(data, parent.page_id, position, cell)
            keys.insert(position, separator)
            children.insert(position, child)
            return
        count = len(keys)
        cells = [raw_cell(data, slot) for slot in range(count)]
        all_cells = cells[:position] + [cell] + cells[position:]
        all_keys = keys[:position] + [separator] + keys[position:]
        all_children = children[:position] + [child] + children[position:]
        split = min(max(_balanced_split(all_cells), 1), len(all_cells) - 2)
        if len(path) == 1:
            self._split_root(ctx, mtr, parent, all_cells, all_keys, all_children, split,
                             INTERNAL)
            return
        level = page_level(data)
        right_id, right = ctx.new_page(mtr, INTERNAL, tree_id=self.tree_id, level=level,
                                       link0=all_children[split])
        mtr.insert_cells(right.image.data, right_id, 0, all_cells[split + 1:])
        right.image.keys = all_keys[split + 1:]
        right.image.children = all_children[split + 1:]
        if position < split:
            if count - (split - 1) > 0:
                mtr.delete_cells(data, parent.page_id, split - 1, count - (split - 1))
            mtr.insert_cell(data, parent.page_id, position, cell)
        elif count - split > 0:
            mtr.delete_cells(data, parent.page_id, split, count - split)
        parent.image.keys = all_keys[:split]
        parent.image.children = all_children[:split]
        self._insert_parent(ctx, mtr, path[:-1], all_keys[split], right_id)

    def _split_root(self, ctx: WriteContext, mtr: MiniTransaction, root: Frame,
                    all_cells: list[bytes], all_keys: list[bytes],
                    all_children: list[int] | None, split: int, page_type: int) -> None:
        """Move the root's content into two new children; the root page stays where it is."""
        data = self.pool.for_write(root)
        level = page_level(data)
        if page_type == LEAF:
            right_id, right = ctx.new_page(mtr, LEAF, tree_id=self.tree_id)
            left_id, left = ctx.new_page(mtr, LEAF, tree_id=self.tree_id, link0=right_id)
            mtr.insert_cells(left.image.data, left_id, 0, all_cells[:split])
            mtr.insert_cells(right.image.data, right_id, 0, all_cells[split:])
            left.image.keys = all_keys[:split]
            right.image.keys = all_keys[split:]
        else:
            right_id, right = ctx.new_page(mtr, INTERNAL, tree_id=self.tree_id, level=level,
                                           link0=all_children[split])
            left_id, left = ctx.new_page(mtr, INTERNAL, tree_id=self.tree_id, level=level,
                                         link0=link0(data))
            mtr.insert_cells(left.image.data, left_id, 0, all_cells[:split])
            mtr.insert_cells(right.image.data, right_id, 0, all_cells[split + 1:])
            left.image.keys, left.image.children = all_keys[:split], all_children[:split]
            right.image.keys = all_keys[split + 1:]
            right.image.children = all_children[split + 1:]
        mtr.init_page(data, self.root, INTERNAL, level=level + 1, tree_id=self.tree_id,
                      link0=left_id)
        mtr.insert_cell(data, self.root, 0, internal_cell(all_keys[split], right_id))
        root.image.keys = [all_keys[split]]
        root.image.children = [right_id]

    def _rebalance(self, ctx: WriteContext, mtr: MiniTransaction,
                   path: list[tuple[Frame, int]], frame: Frame) -> None:
        """Merge an underfull page with a sibling under the same parent when both fit."""
        parent, index = path[-1]
        keys, children = _entries(parent.image)
        count = len(keys)
        if count == 0:
            return
        right_slot = index + 1 if index + 1 < count else index
        if right_slot < 0:
            right_slot = 0
        left_id = link0(parent.image.data) if right_slot == 0 else children[right_slot - 1]
        right_id = children[right_slot]
        left = self.pool.get(left_id)
        right = self.pool.get(right_id)
        left_data, right_data = left.image.data, right.image.data
        is_leaf = left_data[7] == LEAF
        separator = keys[right_slot]
        extra = 0 if is_leaf else 4 + len(separator) + 4 + 4
        if used_space(left_data) + used_space(right_data) + extra > CAPACITY:
            return
        moved = [raw_cell(right_data, slot) for slot in range(_count(right_data))]
        left_data = self.pool.for_write(left)
        if is_leaf:
            right_keys = list(_keys(right.image))
            left_keys = _keys(left.image)
            if moved:
                mtr.insert_cells(left_data, left_id, len(left_keys), moved)
            mtr.write_u32(left_data, left_id, OFF_LINK0, link0(right_data))
            left_keys.extend(right_keys)
        else:
            right_keys, right_children = _entries(right.image)
            right_keys, right_children = list(right_keys), list(right_children)
            left_keys, left_children = _entries(left.image)
            down = internal_cell(separator, link0(right_data))
            mtr.insert_cells(left_data, left_id, len(left_keys), [down] + moved)
            left_keys.extend([separator] + right_keys)
            left_children.extend([link0(right_data)] + right_children)
        ctx.free_page(mtr, right_id)
        parent_data = self.pool.for_write(parent)
        keys, children = _entries(parent.image)
        mtr.delete_cells(parent_data, parent.page_id, right_slot, 1)
        keys.pop(right_slot)
        children.pop(right_slot)
        if len(path) == 1:
            if not keys:
                self._collapse_root(ctx, mtr, parent)
        elif used_space(parent_data) < UNDERFLOW:
            self._rebalance(ctx, mtr, path[:-1], parent)

    def _collapse_root(self, ctx: WriteContext, mtr: MiniTransaction, root: Frame) -> None:
        """A root with a single child takes over the child's content (the tree gets shorter)."""
        while root.image.data[7] == INTERNAL and _count(root.image.data) == 0:
            child_id = link0(root.image.data)
            child = self.pool.get(child_id)
            child_data = child.image.data
            cells = [raw_cell(child_data, slot) for slot in range(_count(child_data))]
            child_type = child_data[7]
            child_level = page_level(child_data)
            child_link = link0(child_data)
            if child_type == INTERNAL:
                keys, children = _entries(child.image)
                keys, children = list(keys), list(children)
            else:
                keys, children = list(_keys(child.image)), None
            data = self.pool.for_write(root)
            mtr.init_page(data, self.root, child_type, level=child_level, tree_id=self.tree_id,
                          link0=child_link)
            if cells:
                mtr.insert_cells(data, self.root, 0, cells)
            root.image.keys = keys
            root.image.children = children
            ctx.free_page(mtr, child_id)

    # -- diagnostics -----------------------------------------------------------------------------
    def check(self, view) -> int:
        """Verify ordering, separators and the leaf chain; return the number of keys."""
        leaves: list[int] = []

        def walk(page_id: int, low: bytes | None, high: bytes | None, depth: int) -> int:
            image = view.image(page_id)
            data = image.data
            if data[7] == INTERNAL:
                keys, children = internal_entries(data)
                bounds = [low] + keys + [high]
                kids = [link0(data)] + children
                assert keys == sorted(keys), f"page {page_id}: separators out of order"
                heights = {walk(kid, bounds[i], bounds[i + 1], depth + 1)
                           for i, kid in enumerate(kids)}
                assert len(heights) == 1, f"page {page_id}: unbalanced"
                return heights.pop() + 1
            keys = leaf_keys(data)
            assert keys == sorted(set(keys)), f"leaf {page_id}: keys out of order"
            if keys:
                assert low is None or keys[0] >= low, f"leaf {page_id}: key below separator"
                assert high is None or keys[-1] < high, f"leaf {page_id}: key above separator"
            leaves.append(page_id)
            return 0

        walk(self.root, None, None, 0)
        for current, following in zip(leaves, leaves[1:]):
            assert link0(view.image(current).data) == following, "leaf chain broken"
        assert link0(view.image(leaves[-1]).data) == NO_PAGE, "last leaf has a right link"
        return sum(len(leaf_keys(view.image(page).data)) for page in leaves)


def _count(data: bytearray | bytes) -> int:
    return data[20] | data[21] << 8


def _balanced_split(cells: list[bytes]) -> int:
    """The smallest k whose first k cells hold at least half the bytes, within 1..len-1."""
    total = sum(len(cell) + 4 for cell in cells)
    running = 0
    for index, cell in enumerate(cells):
        running += len(cell) + 4
        if running * 2 >= total:
            return min(max(index + 1, 1), len(cells) - 1)
    return len(cells) - 1
