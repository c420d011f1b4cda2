"""The failover drill (``aurora-lite drill``, tools/failover_drill.py; docs/operations.md).

Public surface (imported on first use, so that building the command line stays cheap):
  Drill(Settings(...)).run() -> Report     run the drill; Report.verdict is "PASS" or "FAIL"
  Settings.for_mode(seed, quick, ...)      the drill's parameters (quick: CI-sized)
  Checker, Transfer, Violation             the invariant checker (client outcomes, S1-S3 on
                                           every read, whole-state checks B1 / lost / phantom)
  configure, run                           the command line (aurora_lite.cli)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Drill": "_drill", "Settings": "_drill", "Checker": "_checker", "Transfer": "_checker",
    "Violation": "_checker", "Report": "_report", "StepResult": "_report",
    "configure": "_cli", "run": "_cli",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
