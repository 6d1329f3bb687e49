"""The viewer side of features: decibels, axes, pooling, colours and the PNG, on known inputs."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from audiosoup_widgets.features import FeatureParams, compute_features
from audiosoup_widgets.features.display import (
    CMAPS,
    MAX_COLUMNS,
    colour_bar,
    colour_lut,
    palette,
    prepare,
)
from audiosoup_widgets.features.registry import FEATURES
from audiosoup_widgets.widgets.plots import FeaturePlot, png_indexed

SR = 16000


@pytest.fixture(scope="module")
def values():
    t = np.arange(SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 440 * t) * np.hanning(SR)).astype(np.float32)
    return compute_features(y, SR)


def _decode_png(data: bytes) -> tuple[int, int, np.ndarray, np.ndarray]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks[tag] = chunks.get(tag, b"") + body  # the image data may span IDAT chunks
        pos += 12 + n
    w, h, depth, kind = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, kind) == (8, 3)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, w + 1)
    assert (raw[:, 0] == 0).all()
    return w, h, raw[:, 1:], np.frombuffer(chunks[b"PLTE"], np.uint8).reshape(-1, 3)


def test_png_round_trips_indices_and_palette():
    idx = (np.arange(12 * 7) % 256).astype(np.uint8).reshape(7, 12)
    w, h, back, pal = _decode_png(png_indexed(idx, palette("magma")))
    assert (w, h) == (12, 7) and (back == idx).all() and pal.shape == (256, 3)
    assert (pal == palette("magma")).all()


@pytest.mark.parametrize("shape", [(1, 1), (256, MAX_COLUMNS), (3, 1000)])
def test_png_pixels_are_the_palette_colours_of_the_indices(shape):
    # As large as a drawn picture gets: the data spans several IDAT chunks.
    idx = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    data = png_indexed(idx, palette("viridis"))
    w, h, back, pal = _decode_png(data)
    assert (h, w) == shape and (back == idx).all() and (pal == palette("viridis")).all()
    with Image.open(io.BytesIO(data)) as picture:
        rgb = np.asarray(picture.convert("RGB"))
    assert (rgb == palette("viridis")[idx]).all()


def test_colour_map_ends_are_its_anchors():
    for name, anchors in CMAPS.items():
        lut = colour_lut(name)
        assert tuple(lut[0]) == tuple(int(anchors[0][i : i + 2], 16) for i in (1, 3, 5))
        assert tuple(lut[-1]) == tuple(int(anchors[-1][i : i + 2], 16) for i in (1, 3, 5))


def test_power_is_shown_in_db_relative_to_the_clips_loudest_point(values):
    d = prepare(FEATURES["mel_spectrogram"], values["mel_spectrogram"], sr=SR, params=FeatureParams())
    assert d.vmax == 0.0 and d.vmin == -80.0 and np.nanmax(d.values) == pytest.approx(0.0)
    assert np.nanmin(d.values) >= -80.0 and d.cmap == "magma" and d.unit == "dB"
    # The engine's values are untouched: the viewer converts.
    assert values["mel_spectrogram"].max() > 1.0
    assert d.y_scale == "mel" and "1k" in d.y_ticks.values()
    assert d.x_label == "time (s)" and d.x_extent[0] < 0 < 1.0 < d.x_extent[1] + 0.05


def test_rows_follow_the_axis_the_registry_asks_for(values):
    p = FeatureParams()
    chroma = prepare(FEATURES["chroma"], values["chroma"], sr=SR, params=p)
    assert chroma.y_scale == "categorical" and chroma.y_extent == (-0.5, 11.5)
    assert list(chroma.y_ticks.values()) == list(FEATURES["chroma"].y_axis.ticks)
    tonnetz = prepare(FEATURES["tonnetz"], values["tonnetz"], sr=SR, params=p)
    assert tonnetz.row_names[0] == "fifths x" and tonnetz.cmap == "diverging"
    assert tonnetz.vmin == -tonnetz.vmax
    tempo = prepare(FEATURES["tempogram"], values["tempogram"], sr=SR, params=p)
    assert tempo.y_scale == "log" and np.isfinite(tempo.row_coords).all()
    assert 60.0 in tempo.y_ticks and 0 < tempo.y_extent[0] < tempo.y_extent[1]
    contrast = prepare(FEATURES["spectral_contrast"], values["spectral_contrast"], sr=SR, params=p)
    assert contrast.row_names[0] == "0-200 Hz" and contrast.row_names[-1].startswith(">")
    mfcc = prepare(FEATURES["mfcc"], values["mfcc"], sr=SR, params=p)
    assert "Coefficient 0" in mfcc.note and mfcc.y_label == "coefficient number"
    # Row 0 (loudness) does not set the colour range of the others.
    assert mfcc.vmax < np.abs(values["mfcc"][0]).max()
    for fid in ("mel_delta", "mel_delta2"):
        # Signed changes of the log-mel, on the mel spectrogram's frequency axis.
        delta = prepare(FEATURES[fid], values[fid], sr=SR, params=p)
        assert delta.cmap == "diverging" and delta.vmin == -delta.vmax > -1e9 and delta.unit != "dB"
        assert delta.y_scale == "mel" and "1k" in delta.y_ticks.values() and not delta.note
    onset = prepare(FEATURES["onset_strength"], values["onset_strength"], sr=SR, params=p)
    assert onset.kind == "line" and onset.image is None and onset.vmax > 0
    power = prepare(FEATURES["power_spectrogram"], values["power_spectrogram"], sr=SR, params=p)
    assert power.image.shape[0] <= 256 and power.y_extent[1] == pytest.approx(8000, rel=0.01)


def test_long_clips_are_pooled_for_display_but_read_at_full_resolution():
    spec = FEATURES["power_spectrogram"]
    big = np.random.default_rng(0).random((1025, 5000)).astype(np.float32)
    d = prepare(spec, big, sr=SR, params=FeatureParams())
    assert d.image.shape == (256, MAX_COLUMNS) and d.values.shape == (1025, 5000)


def test_readout_and_colour_bar(values):
    spec = FEATURES["mel_spectrogram"]
    plot = FeaturePlot(spec)
    d = prepare(spec, values["mel_spectrogram"], sr=SR, params=FeatureParams())
    plot.show(d)
    text = plot.readout(0.5, 0.5)
    t, hz, db = text.split(" · ")
    assert t.endswith(" s") and hz.endswith(" Hz") and db.endswith(" dB")
    assert plot.readout(1.5, 0.5) == "" and plot.readout(0.5, -0.1) == ""
    bar = colour_bar(d, plot_height=230)
    assert bar["label"] == "dB below the loudest point" and bar["height"] == 230 - 10 - 44
    assert [t["pos"] for t in bar["ticks"]] == [0.0, 25.0, 50.0, 75.0, 100.0]
    onset = FeaturePlot(FEATURES["onset_strength"])
    onset.show(prepare(FEATURES["onset_strength"], values["onset_strength"], sr=SR, params=FeatureParams()))
    assert onset.readout(0.5, 0.5).startswith("0.") and "onset strength" in onset.readout(0.5, 0.5)
    assert colour_bar(onset.display, plot_height=190) == {}


def _px(offset: str) -> float:
    assert offset.endswith("px")
    return float(offset[:-2])


@pytest.mark.parametrize(
    "fid",
    [
        "spectral_contrast",
        "tonnetz",
        "stack_memory",
        "chroma",
        "mel_spectrogram",
        "mfcc",
        "onset_strength",
        "tempogram",
    ],
)
def test_y_title_sits_clear_of_the_widest_tick_label(values, fid):
    # Tick labels (11 px) average at most 0.55 em per character in common sans-serif
    # fonts: the title (14 px) must sit beyond the widest, and the figure's margin must
    # hold the title's height beyond that. (The browser tests measure the real boxes.)
    spec = FEATURES[fid]
    plot = FeaturePlot(spec, height=300 if fid == "stack_memory" else 230)
    display = prepare(spec, values[fid], sr=SR, params=FeatureParams())
    plot.show(display)
    labels = list((plot.y_axis.tick_labels or {}).values()) or ["-0.00", "1000"]
    widest = max(len(t) for t in labels) * 0.55 * 11
    offset = _px(plot.y_axis.label_offset)
    assert offset >= 6 + 3 + widest + 4 + 3  # tick, padding, label, a gap, the title's descent
    assert plot.figure.fig_margin["left"] >= offset + 11  # the title's ascent


def test_beat_axis_has_whole_beats_only_at_any_zoom(values):
    spec = FEATURES["stack_memory"]
    plot = FeaturePlot(spec, height=300)
    beats = np.tile(np.linspace(0, 1, 24)[:, None], (1, 4))  # four beat segments
    plot.show(prepare(spec, beats, sr=SR, params=FeatureParams()))
    ticks = np.asarray(plot.x_axis.tick_values, dtype=float)
    assert list(ticks) == [0.0, 1.0, 2.0, 3.0] and plot.x_axis.tick_format == "d"
    # Panning and zooming (PanZoom writes the scale back) keeps whole, visible beats.
    for lo, hi in ((0.6, 2.4), (-0.5, 63.5), (1.2, 1.8)):
        with plot.x_scale.hold_trait_notifications():
            plot.x_scale.min, plot.x_scale.max = lo, hi
        ticks = np.asarray(plot.x_axis.tick_values, dtype=float)
        shown = ticks if plot.x_axis.num_ticks is None else ticks[:0]
        assert np.all(shown == np.round(shown)) and np.all((shown >= lo) & (shown <= hi))
        assert len(shown) <= 8
    assert plot.x_axis.num_ticks == 1  # inside one beat: no tick rather than "1.5"
    plot.reset_zoom()
    assert list(np.asarray(plot.x_axis.tick_values, dtype=float)) == [0.0, 1.0, 2.0, 3.0]
    assert plot.x_axis.num_ticks is None
