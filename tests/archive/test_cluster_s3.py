"""A storage cluster archiving to an S3-compatible store (moto's server on loopback): the nodes
(their own processes, credentials from the environment) upload through boto3, and a restore
from the S3 URL gives the oracle's state. Skipped when moto or boto3 is not installed."""

from __future__ import annotations

import os

import pytest

import aurora_lite
from aurora_lite.cluster import ensure_cluster

from tests.archive._workload import Workload
from tests.archive.test_cluster_archive import (
    NODE_ARGS, PG_SIZE, SEED, restored, settings, stop_all, verify, wait_archived,
)

pytestmark = pytest.mark.timeout(300)


def test_a_cluster_archiving_to_s3(tmp_path, s3_url):
    directory = str(tmp_path / "s3-cluster")
    handle = ensure_cluster(directory, pg_size=PG_SIZE, node_args=NODE_ARGS,
                            archive=settings(s3_url))
    connection = None
    try:
        connection = aurora_lite.connect(directory, storage="cluster")
        workload = Workload(connection, SEED + 3)
        workload.setup()
        workload.run(10)
        wait_archived(s3_url, workload.commits[-1].lsn, handle)
        assert not os.path.exists(os.path.join(directory, "archive"))
        middle = workload.commits[len(workload.commits) // 2]
        verify(*restored(s3_url, tmp_path, to_lsn=middle.lsn), middle)
    finally:
        if connection is not None:
            connection.close()
        stop_all(handle)
