"""``S3Archive``: an archive in an S3-compatible object store, through boto3 (optional extra).

Location URL: ``s3://BUCKET[/PREFIX][?endpoint_url=URL&region=NAME]``. Credentials come from
boto3's usual chain (environment, ~/.aws, instance role); ``endpoint_url`` (or boto3's own
``AWS_ENDPOINT_URL`` environment variable) points at another S3-compatible service (MinIO,
moto in the tests). A PUT is atomic in S3 (an object is visible whole or not at all), so no
temporary names are needed. boto3 is imported on first use: ``pip install aurora-lite[s3]``.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

from aurora_lite.archive._stores import ArchiveObjectMissing, ArchiveStore
from aurora_lite.errors import OperationalError


def parse_s3_url(url: str) -> tuple[str, str, dict[str, str]]:
    """``s3://bucket/prefix?opt=value`` -> (bucket, prefix ending in "/" or "", options)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise OperationalError(f"bad S3 archive location {url!r}: expected "
                               f"s3://BUCKET[/PREFIX][?endpoint_url=URL&region=NAME]")
    prefix = parts.path.strip("/")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(options) - {"endpoint_url", "region"}
    if unknown:
        raise OperationalError(f"S3 archive location {url!r}: unknown option(s) "
                               f"{', '.join(sorted(unknown))} (endpoint_url, region)")
    return parts.netloc, prefix + "/" if prefix else "", options


class S3Archive(ArchiveStore):
    def __init__(self, url: str) -> None:
        self.location = url
        self.bucket, self.prefix, options = parse_s3_url(url)
        try:
            import boto3
            import botocore.exceptions
        except ImportError:
            raise OperationalError(f"archive location {url} needs boto3: pip install "
                                   f"'aurora-lite[s3]'") from None
        self._errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
        self._client_error = botocore.exceptions.ClientError
        # A client may be shared by threads; creating one is not thread-safe (boto3 docs).
        with _CLIENT_LOCK:
            self._client = boto3.session.Session().client(
                "s3", endpoint_url=options.get("endpoint_url"),
                region_name=options.get("region"))

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _fail(self, action: str, name: str, exc: Exception) -> OperationalError:
        where = f"s3://{self.bucket}/{self._key(name)}"
        if isinstance(exc, self._client_error):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                return ArchiveObjectMissing(f"archive object {where} does not exist")
            if code == "NoSuchBucket":
                return OperationalError(f"S3 bucket {self.bucket} does not exist ({action} "
                                        f"{where})")
        return OperationalError(f"cannot {action} archive object {where}: {exc}")

    def put(self, name: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(name), Body=bytes(data))
        except self._errors as exc:
            raise self._fail("write", name, exc) from exc

    def get(self, name: str) -> bytes:
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
            return reply["Body"].read()
        except self._errors as exc:
            raise self._fail("read", name, exc) from exc

    def get_range(self, name: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self._key(name),
                                            Range=f"bytes={start}-{start + length - 1}")
            return reply["Body"].read()
        except self._errors as exc:
            if isinstance(exc, self._client_error) and exc.response.get(
                    "Error", {}).get("Code") == "InvalidRange":
                return b""           # the object is shorter than start: as a file read
            raise self._fail("read", name, exc) from exc

    def list(self, prefix: str = "") -> list[tuple[str, int]]:
        found = []
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", ()):
                    found.append((item["Key"][len(self.prefix):], int(item["Size"])))
        except self._errors as exc:
            raise self._fail("list", prefix, exc) from exc
        found.sort()
        return found

    def delete(self, name: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(name))
        except self._errors as exc:
            raise self._fail("delete", name, exc) from exc


_CLIENT_LOCK = threading.Lock()
