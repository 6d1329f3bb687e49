"""The map's raster: discs where the points are, the last drawn on top, nothing outside."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from audiosoup_widgets.widgets.plots import png_indexed
from audiosoup_widgets.widgets.raster import blend, disc_offsets, splat


def test_a_point_is_a_disc_of_its_radius_around_its_pixel():
    picture = splat(np.array([5.0]), np.array([4.0]), np.array([7]), width=11, height=9, radius=2.0)
    rows, cols = np.nonzero(picture)
    # By hand: the pixels within 2 px of (row 4, col 5), 13 of them (a 5x5 square less its corners
    # and the 8 pixels at distance sqrt(5) > 2).
    want = {(4 + dy, 5 + dx) for dy in range(-2, 3) for dx in range(-2, 3) if dx * dx + dy * dy <= 4}
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == want and len(want) == 13
    assert set(picture[rows, cols].tolist()) == {7} and picture.dtype == np.uint8


def test_a_tiny_radius_still_covers_the_points_own_pixel():
    dx, dy = disc_offsets(0.1)
    assert dx.tolist() == [0] and dy.tolist() == [0]


def test_the_last_point_drawn_wins_a_shared_pixel():
    px, py = np.array([3.0, 3.2, 9.0]), np.array([3.0, 2.9, 9.0])
    picture = splat(px, py, np.array([1, 2, 3]), width=12, height=12, radius=1.0)
    assert picture[3, 3] == 2 and picture[9, 9] == 3
    flipped = splat(px[[1, 0, 2]], py[[1, 0, 2]], np.array([2, 1, 3]), width=12, height=12, radius=1.0)
    assert flipped[3, 3] == 1


def test_points_off_the_picture_are_clipped_and_far_ones_ignored():
    px = np.array([-1.0, 10.0, 1e12, np.nan, -1e300])
    py = np.array([2.0, 10.0, 3.0, 1.0, 4.0])
    picture = splat(px, py, np.array([1, 2, 3, 4, 5]), width=10, height=10, radius=1.5)
    assert picture.shape == (10, 10)
    assert picture[2, 0] == 1  # the part of the first disc that is inside
    assert picture[9, 9] == 2  # the corner of a disc centred just off the bottom right
    assert not np.isin(picture, [3, 4, 5]).any()


def test_no_points_is_an_empty_picture():
    picture = splat(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), width=4, height=3, radius=2)
    assert picture.shape == (3, 4) and not picture.any()


def test_blend_is_the_colour_at_an_opacity_over_white():
    assert blend("#0072b2", 1.0) == (0, 114, 178)
    assert blend("#0072b2", 0.0) == (255, 255, 255)
    # 0.25 * 114 + 0.75 * 255 = 219.75 -> 220
    assert blend("#0072b2", 0.25) == (191, 220, 236)


def test_the_background_index_is_transparent_in_the_png():
    index = np.array([[0, 1], [1, 0]], np.uint8)
    png = png_indexed(index, np.array([[255, 255, 255], [0, 114, 178]], np.uint8), transparent=0)
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert rgba[0, 0, 3] == 0 and rgba[1, 1, 3] == 0
    assert rgba[0, 1].tolist() == [0, 114, 178, 255]
