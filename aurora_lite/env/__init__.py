"""Environment seams: the operating-system calls whose failure or timing tests need to control.

Public surface: ``Disk`` (positional writes, fsync of files and directories, atomic replacement
of small files). Code that must be durable goes through a ``Disk`` so that a test can count
fsyncs, turn them off for speed, or make a write or an fsync fail at a chosen point (a crash).
"""

from aurora_lite.env._disk import Disk

__all__ = ["Disk"]
