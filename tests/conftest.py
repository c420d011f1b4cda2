"""Suite-wide settings.

SQL-level tests run on the in-process local volume: starting six segment processes for each of
hundreds of databases would dominate the suite. The default (six-segment cluster) storage path
is exercised by tests that ask for it explicitly (tests/dbapi/test_cluster_default.py, the
storage-tier tests under tests/volume, tests/quorum and tests/cluster).
"""

import os

os.environ.setdefault("AURORA_LITE_STORAGE", "local")
