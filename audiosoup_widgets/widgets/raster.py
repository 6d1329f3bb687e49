"""Points drawn into a picture: the similarity map's raster.

A map of 100,000 clips is sent to the browser as one palette PNG of the plot area
(tens of kilobytes) instead of 100,000 points for the browser to draw: the first draw
then costs the same on a laptop without a graphics card, in a headless browser or on
a slow link as anywhere else. Everything the pointer does (hover, click, lasso, box)
is decided in Python from the points' coordinates, so nothing is lost by not sending
them. Pure numpy; the PNG is encoded by Pillow (:func:`~.plots.png_indexed`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["splat", "disc_offsets", "blend"]


@lru_cache(maxsize=32)
def disc_offsets(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets ``(dx, dy)`` covered by a disc of ``radius`` pixels centred on a pixel.

    A radius under 1 still covers its own pixel, so no point is ever invisible.
    """
    r = max(float(radius), 0.5)
    k = int(np.ceil(r))
    dy, dx = np.mgrid[-k : k + 1, -k : k + 1]
    inside = dx * dx + dy * dy <= r * r + 0.25
    return dx[inside].astype(np.int64), dy[inside].astype(np.int64)


def splat(
    px: np.ndarray,
    py: np.ndarray,
    values: np.ndarray,
    *,
    width: int,
    height: int,
    radius: float,
    background: int = 0,
) -> np.ndarray:
    """Draw discs into an 8-bit index picture; a later point covers an earlier one.

    Parameters
    ----------
    px, py : np.ndarray
        Centres in pixels, ``py`` from the top row; points partly or wholly outside the
        picture are clipped.
    values : np.ndarray of int
        The palette index each point is drawn with (0..255).
    width, height : int
        The picture's size in pixels.
    radius : float
        Disc radius in pixels.
    background : int
        The index of pixels no point covers.

    Returns
    -------
    np.ndarray, shape (height, width), uint8
    """
    picture = np.full(height * width, background, dtype=np.uint8)
    n = len(px)
    if n == 0 or width <= 0 or height <= 0:
        return picture.reshape(max(height, 0), max(width, 0))
    ix = np.rint(np.asarray(px, dtype=np.float64))
    iy = np.rint(np.asarray(py, dtype=np.float64))
    finite = np.isfinite(ix) & np.isfinite(iy)
    # Far-off points (a zoomed view) would overflow the int cast: keep only those near the picture.
    k = int(np.ceil(radius)) + 1
    near = finite & (ix > -k) & (ix < width + k) & (iy > -k) & (iy < height + k)
    order = np.flatnonzero(near)
    if not len(order):
        return picture.reshape(height, width)
    cx, cy = ix[order].astype(np.int64), iy[order].astype(np.int64)
    dx, dy = disc_offsets(radius)
    xs = (cx[:, None] + dx[None, :]).ravel()
    ys = (cy[:, None] + dy[None, :]).ravel()
    rank = np.repeat(order, len(dx))
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    flat = ys[inside] * width + xs[inside]
    # The last point drawn wins each pixel: the highest rank, decided explicitly rather than
    # by the (unspecified) order of a fancy-index assignment.
    winner = np.full(height * width, -1, dtype=np.int64)
    np.maximum.at(winner, flat, rank[inside])
    hit = winner >= 0
    picture[hit] = np.asarray(values, dtype=np.uint8)[winner[hit]]
    return picture.reshape(height, width)


RGB = tuple[int, int, int]


def blend(colour: str, opacity: float, *, over: RGB = (255, 255, 255)) -> RGB:
    """Return the RGB of ``colour`` (``"#rrggbb"``) at ``opacity`` over the colour ``over``."""
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    r, g, b = (opacity * c + (1.0 - opacity) * o for c, o in zip(channels, over, strict=True))
    return int(round(r)), int(round(g)), int(round(b))
