"""The failover drill: a scripted game day on a local cluster (same as ``aurora-lite drill``).

    python tools/failover_drill.py [--quick] [--seed N] [--json PATH] [--keep] [--no-fsync]

See docs/operations.md, "Failover drill", for the steps and how to read the report.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aurora_lite.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["drill", *sys.argv[1:]]))
