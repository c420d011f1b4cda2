from __future__ import annotations

import os
import random

import pytest


@pytest.fixture
def rng():
    seed = int(os.environ.get("AURORA_TEST_SEED") or random.randrange(1 << 32))
    print(f"random seed {seed} (replay: AURORA_TEST_SEED={seed})")
    return random.Random(seed)
