"""What the ``aurora-lite serve`` and ``aurora-lite user`` commands do (their options are
parsed in aurora_lite.cli, which imports this module only to run them).

    aurora-lite serve DIR [--listen 127.0.0.1:5433] [--auth scram|trust] [limits...]
                          [--tls-cert FILE --tls-key FILE [--tls-required]]
                          [--replication-listen HOST:PORT | --no-replication]
    aurora-lite user add NAME DIR [--replace]     (password from the terminal, or stdin)
    aurora-lite user remove NAME DIR
    aurora-lite user list DIR

``serve`` prints ``listening on HOST:PORT`` on stdout once it accepts connections (with
``--listen HOST:0`` that is how a script learns the port) and stops on SIGINT / SIGTERM.
On a cluster directory it also serves the redo stream to read replicas (aurora_lite.replica;
``--replication-listen``, default 127.0.0.1 on a free port), prints ``replication on
HOST:PORT`` and records both addresses in DIR/writer.json; ``SHOW replicas`` and ``SHOW
cluster_status`` (aurora_lite.server._backend) report that endpoint's replicas and the storage.

With ``--tls-cert`` and ``--tls-key`` (both or neither) clients may encrypt their connection
(an SSLRequest is answered 'S'); ``--tls-required`` refuses those that do not. The files are
loaded before the data directory is opened: one that cannot be used stops ``serve`` with a
message naming it and exit status 1, and nothing has started.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import os
import signal
import sys

from aurora_lite.server._config import ServerConfig

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def network_note(host: str, *, tls: bool, tls_required: bool) -> str | None:
    """The start-up note for a listen address other machines can reach."""
    if _is_loopback(host) or tls_required:
        return None
    if not tls:
        return (f"listening on {host}, not a loopback address; there is no TLS (--tls-cert, "
                "--tls-key), so queries and results cross the network in the clear "
                "(passwords never do)")
    return (f"listening on {host}, not a loopback address; TLS is offered but not required "
            "(--tls-required), so a client that does not ask for it (sslmode=disable) sends "
            "queries and results in the clear (passwords never cross the network)")


def run_serve(args: argparse.Namespace) -> int:
    import trio

    from aurora_lite.errors import Error
    from aurora_lite.server._backend import EngineBackend
    from aurora_lite.server._server import Server
    from aurora_lite.server._users import UserStore, users_path

    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format="aurora-lite serve: %(levelname)s: %(message)s")
    host, port = args.listen
    tls_cert = getattr(args, "tls_cert", None)
    tls_key = getattr(args, "tls_key", None)
    tls_required = getattr(args, "tls_required", False)
    if (tls_cert is None) != (tls_key is None):
        print(f"aurora-lite serve: {'--tls-cert' if tls_cert else '--tls-key'} needs "
              f"{'--tls-key' if tls_cert else '--tls-cert'} too (TLS needs both the "
              "certificate and its private key)", file=sys.stderr)
        return EXIT_USAGE
    if tls_required and tls_cert is None:
        print("aurora-lite serve: --tls-required needs --tls-cert and --tls-key",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        config = ServerConfig(host=host, port=port, auth=args.auth,
                              max_connections=args.max_connections,
                              worker_threads=args.workers,
                              max_message_length=args.max_message_bytes,
                              statement_timeout=args.statement_timeout,
                              idle_session_timeout=args.idle_session_timeout,
                              idle_in_transaction_timeout=args.idle_in_transaction_timeout,
                              tls_cert=tls_cert, tls_key=tls_key, tls_required=tls_required)
    except ValueError as error:
        print(f"aurora-lite serve: {error}", file=sys.stderr)
        return EXIT_ERROR
    ssl_context = None
    if tls_cert is not None:
        from aurora_lite.server._tls import TLSConfigError, key_file_warning, server_context
        try:
            ssl_context = server_context(tls_cert, tls_key)
        except TLSConfigError as error:
            print(f"aurora-lite serve: {error}", file=sys.stderr)
            return EXIT_ERROR
    directory = args.directory
    users = UserStore(directory)
    notes = []
    if config.auth == "scram":
        try:
            count = users.count()
        except ValueError as error:
            print(f"aurora-lite serve: {error}", file=sys.stderr)
            return EXIT_ERROR
        if count == 0:
            notes.append(f"no users in {users_path(directory)}: nobody can log in until you "
                         f"add one with\n    aurora-lite user add NAME {directory}\n(the "
                         "server picks it up without a restart)")
    else:
        notes.append("--auth trust: anyone who can reach this address may connect as any "
                     "user, without a password")
    if ssl_context is not None:
        warning = key_file_warning(tls_key)
        if warning:
            notes.append(warning)
    note = network_note(host, tls=ssl_context is not None, tls_required=tls_required)
    if note:
        notes.append(note)
    try:
        backend = EngineBackend(directory, fsync=not args.no_fsync)
    except Error as error:
        print(f"aurora-lite serve: cannot open {directory}: {error}", file=sys.stderr)
        return EXIT_ERROR
    server = Server(backend, config, users, ssl_context=ssl_context)
    publishers = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            try:
                bound = await nursery.start(server.serve)
            except OSError as error:
                print(f"aurora-lite serve: cannot listen on {host}:{port}: {error}",
                      file=sys.stderr)
                raise SystemExit(EXIT_ERROR) from None
            for note in notes:
                if not args.quiet:
                    print(f"aurora-lite serve: {note}", file=sys.stderr)
            replication = getattr(args, "replication_listen", None)
            backend.sql_address = f"{host}:{bound}"
            if backend.on_cluster and replication is not None:
                publishers.append(await trio.to_thread.run_sync(
                    _start_replication, backend, replication, f"{host}:{bound}"))
                backend.publisher = publishers[0]       # for SHOW replicas / cluster_status
                print(f"replication on {publishers[0].address}", flush=True)
            print(f"listening on {host}:{bound}", flush=True)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    server.stop()
                    break

    try:
        trio.run(main)
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    finally:
        for publisher in publishers:
            publisher.stop()
        backend.close()
    return EXIT_OK


def _start_replication(backend, listen: tuple[str, int], sql_address: str):
    """The writer's replication endpoint, recorded in DIR/writer.json with the command that
    starts this writer again (``aurora-lite failover DIR`` without a replica uses it)."""
    from aurora_lite.replica import start_publisher
    host, port = listen
    argv = [sys.executable, "-m", "aurora_lite", *sys.argv[1:]]
    return start_publisher(backend.database, host, port, directory=backend.directory,
                           sql_address=sql_address, argv=argv)


# -- users ---------------------------------------------------------------------------------------
def _read_password(name: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        second = getpass.getpass("again: ")
        if first != second:
            raise ValueError("the passwords differ")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def run_user(args: argparse.Namespace) -> int:
    from aurora_lite.server import _users

    try:
        if args.user_action == "add":
            _users.check_name(args.name)
            password = _read_password(args.name)
            replaced = _users.add_user(args.directory, args.name, password,
                                       replace=args.replace)
            print(f"{'updated' if replaced else 'added'} user {args.name} in "
                  f"{_users.users_path(args.directory)}")
        elif args.user_action == "remove":
            _users.remove_user(args.directory, args.name)
            print(f"removed user {args.name}")
        else:
            if not os.path.isdir(args.directory):
                raise ValueError(f"{args.directory} is not a directory")
            for name in sorted(_users.load(args.directory)):
                print(name)
    except (ValueError, OSError, EOFError) as error:
        print(f"aurora-lite user: {error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
