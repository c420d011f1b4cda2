"""The cluster file's optional archive section: written, read back, checked; files without it
still load; durations on the command line."""

from __future__ import annotations

import json

import pytest

from aurora_lite.cluster import create_cluster
from aurora_lite.errors import OperationalError, ProgrammingError
from aurora_lite.membership import ArchiveSettings, create_cluster_file, load, parse_duration

ADDRESSES = [f"127.0.0.1:{7201 + i}" for i in range(6)]


def test_round_trip_with_a_relative_directory(tmp_path):
    settings = ArchiveSettings("backups/vol", retention_seconds=None, snapshot_interval=600,
                               chunk_interval=2, chunk_bytes=1 << 20)
    config = create_cluster_file(tmp_path / "cluster.json", ADDRESSES, archive=settings)
    assert config.archive.location == str(tmp_path / "backups" / "vol")
    assert load(config.path) == config
    document = json.loads((tmp_path / "cluster.json").read_text())
    assert document["archive"] == {"location": "backups/vol", "retention_seconds": None,
                                   "snapshot_interval": 600.0, "chunk_interval": 2.0,
                                   "chunk_bytes": 1 << 20}


def test_s3_location_and_defaults(tmp_path):
    config = create_cluster_file(tmp_path / "cluster.json", ADDRESSES,
                                 archive=ArchiveSettings("s3://bucket/prefix"))
    loaded = load(config.path)
    assert loaded.archive == ArchiveSettings("s3://bucket/prefix")
    assert loaded.archive.retention_seconds == 7 * 86400


def test_a_file_without_the_section_archives_nothing(tmp_path):
    config = create_cluster_file(tmp_path / "cluster.json", ADDRESSES)
    assert config.archive is None and load(config.path).archive is None
    assert "archive" not in json.loads((tmp_path / "cluster.json").read_text())


def test_the_launcher_archives_to_dir_archive_by_default(tmp_path):
    assert create_cluster(str(tmp_path / "a")).archive.location == str(
        tmp_path / "a" / "archive")
    assert create_cluster(str(tmp_path / "b"), archive=None).archive is None


@pytest.mark.parametrize("section, message", [
    ({"retention_seconds": 5}, "no location"),
    ({"location": "x", "colour": 1}, "unknown archive setting"),
    ({"location": "ftp://host/x"}, "only directories and s3://"),
    ({"location": "x", "retention_seconds": 0}, "retention must be positive"),
    ({"location": "x", "chunk_interval": 0}, "intervals must be positive"),
    ({"location": "x", "chunk_bytes": 10}, "chunk_bytes"),
])
def test_bad_sections_name_the_problem(tmp_path, section, message):
    path = tmp_path / "cluster.json"
    create_cluster_file(path, ADDRESSES)
    document = json.loads(path.read_text())
    document["archive"] = section
    path.write_text(json.dumps(document))
    with pytest.raises(OperationalError, match=f"cluster file .*{message}"):
        load(path)


def test_durations():
    assert parse_duration("90") == 90 and parse_duration("45s") == 45
    assert parse_duration("30m") == 1800 and parse_duration("12h") == 43200
    assert parse_duration("7d") == 604800 and parse_duration("2w") == 1209600
    assert parse_duration("1.5h") == 5400
    with pytest.raises(ProgrammingError, match="bad duration"):
        parse_duration("soon")
