"""Archive stores: a directory (atomic puts) and S3 through boto3 against moto's server, both
held to the same contract."""

from __future__ import annotations

import os

import pytest

from aurora_lite.archive import ArchiveObjectMissing, LocalArchive, open_archive
from aurora_lite.archive._s3 import parse_s3_url
from aurora_lite.errors import OperationalError


@pytest.fixture(params=["directory", "s3"])
def store(request, tmp_path):
    if request.param == "directory":
        return open_archive(str(tmp_path / "archive"))
    return open_archive(request.getfixturevalue("s3_url"))


def test_store_contract(store):
    assert store.list() == []
    store.put("ARCHIVE", b"descriptor")
    store.put("pg-00000001/chunk-a.alc", b"0123456789")
    store.put("pg-00000001/chunk-b.alc", b"x" * 3)
    store.put("pg-00000002/snap-a.als", b"yy")
    assert store.list() == [("ARCHIVE", 10), ("pg-00000001/chunk-a.alc", 10),
                            ("pg-00000001/chunk-b.alc", 3), ("pg-00000002/snap-a.als", 2)]
    assert [name for name, _ in store.list("pg-00000001/")] == [
        "pg-00000001/chunk-a.alc", "pg-00000001/chunk-b.alc"]
    assert store.get("pg-00000001/chunk-a.alc") == b"0123456789"
    assert store.get_range("pg-00000001/chunk-a.alc", 2, 3) == b"234"
    assert store.get_range("pg-00000001/chunk-a.alc", 8, 100) == b"89"
    store.put("pg-00000001/chunk-a.alc", b"replaced")       # a duplicate upload replaces
    assert store.get("pg-00000001/chunk-a.alc") == b"replaced"
    store.delete("pg-00000001/chunk-a.alc")
    store.delete("pg-00000001/chunk-a.alc")                 # already gone: fine
    with pytest.raises(ArchiveObjectMissing, match="chunk-a.alc does not exist"):
        store.get("pg-00000001/chunk-a.alc")
    with pytest.raises(ArchiveObjectMissing):
        store.get_range("pg-00000001/chunk-a.alc", 0, 4)


def test_directory_puts_are_atomic_and_temporaries_are_ignored(tmp_path):
    store = LocalArchive(tmp_path / "archive")
    store.put("pg-00000000/x.alc", b"abc")
    directory = tmp_path / "archive" / "pg-00000000"
    # What a crash between write and rename leaves behind is never listed.
    (directory / ".x.alc.123.0.tmp").write_bytes(b"partial")
    assert store.list() == [("pg-00000000/x.alc", 3)]
    assert sorted(os.listdir(directory)) == [".x.alc.123.0.tmp", "x.alc"]
    for bad in ("", "../x", "a//b", ".hidden", "pg/./x"):
        with pytest.raises(OperationalError, match="bad archive object name"):
            store.put(bad, b"")


def test_s3_urls():
    assert parse_s3_url("s3://bucket") == ("bucket", "", {})
    assert parse_s3_url("s3://bucket/a/b/?region=eu-west-1") == (
        "bucket", "a/b/", {"region": "eu-west-1"})
    with pytest.raises(OperationalError, match="unknown option"):
        parse_s3_url("s3://bucket/p?colour=red")
    with pytest.raises(OperationalError, match="expected s3://BUCKET"):
        parse_s3_url("s3:///nobucket")
    with pytest.raises(OperationalError, match="only directories and s3://"):
        open_archive("ftp://host/path")


def test_s3_missing_bucket_is_named(s3_endpoint):
    store = open_archive(f"s3://no-such-bucket-here/p?endpoint_url={s3_endpoint}")
    with pytest.raises(OperationalError, match="no-such-bucket-here"):
        store.put("ARCHIVE", b"x")
