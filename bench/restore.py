"""Benchmark: point-in-time restore, archived redo replayed per second (numba vs reference).

Builds an archive of one protection group from the B-tree-like redo stream of
bench/materializer.py (MiniTransaction: leaves splitting as they fill, inserts, deletes,
replaces, a COMMIT every 10-60 row changes): 16 MB chunks in the archive format
(aurora_lite.archive: LZ4, CRC32C, index sections) in a temporary directory. Then, in turns:

* ``replay (reference)``: plan + read + check + decompress every chunk and apply it with the
  pure-Python reference applier (``replay_pg(reference=True)``), the peer;
* ``replay (numba)``: the same with the numba materializer (``apply_to_array``), restore's
  path;
* ``restore (numba, whole)``: ``aurora-lite restore`` end to end - plan, replay, the pages
  written into a new local volume (double-write journal, slots), the control file, a scrub that
  reads every page back - without fsync.

The figure is uncompressed redo bytes replayed per second (wall and CPU time, medians). Every
result is checked: both replays give the pages the writer built. Run:
``.venv/bin/python bench/restore.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402
import materializer  # noqa: E402

from aurora_lite.archive import (  # noqa: E402
    DESCRIPTOR, Catalog, Descriptor, LocalArchive, chunk_name, encode_chunk, plan_restore,
    replay_pg,
)
from aurora_lite.cluster._restore import restore  # noqa: E402
from aurora_lite.page import page_lsn  # noqa: E402
from aurora_lite.redo import RECORD_HEADER, materialize, record_offsets  # noqa: E402

CHUNK_BYTES = 16 << 20
PG_SIZE = 1 << 20
SEED = 20240917


def build_archive(stream: bytes, directory: str) -> tuple[LocalArchive, int, float]:
    """Cut ``stream`` into chunks at record boundaries; return the archive, the chunk count and
    the compression ratio."""
    archive = LocalArchive(directory, fsync=False)
    archive.put(DESCRIPTOR, Descriptor("0" * 32, PG_SIZE).encode())
    start_lsn, begin, count, stored = 0, 0, 0, 0
    offsets = record_offsets(stream) + [len(stream)]
    cut = begin
    for index, offset in enumerate(offsets):
        if offset - begin >= CHUNK_BYTES or index == len(offsets) - 1:
            cut = offset
            last = RECORD_HEADER.unpack_from(stream, offsets[index - 1])[2]
            data = encode_chunk(0, start_lsn, last, stream[begin:cut])
            archive.put(chunk_name(0, start_lsn, last), data)
            stored += len(data)
            count += 1
            start_lsn, begin = last, cut
    return archive, count, len(stream) / stored


def main() -> None:
    args = _harness.parser(__doc__.splitlines()[0], repeats=3).parse_args()
    records = 100_000 if args.quick else 1_000_000
    rounds = _harness.repeats_of(args)
    print(f"generating ~{records:,} records (seed {SEED}) ...", flush=True)
    writer = materializer.generate(records, SEED)
    stream = bytes(writer.stream)
    workdir = tempfile.mkdtemp(prefix="bench-restore-")
    try:
        started = time.perf_counter()
        archive, chunks, ratio = build_archive(stream, os.path.join(workdir, "archive"))
        print(f"  {writer.records:,} records, {len(stream) / 1e6:.1f} MB of redo in {chunks} "
              f"chunks (LZ4 {ratio:.2f}x), {len(writer.pages):,} pages; archived in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        materialize.warm_up()
        catalog = Catalog(archive).refresh()
        plan = plan_restore(catalog, to_lsn=writer.allocator.lsn)
        target = plan.lsn
        raw = plan.raw_bytes
        expected = {page_id: bytes(page) for page_id, page in writer.pages.items()}
        results: dict[str, dict] = {}

        def replay(reference: bool) -> None:
            plan_now = plan_restore(Catalog(archive).refresh(), to_lsn=target)
            ids, pages = replay_pg(archive, plan_now.pgs[0], target, reference=reference)
            results["reference" if reference else "numba"] = {
                int(page_id): bytes(pages[row]) for row, page_id in enumerate(ids.tolist())
                if page_lsn(pages[row]) > 0}

        counter = iter(range(1 << 30))

        def whole() -> None:
            directory = os.path.join(workdir, f"restored-{next(counter)}")
            result = restore(archive.location, directory, to_lsn=target, fsync=False)
            assert result.lsn == target
            shutil.rmtree(directory)

        times = _harness.interleaved_times([
            ("replay (reference)", lambda: replay(True), None, 1),
            ("replay (numba)", lambda: replay(False), None, 3),
            ("restore (numba, whole)", whole, None, 1),
        ], rounds)
        for name, pages in results.items():
            assert pages == expected, f"{name} replay built different pages"
        rows = []
        for name, (wall, cpu) in times.items():
            rows.append(_harness.Row(
                name=name, seconds=_harness.statistics.median(wall), units=raw,
                nbytes=raw, times=wall, cpu_seconds=_harness.statistics.median(cpu),
                cpu_times=cpu))
        _harness.print_table(f"restore of lsn {target}: {raw / 1e6:.1f} MB of archived redo "
                             f"({writer.records:,} records), medians of {rounds} rounds",
                             rows, "replay (reference)", unit="bytes")
        for row in rows:
            print(f"  {row.name:<26} {row.mb_per_second:8.1f} MB/s wall, "
                  f"{raw / row.cpu_seconds / 1e6:8.1f} MB/s CPU")
        print("checked: both replays built exactly the writer's pages")
        if args.json:
            _harness.write_json(args.json, "restore", rows, "replay (reference)", {
                "records": writer.records, "redo_bytes": raw, "chunks": chunks,
                "chunk_bytes": CHUNK_BYTES, "lz4_ratio": ratio, "pages": len(expected),
                "seed": SEED, "rounds": rounds, "quick": args.quick})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
