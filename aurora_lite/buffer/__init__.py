"""Buffer: the bounded pool of page frames and the page versions readers need.

Public surface: ``BufferPool``, ``Frame``, ``Image``, ``image_lsn``.
"""

from aurora_lite.buffer._pool import BufferPool, Frame, Image, image_lsn

__all__ = ["BufferPool", "Frame", "Image", "image_lsn"]
