"""``python -m aurora_lite``: the same command line as the ``aurora-lite`` console script."""

import sys

from aurora_lite.cli import main

sys.exit(main())
