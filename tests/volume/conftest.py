"""Volume implementations under test: the contract tests run once per entry of IMPLEMENTATIONS.

Each factory takes a directory and keyword options and returns an unopened Volume; a factory
may carry a ``cleanup(directory)`` attribute, called after the test's volumes are closed.
"cluster" is the quorum client (ClusterVolume) against six storage nodes served in this process
over loopback TCP (tests/volume/_servers.py); the fault tests use real processes.
"""

from __future__ import annotations

import os
import random

import pytest

from aurora_lite.volume import ClusterVolume, LocalVolume


def _local(directory, **options):
    options.setdefault("fsync", False)
    return LocalVolume(directory, **options)


_CLUSTERS: dict[str, object] = {}
# LocalVolume options that are the storage nodes' business on a cluster.
_NODE_OPTIONS = ("fsync", "materialize_records", "max_file_size", "journal_pages", "retain",
                 "disk")


def _cluster(directory, **options):
    from tests.volume._servers import ThreadedCluster
    key = str(directory)
    node_options = {name: options.pop(name) for name in _NODE_OPTIONS if name in options}
    cluster = _CLUSTERS.get(key)
    if cluster is None:
        cluster = _CLUSTERS[key] = ThreadedCluster(directory,
                                                   fsync=node_options.get("fsync", False))
    options.setdefault("open_timeout", 20.0)
    return ClusterVolume(cluster.path, **options)


def _cluster_cleanup(directory) -> None:
    cluster = _CLUSTERS.pop(str(directory), None)
    if cluster is not None:
        cluster.close()


_cluster.cleanup = _cluster_cleanup

IMPLEMENTATIONS = {"local": _local, "cluster": _cluster}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def make_volume(request, tmp_path):
    """make_volume(**options) -> unopened Volume on tmp_path/volume; closes what it made."""
    made = []
    factory = IMPLEMENTATIONS[request.param]

    def make(**options):
        volume = factory(tmp_path / "volume", **options)
        made.append(volume)
        return volume

    yield make
    try:
        for volume in made:
            volume.close()
    finally:
        cleanup = getattr(factory, "cleanup", None)
        if cleanup is not None:
            cleanup(tmp_path / "volume")


@pytest.fixture
def rng(request):
    seed = int(os.environ.get("AURORA_TEST_SEED") or random.randrange(1 << 32))
    print(f"random seed {seed} (replay: AURORA_TEST_SEED={seed})")
    return random.Random(seed)
