"""Environment seams: the operating-system calls whose failure or timing tests need to control.

Public surface: ``Disk`` (positional writes, fsync of files and directories, atomic replacement
of small files). Code that must be durable goes through a ``Disk`` so that a test can count
fsyncs, turn them off for speed, or make a write or an fsync fail at a chosen point (a crash).
``aurora_lite.env.loops.run_on_loop`` (imported on its own: it loads trio) calls into a trio
event loop on another thread from any thread, including another loop's.
"""

from aurora_lite.env._disk import Disk

__all__ = ["Disk"]
