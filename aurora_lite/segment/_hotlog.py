"""The hot log: append-only files of redo records exactly as aurora_lite.redo packs them.

Files are ``redo-<seq:08d>.log`` in the segment directory: a 32-byte header (``LogHeader``,
docs/formats/segment.md) and then records in *arrival* order, which is LSN order in a healthy
run but need not be (the cluster may deliver records out of order; the record index and the
chain sort that out). A file is rotated when it reaches ``max_file_size``; the old file is
fsynced before the new one is created, so only the newest file can ever have a torn tail.

Reading the files at open (Invariant 5):

* a torn tail - invalid bytes at the end of the newest file with no valid record after them -
  is what a crash leaves; it is cut off (never acknowledged: it was not fsynced);
* a bad record followed by valid ones, or a bad record in an older file, is damage in the
  middle: ``CorruptionError`` naming the file and the byte offset. With ``salvage=True`` the
  damaged bytes are cut out instead (the file is rewritten without them) and reported as
  ``DamagedRange``; the records lost leave a hole in the chain that peers can fill.

This class is not thread-safe; ``SegmentStore`` serializes calls (see its lock order).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from aurora_lite.env import Disk
from aurora_lite.errors import CorruptionError, OperationalError
from aurora_lite.redo._record import RECORD_VERSION, RecordType, check_record
from aurora_lite.redo.materialize import check_records_at, gather_bytes, kernel_available
from aurora_lite.segment._formats import LOG_HEADER, LogHeader
from aurora_lite.segment._index import POS_MASK, POS_SHIFT, pack_pos, unpack_pos

if TYPE_CHECKING:
    import numpy as np

_NAME = re.compile(r"^redo-(\d{8})\.log$")
_MAX_TYPE = max(RecordType)
# Reads of neighbouring records are merged when the hole between them is at most this big.
_MERGE_GAP = 4096


@dataclass(frozen=True)
class LogFileInfo:
    """One hot log file, as the retention hook and statistics see it."""

    path: str
    seq: int
    first_lsn: int
    min_lsn: int       # 0 when the file holds no record
    max_lsn: int
    records: int
    size: int


@dataclass(frozen=True)
class DamagedRange:
    """Bytes cut out of a log file by a salvaging open (their records must come from peers)."""

    path: str
    offset: int
    length: int


class _LogFile:
    __slots__ = ("seq", "path", "fd", "size", "first_lsn", "min_lsn", "max_lsn", "records")

    def __init__(self, seq: int, path: str, fd: int, size: int, first_lsn: int) -> None:
        self.seq = seq
        self.path = path
        self.fd = fd
        self.size = size
        self.first_lsn = first_lsn
        self.min_lsn = 0
        self.max_lsn = 0
        self.records = 0

    def note(self, min_lsn: int, max_lsn: int, count: int) -> None:
        if count:
            self.min_lsn = min_lsn if not self.records else min(self.min_lsn, min_lsn)
            self.max_lsn = max(self.max_lsn, max_lsn)
            self.records += count

    def info(self) -> LogFileInfo:
        return LogFileInfo(self.path, self.seq, self.first_lsn, self.min_lsn, self.max_lsn,
                           self.records, self.size)


def log_name(seq: int) -> str:
    return f"redo-{seq:08d}.log"


def next_valid_record(data: bytes | bytearray | memoryview, start: int) -> int | None:
    """Offset of the first valid record at or after ``start`` at any byte position, or None.

    Used only after a bad record, to tell a torn tail (nothing valid follows) from damage in the
    middle. Candidates are found by the fixed version/reserved bytes of a record header.
    """
    data = bytes(data) if not isinstance(data, (bytes, bytearray)) else data
    marker = bytes([RECORD_VERSION, 0])
    search = start + 30
    while True:
        found = data.find(marker, search)
        if found < 0:
            return None
        candidate = found - 30
        if 1 <= data[candidate + 28] <= _MAX_TYPE:
            try:
                check_record(data, candidate)
                return candidate
            except CorruptionError:
                pass
        search = found + 1


class HotLog:
    """The set of hot log files of one segment."""

    def __init__(self, directory: str, pg_id: int, disk: Disk, max_file_size: int) -> None:
        self.directory = directory
        self.pg_id = pg_id
        self.disk = disk
        self.max_file_size = max_file_size
        self._files: dict[int, _LogFile] = {}
        self._active: _LogFile | None = None
        self._last_seq = 0
        self._dirty: set[int] = set()
        self._dir_dirty = False
        self.torn_bytes_cut = 0

    # -- opening ------------------------------------------------------------------------------
    def open(self, visit: Callable[[int, bytes, list[int]], "np.ndarray"], *,
             salvage: bool = False, tail_is_damage: bool = False) -> list[DamagedRange]:
        """Scan every file in sequence order, calling ``visit(seq, data, offsets)`` with the
        offsets of its valid records (visit returns their LSNs); cut a torn tail; raise (or
        salvage) on damage in the middle. ``tail_is_damage``: a re-read of a running log (a
        scrub found damage), where a bad tail cannot be a crash and is damage too."""
        os.makedirs(self.directory, exist_ok=True)
        names = []
        for name in os.listdir(self.directory):
            match = _NAME.match(name)
            if match:
                names.append((int(match.group(1)), os.path.join(self.directory, name)))
        names.sort()
        damaged: list[DamagedRange] = []
        for index, (seq, path) in enumerate(names):
            self._last_seq = max(self._last_seq, seq)
            newest = index == len(names) - 1
            self._open_file(seq, path, newest and not tail_is_damage, salvage, damaged, visit)
        if self._files:
            newest_file = self._files[max(self._files)]
            if newest_file.size < self.max_file_size:
                self._active = newest_file
        return damaged

    def _open_file(self, seq: int, path: str, newest: bool, salvage: bool,
                   damaged: list[DamagedRange], visit: Callable) -> None:
        fd = os.open(path, os.O_RDWR)
        try:
            self._scan_file(seq, path, fd, newest, salvage, damaged, visit)
        except CorruptionError:
            if seq not in self._files:
                os.close(fd)
            raise

    def _scan_file(self, seq: int, path: str, fd: int, newest: bool, salvage: bool,
                   damaged: list[DamagedRange], visit: Callable) -> None:
        data = _read_all(fd)
        first_lsn = 0
        header_ok = True
        try:
            header = LogHeader.unpack(data, path)
            if header.pg_id != self.pg_id or header.file_seq != seq:
                raise CorruptionError(f"{path} at offset 8: log file header says protection "
                                      f"group {header.pg_id} file {header.file_seq}, expected "
                                      f"{self.pg_id} file {seq}")
            first_lsn = header.first_lsn
        except CorruptionError as exc:
            if newest and next_valid_record(data, 0) is None:
                # The crash came while the file was being created: it never held a record
                # that was acknowledged.
                os.close(fd)
                self.disk.remove(path)
                self.disk.fsync_dir(self.directory)
                self.torn_bytes_cut += len(data)
                return
            if not salvage:
                raise
            damaged.append(DamagedRange(path, 0, LOG_HEADER.size))
            header_ok = False
            del exc
        spans: list[tuple[int, int]] = []
        offset = LOG_HEADER.size
        end = len(data)
        while offset < end:
            try:
                length = check_record(data, offset, path)
            except CorruptionError as exc:
                following = next_valid_record(data, offset + 1)
                if following is None and newest:
                    # Torn tail (Invariant 5): the end of the last write before a crash.
                    self.disk.truncate(fd, offset)
                    self.disk.fsync(fd)
                    self.torn_bytes_cut += end - offset
                    data = data[:offset]
                    break
                if not salvage:
                    where = (f"valid records follow at offset {following}" if following is not
                             None else "newer log files follow")
                    raise CorruptionError(f"{exc} (damage in the middle of the log: {where})"
                                          ) from None
                stop = end if following is None else following
                damaged.append(DamagedRange(path, offset, stop - offset))
                offset = stop
                continue
            spans.append((offset, length))
            offset += length
        if not header_ok or any(d.path == path for d in damaged):
            data, spans = self._rewrite(seq, path, fd, data, spans, first_lsn)
            fd = os.open(path, os.O_RDWR)
        log_file = _LogFile(seq, path, fd, len(data), first_lsn)
        self._files[seq] = log_file
        if spans:
            lsns = visit(seq, data, [offset for offset, _length in spans])
            log_file.note(int(lsns.min()), int(lsns.max()), len(spans))

    def _rewrite(self, seq: int, path: str, fd: int, data: bytes, spans: list[tuple[int, int]],
                 first_lsn: int) -> tuple[bytes, list[tuple[int, int]]]:
        """Replace a damaged file by its valid records (atomically: temp, fsync, rename)."""
        if not first_lsn and spans:
            first_lsn = min(int.from_bytes(data[o + 8:o + 16], "little") for o, _ in spans)
        out = bytearray(LogHeader(self.pg_id, seq, first_lsn).pack())
        new_spans = []
        for offset, length in spans:
            new_spans.append((len(out), length))
            out += data[offset:offset + length]
        os.close(fd)
        self.disk.write_atomic(path, bytes(out))
        return bytes(out), new_spans

    # -- writing ------------------------------------------------------------------------------
    def append(self, data: bytes | bytearray | memoryview, min_lsn: int, max_lsn: int,
               count: int, first_lsn: int) -> int:
        """Write records at the end of the active file; return the position of the first byte.
        ``first_lsn`` is the lowest LSN a new file could receive (SCL + 1)."""
        active = self._active
        if active is None or active.size >= self.max_file_size:
            active = self._rotate(first_lsn)
        position = pack_pos(active.seq, active.size)
        try:
            self.disk.pwrite(active.fd, data, active.size)
        except OSError as exc:
            raise OperationalError(f"write to {active.path} at offset {active.size} failed: "
                                   f"{exc}") from exc
        active.size += len(data)
        active.note(min_lsn, max_lsn, count)
        self._dirty.add(active.seq)
        return position

    def _rotate(self, first_lsn: int) -> _LogFile:
        old = self._active
        if old is not None:
            # Only the newest file may end in a torn tail: the old one is made whole first.
            self.disk.fsync(old.fd)
            self._dirty.discard(old.seq)
        self._last_seq += 1
        seq = self._last_seq
        path = os.path.join(self.directory, log_name(seq))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        header = LogHeader(self.pg_id, seq, first_lsn).pack()
        self.disk.pwrite(fd, header, 0)
        log_file = _LogFile(seq, path, fd, len(header), first_lsn)
        self._files[seq] = log_file
        self._active = log_file
        self._dirty.add(seq)
        self._dir_dirty = True
        return log_file

    def take_sync_plan(self) -> tuple[list[int], bool]:
        """The file descriptors written since the last sync and whether the directory changed;
        the caller fsyncs them (outside the store's lock: readers need not wait for the disk)."""
        fds = [self._files[seq].fd for seq in sorted(self._dirty) if seq in self._files]
        directory = self._dir_dirty
        self._dirty.clear()
        self._dir_dirty = False
        return fds, directory

    def sync_now(self, fds: list[int], directory: bool) -> None:
        for fd in fds:
            self.disk.fsync(fd)
        if directory:
            self.disk.fsync_dir(self.directory)

    # -- reading ------------------------------------------------------------------------------
    def read_records(self, positions: list[int], lengths: list[int]) -> list[bytes]:
        """The records at ``positions`` (in the given order), each CRC-checked (Invariant 5);
        neighbouring records are fetched with one read."""
        order = sorted(range(len(positions)), key=positions.__getitem__)
        result: list[bytes] = [b""] * len(positions)
        index = 0
        while index < len(order):
            first = order[index]
            seq, start = unpack_pos(positions[first])
            stop = start + lengths[first]
            last = index + 1
            while last < len(order):
                nseq, noffset = unpack_pos(positions[order[last]])
                if nseq != seq or noffset > stop + _MERGE_GAP:
                    break
                stop = max(stop, noffset + lengths[order[last]])
                last += 1
            log_file = self._files.get(seq)
            if log_file is None:
                raise CorruptionError(f"record index points into log file {log_name(seq)}, "
                                      f"which is gone")
            span = os.pread(log_file.fd, stop - start, start)
            for item in order[index:last]:
                offset = unpack_pos(positions[item])[1] - start
                length = check_record(span, offset, log_file.path, start)
                if length != lengths[item]:
                    raise CorruptionError(f"{log_file.path} at offset {start + offset}: record "
                                          f"length {length}, index says {lengths[item]}")
                result[item] = span[offset:offset + length]
            index = last
        return result

    def read_joined(self, positions: "np.ndarray", lengths: "np.ndarray") -> bytes:
        """The records at ``positions`` laid end to end in the given order, each CRC-checked
        (Invariant 5), as ``b"".join(read_records(...))`` but with one read per run of
        neighbouring records and one kernel call to check them all."""
        import numpy as np
        positions = np.asarray(positions, dtype=np.uint64)
        lengths = np.asarray(lengths, dtype=np.int64)
        if not positions.size:
            return b""
        if not kernel_available():
            return b"".join(self.read_records(positions.tolist(), lengths.tolist()))
        order = np.argsort(positions, kind="stable")
        pos = positions[order]
        lens = lengths[order]
        seqs = (pos >> np.uint64(POS_SHIFT)).astype(np.int64)
        offs = (pos & np.uint64(POS_MASK)).astype(np.int64)
        ends = offs + lens
        # A run breaks where the file changes or the hole after the last record is too big.
        breaks = np.flatnonzero((seqs[1:] != seqs[:-1]) | (offs[1:] > ends[:-1] + _MERGE_GAP)) + 1
        firsts = np.concatenate(([0], breaks))
        lasts = np.concatenate((breaks, [pos.size]))
        run_start = offs[firsts]
        run_stop = np.maximum.reduceat(ends, firsts)
        run_base = np.concatenate(([0], np.cumsum(run_stop - run_start)[:-1]))
        whole = bytearray(int((run_stop - run_start).sum()))
        view = memoryview(whole)
        got_sizes = []
        for seq, start, stop, base in zip(seqs[firsts].tolist(), run_start.tolist(),
                                          run_stop.tolist(), run_base.tolist()):
            log_file = self._files.get(seq)
            if log_file is None:
                raise CorruptionError(f"record index points into log file {log_name(seq)}, "
                                      f"which is gone")
            got_sizes.append(os.preadv(log_file.fd, [view[base:base + stop - start]], start))
        # Where each record sits in ``whole``.
        run_of = np.repeat(np.arange(firsts.size), lasts - firsts)
        at = offs - run_start[run_of] + run_base[run_of]
        complete = all(got == stop - start for got, start, stop in zip(
            got_sizes, run_start.tolist(), run_stop.tolist()))
        if not complete or check_records_at(whole, at, lens) >= 0:
            # Damage (or a short read): read_records words the error - the file, the offset.
            return b"".join(self.read_records(positions.tolist(), lengths.tolist()))
        if np.array_equal(order, np.arange(order.size)) and int(lens.sum()) == len(whole):
            return bytes(whole)       # in file order, nothing between the records
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return gather_bytes(whole, at[inverse], lengths)

    def read_file(self, seq: int) -> bytes:
        return _read_all(self._files[seq].fd)

    def read_prefix(self, seq: int, size: int) -> bytes:
        """The first ``size`` bytes of a file (a scrub reads what was appended so far)."""
        fd = self._files[seq].fd
        parts = []
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(size - offset, 1 << 26), offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
        return b"".join(parts)

    # -- reshaping ----------------------------------------------------------------------------
    def infos(self) -> list[LogFileInfo]:
        return [self._files[seq].info() for seq in sorted(self._files)]

    @property
    def active_seq(self) -> int | None:
        return self._active.seq if self._active is not None else None

    def path_of(self, seq: int) -> str:
        return self._files[seq].path

    def remove(self, seqs: list[int]) -> None:
        """Delete whole files (garbage collection, truncation); fsync the directory once."""
        for seq in seqs:
            log_file = self._files.pop(seq)
            os.close(log_file.fd)
            self.disk.remove(log_file.path)
            self._dirty.discard(seq)
            if self._active is log_file:
                self._active = None
        if seqs:
            self.disk.fsync_dir(self.directory)

    def cut(self, seq: int, length: int) -> None:
        """Truncate one file to ``length`` bytes, durably."""
        log_file = self._files[seq]
        self.disk.truncate(log_file.fd, length)
        self.disk.fsync(log_file.fd)
        log_file.size = length

    def keep_only(self, seq: int, spans: list[tuple[int, int]]) -> None:
        """Rewrite one file with only the records at ``spans`` (atomically)."""
        log_file = self._files.pop(seq)
        data = _read_all(log_file.fd)
        self._rewrite(seq, log_file.path, log_file.fd, data, spans, log_file.first_lsn)
        if self._active is log_file:
            self._active = None
        self._dirty.discard(seq)

    def close(self) -> None:
        for log_file in self._files.values():
            os.close(log_file.fd)
        self._files.clear()
        self._active = None
        self._dirty.clear()


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    parts = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(size - offset, 1 << 26), offset)
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)
