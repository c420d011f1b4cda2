"""The node control file NODE: golden bytes (docs/formats/cluster.md) and damage detection."""

from __future__ import annotations

import pytest

from aurora_lite.errors import CorruptionError
from aurora_lite.segment import NodeControl

GOLDEN = bytes.fromhex(
    "414c4e44 0100 4000 03000000 00000000 3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b"
    "0500000000000000 0400000000000000 9210000000000000 00000000 f3221532".replace(" ", ""))
CONTROL = NodeControl(3, bytes.fromhex("3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b"), epoch=5,
                      truncation_epoch=4, truncation_lsn=4242)


def test_golden_bytes():
    assert CONTROL.pack() == GOLDEN
    assert NodeControl.unpack(GOLDEN, "NODE") == CONTROL


@pytest.mark.parametrize("offset", [0, 8, 32, 50, 61])
def test_damage_is_detected(offset):
    damaged = bytearray(GOLDEN)
    damaged[offset] ^= 0x10
    with pytest.raises(CorruptionError, match="NODE"):
        NodeControl.unpack(bytes(damaged), "NODE")
    with pytest.raises(CorruptionError, match="64"):
        NodeControl.unpack(GOLDEN[:40], "NODE")
