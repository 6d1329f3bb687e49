"""analysis.histograms: bars checked by brute force and against numpy's own histogram."""

from __future__ import annotations

import numpy as np
import pytest

from audiosoup_widgets.analysis.histograms import TARGET_BARS, bin_values
from audiosoup_widgets.errors import ValidationError


def test_linear_bars_agree_with_numpy_and_keep_outliers_apart():
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.normal(-26, 6, 5000), np.full(60, -120.0), [np.nan] * 7])
    bars = bin_values(v, scale="linear", unit="dBFS")
    assert bars.labels[0] == "below " + bars.labels[1].split(" to ")[0] + " dBFS"
    assert bars.counts[0] >= 60 and bars.counts.sum() == 5060 and (bars.index == -1).sum() == 7
    regular = slice(1, len(bars.counts) - (1 if np.isinf(bars.highs[-1]) else 0))
    edges = np.append(bars.lows[regular], bars.highs[regular][-1])
    width = np.diff(edges)
    assert np.allclose(width, width[0]) and TARGET_BARS / 2 <= len(width) <= 2 * TARGET_BARS
    # numpy's last bin is closed; nothing lies on the top edge here.
    inside = v[(v >= edges[0]) & (v < edges[-1])]
    assert bars.counts[regular].tolist() == np.histogram(inside, bins=edges)[0].tolist()
    for i, (lo, hi) in enumerate(zip(bars.lows, bars.highs, strict=True)):
        members = v[bars.index == i]
        assert ((members >= lo) & (members < hi)).all()


def test_a_threshold_is_a_bar_bound_and_flags_exactly_the_bars_beyond_it():
    v = np.linspace(0, 100, 1001)
    bars = bin_values(v, scale="percent", unit="%", flag=(42.0, 100.0), open_top=True)
    assert 42.0 in bars.lows.tolist()
    flagged = np.isin(bars.index, np.flatnonzero(bars.flagged))
    assert (flagged == (v >= 42.0)).all()
    assert bars.counts[-1] == 50 + 1  # 95 to 100 %, the top edge included


def test_zero_log_bars_right_closed():
    v = np.array([0.0] * 10 + [0.1, 0.1000001, 0.05, 3.0, 100.0])
    bars = bin_values(v, scale="zero_log", unit="%", flag=(0.1, 100.0), right_closed=True, open_top=True)
    assert bars.labels[0] == "0 %" and bars.counts[0] == 10
    flagged = np.isin(bars.index, np.flatnonzero(bars.flagged))
    assert flagged.tolist() == (v > 0.1).tolist()


def test_few_values_one_bar_each_and_nothing_measured():
    bars = bin_values(np.array([16000, 8000, 16000, 44100]) / 1000, scale="discrete", unit="kHz")
    assert bars.labels == ("8 kHz", "16 kHz", "44.1 kHz") and bars.counts.tolist() == [1, 2, 1]
    empty = bin_values(np.full(3, np.nan), scale="linear")
    assert empty.counts.size == 0 and (empty.index == -1).all()
    with pytest.raises(ValidationError):
        bin_values(np.zeros(3), scale="cubic")
