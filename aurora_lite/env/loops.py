"""Calling into a trio event loop that runs on another thread, from any thread.

The writer's volume client and a replica each run their storage I/O on a trio loop of their
own thread; the engine calls into it to read a page. ``trio.from_thread.run`` does that from a
plain thread, but refuses when the caller is itself inside a trio run - which happens when the
wire server runs a cheap read statement on its event loop (aurora_lite.server._costs) and that
statement misses the buffer pool. ``run_on_loop`` then hands the call to the target loop as a
system task and waits for it on a threading.Event: the caller's loop is blocked for one page
read, as the inline statement's own CPU time blocks it (and the server's cost model sends a
statement that was slow once back to a worker thread).
"""

from __future__ import annotations

import threading
from typing import Any, Awaitable, Callable

import trio


def _inside_a_trio_run() -> bool:
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


def run_on_loop(token: trio.lowlevel.TrioToken, async_fn: Callable[..., Awaitable[Any]],
                *args: Any) -> Any:
    """``await async_fn(*args)`` on the loop of ``token``; its result or its exception.
    Raises trio.RunFinishedError when that loop has ended."""
    if not _inside_a_trio_run():
        return trio.from_thread.run(async_fn, *args, trio_token=token)
    if trio.lowlevel.current_trio_token() is token:
        raise RuntimeError("run_on_loop called on the target loop itself (it would wait for "
                           "itself)")
    done = threading.Event()
    outcome: dict[str, Any] = {}

    async def call() -> None:
        try:
            outcome["value"] = await async_fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    token.run_sync_soon(trio.lowlevel.spawn_system_task, call)
    done.wait()
    error = outcome.get("error")
    if isinstance(error, trio.Cancelled):
        raise trio.RunFinishedError("the event loop ended during the call")
    if error is not None:
        raise error
    return outcome["value"]
