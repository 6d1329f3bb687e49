"""Full scale and the level floor: what a clipped sample is, and the lowest level reported.

This module owns the definitions both the one-pass file analysis
(:mod:`~audiosoup_widgets.audio.analysis`) and the quality measures
(:mod:`~audiosoup_widgets.audio.quality`) rely on, so the ``clipped`` flag and the
clipping ratio agree: :func:`clip_threshold` (full scale per sample encoding),
:data:`CLIP_RUN` and :data:`RMS_FLOOR_DB`. It sits below both so neither imports the
other for them.
"""

from __future__ import annotations

__all__ = ["CLIP_RUN", "RMS_FLOOR_DB", "clip_threshold"]

#: The lowest RMS level reported (dBFS): digital silence has no logarithm.
RMS_FLOOR_DB = -120.0
#: Samples in a row at full scale that count as clipping: three cannot come from a
#: band-limited signal that fits the range; one or two can (a loud sine touching its peak).
CLIP_RUN = 3
_INT_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def clip_threshold(subtype: str | None) -> float:
    """Return the level a sample must reach to count as full scale for ``subtype``.

    ``subtype`` is libsndfile's sample encoding (``"PCM_16"``, ``"FLOAT"``, ...); an
    integer encoding reaches its largest positive code, anything else (float, lossy,
    unknown, ``None``) reaches 0.999.
    """
    bits = _INT_BITS.get(subtype or "")
    if bits is None:
        # Float and lossy files have no top code; lossy decoders also overshoot.
        return 0.999
    # The largest positive code, e.g. 32767/32768 for 16 bits (127/128 for 8).
    return float((2 ** (bits - 1) - 1) / 2 ** (bits - 1) - 1e-7)
