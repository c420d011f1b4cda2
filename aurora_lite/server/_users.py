"""The users allowed to connect: a text file of SCRAM-SHA-256 verifiers in the data directory.

File ``<DIR>/users.scram`` (docs/protocols/auth.md, "Verifier file"):

    # aurora_lite users v1
    <name> SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>

One user per line; ``#`` lines and blank lines are ignored. Names are 1-63 characters without
blanks, control characters or a leading ``#``. Passwords are never stored, only verifiers
(docs/protocols/auth.md, Invariant 1). The file is replaced atomically (write a temporary
file, fsync, rename) with mode 0600, and the server re-reads it when its modification time
changes, so ``aurora-lite user add`` takes effect on a running server.
"""

from __future__ import annotations

import os
import threading

from aurora_lite.dbapi._pg import Verifier

USERS_FILE = "users.scram"
HEADER = "# aurora_lite users v1"
MAX_NAME = 63


def users_path(directory: str | os.PathLike) -> str:
    return os.path.join(os.fspath(directory), USERS_FILE)


def check_name(name: str) -> None:
    """ValueError unless ``name`` may be a user name."""
    if not 1 <= len(name) <= MAX_NAME:
        raise ValueError(f"a user name has 1 to {MAX_NAME} characters")
    if name.startswith("#") or any(char.isspace() or ord(char) < 32 or ord(char) == 127
                                   for char in name):
        raise ValueError("a user name may not contain blanks or control characters, nor "
                         "start with '#'")


def parse(text: str, path: str = USERS_FILE) -> dict[str, Verifier]:
    users: dict[str, Verifier] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, verifier = line.partition(" ")
        try:
            check_name(name)
            users[name] = Verifier.parse(verifier)
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
    return users


def load(directory: str | os.PathLike) -> dict[str, Verifier]:
    """The users of ``directory`` (empty when the file does not exist)."""
    path = users_path(directory)
    try:
        with open(path, encoding="utf-8") as source:
            return parse(source.read(), path)
    except FileNotFoundError:
        return {}


def save(directory: str | os.PathLike, users: dict[str, Verifier]) -> None:
    path = users_path(directory)
    temporary = f"{path}.tmp{os.getpid()}"
    lines = [HEADER] + [f"{name} {users[name].to_text()}" for name in sorted(users)]
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:
        directory_fd = os.open(os.fspath(directory), os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
    except OSError:
        pass


def add_user(directory: str | os.PathLike, name: str, password: str, *,
             replace: bool = False, iterations: int = 4096) -> bool:
    """Store a fresh verifier (new random salt) for ``name``; True if it replaced one."""
    check_name(name)
    if not password:
        raise ValueError("the password is empty")
    os.makedirs(os.fspath(directory), exist_ok=True)
    users = load(directory)
    existed = name in users
    if existed and not replace:
        raise ValueError(f'user "{name}" already exists (use --replace to set a new '
                         "password)")
    users[name] = Verifier.from_password(password, iterations=iterations)
    save(directory, users)
    return existed


def remove_user(directory: str | os.PathLike, name: str) -> None:
    users = load(directory)
    if name not in users:
        raise ValueError(f'user "{name}" does not exist')
    del users[name]
    save(directory, users)


class UserStore:
    """The server's view of the file, re-read when it changes (checked at each login)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = os.fspath(directory)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, Verifier] = {}

    def _refresh(self) -> None:
        try:
            status = os.stat(users_path(self.directory))
            stamp = (status.st_mtime_ns, status.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._users = load(self.directory) if stamp else {}
            self._stamp = stamp

    def lookup(self, name: str) -> Verifier | None:
        with self._lock:
            self._refresh()
            return self._users.get(name)

    def count(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._users)
