"""Fixtures for the archive tests: an S3-compatible endpoint (moto's server on a free loopback
port, in this process), skipped with the reason when moto is not installed."""

from __future__ import annotations

import os
import socket
import uuid

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """``http://127.0.0.1:PORT`` of a moto S3 server, with dummy credentials in the
    environment (node processes started by the tests inherit them)."""
    pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'aurora-lite[s3]')")
    server_module = pytest.importorskip(
        "moto.server", reason="moto is not installed (pip install 'moto[server]'): the S3 "
                              "archive is tested against moto's S3 server")
    saved = {key: os.environ.get(key) for key in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_url(s3_endpoint):
    """A fresh bucket on the moto server, as an archive location URL."""
    import boto3
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/volume-1?endpoint_url={s3_endpoint}"
