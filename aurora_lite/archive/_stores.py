"""Where archived objects live: a local directory (the default) or an S3-compatible store.

``ArchiveStore`` is the whole interface the archivers and restore use: put a whole object
(atomically: a reader sees all of it or none of it), get it (or a byte range of it), list
names under a prefix, delete. ``open_archive(location)`` picks the implementation: an
``s3://bucket/prefix`` URL gives ``S3Archive`` (boto3, the optional extra
``pip install aurora-lite[s3]``), anything else is a directory.

``LocalArchive`` writes each object to a temporary name in the same directory, fsyncs it,
renames it over the final name and fsyncs the directory, so a crash leaves the old object, the
new one, or a temporary file that listings ignore (names starting with ``.``) and that a later
put of the same object replaces.
"""

from __future__ import annotations

import itertools
import os
import threading

from aurora_lite.errors import OperationalError


class ArchiveObjectMissing(OperationalError):
    """The archive holds no object of that name."""


class ArchiveStore:
    """The operations on an archive; names use ``/`` as separator."""

    location: str

    def put(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def get(self, name: str) -> bytes:
        raise NotImplementedError

    def get_range(self, name: str, start: int, length: int) -> bytes:
        raise NotImplementedError

    def list(self, prefix: str = "") -> list[tuple[str, int]]:
        """(name, size) of every object whose name starts with ``prefix``, sorted by name."""
        raise NotImplementedError

    def delete(self, name: str) -> None:
        """Remove an object; an object that is already gone is fine."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalArchive(ArchiveStore):
    """An archive in a directory (created on first put)."""

    _counter = itertools.count()
    _lock = threading.Lock()

    def __init__(self, directory: str | os.PathLike, *, fsync: bool = True) -> None:
        self.directory = os.path.abspath(os.fspath(directory))
        self.location = self.directory
        self.fsync = fsync

    def _path(self, name: str) -> str:
        parts = name.split("/")
        if not name or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            raise OperationalError(f"bad archive object name {name!r}")
        return os.path.join(self.directory, *parts)

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        directory = os.path.dirname(path)
        self._make_directory(directory)
        with self._lock:
            serial = next(self._counter)
        temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}."
                                            f"{serial}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
            self._fsync_directory(directory)
        except OSError as exc:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise OperationalError(f"cannot write archive object {path}: {exc}") from exc

    def _make_directory(self, directory: str) -> None:
        if os.path.isdir(directory):
            return
        parent = os.path.dirname(directory)
        if parent != directory:
            self._make_directory(parent)
        try:
            os.mkdir(directory)
        except FileExistsError:
            return
        except OSError as exc:
            raise OperationalError(f"cannot create archive directory {directory}: {exc}"
                                   ) from exc
        self._fsync_directory(parent)

    def _fsync_directory(self, directory: str) -> None:
        if not self.fsync:
            return
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def get(self, name: str) -> bytes:
        path = self._path(name)
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise ArchiveObjectMissing(f"archive object {path} does not exist") from None
        except OSError as exc:
            raise OperationalError(f"cannot read archive object {path}: {exc}") from exc

    def get_range(self, name: str, start: int, length: int) -> bytes:
        path = self._path(name)
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except FileNotFoundError:
            raise ArchiveObjectMissing(f"archive object {path} does not exist") from None
        except OSError as exc:
            raise OperationalError(f"cannot read archive object {path}: {exc}") from exc

    def list(self, prefix: str = "") -> list[tuple[str, int]]:
        found = []
        top = self.directory
        # Only the directory the prefix names (and below) is walked.
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(top, *head.split("/")) if head else top
        for root, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            relative = os.path.relpath(root, top)
            for file_name in files:
                if file_name.startswith("."):
                    continue
                name = file_name if relative == "." else \
                    relative.replace(os.sep, "/") + "/" + file_name
                if name.startswith(prefix):
                    try:
                        size = os.stat(os.path.join(root, file_name)).st_size
                    except FileNotFoundError:
                        continue      # deleted by retention meanwhile
                    found.append((name, size))
        found.sort()
        return found

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise OperationalError(f"cannot delete archive object {path}: {exc}") from exc
        self._fsync_directory(os.path.dirname(path))


def open_archive(location: str | os.PathLike, *, fsync: bool = True) -> ArchiveStore:
    """The archive at ``location``: an ``s3://bucket/prefix`` URL or a directory."""
    location = os.fspath(location)
    if location.startswith("s3://"):
        from aurora_lite.archive._s3 import S3Archive
        return S3Archive(location)
    if "://" in location:
        raise OperationalError(f"archive location {location!r}: only directories and s3:// "
                               f"URLs are supported")
    return LocalArchive(location, fsync=fsync)
