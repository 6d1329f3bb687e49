"""The one summary reader: features or a family, ids pushed down and rows aligned, column names."""

from __future__ import annotations

import numpy as np

from audiosoup_widgets.features.summaries import summary_columns
from audiosoup_widgets.jobs.summaries import read_summary_matrix
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

ROWS = {"mfcc": 3, "chroma": 2}


def test_reads_features_side_by_side_with_their_columns(store: Store):
    seed_synthetic(store, dataset="d", n=6)
    stored = seed_summaries(store, "d", rows=ROWS)
    read = read_summary_matrix(store, "d", ["chroma", "mfcc", "tonnetz"])
    assert read.features == ["chroma", "mfcc"] and read.n_rows == [2, 3]  # tonnetz: none stored
    assert read.columns == summary_columns("chroma", 2) + summary_columns("mfcc", 3)
    assert read.ids.tolist() == sorted(stored)
    want = np.array([np.concatenate([stored[i][6:], stored[i][:6]]) for i in sorted(stored)])
    np.testing.assert_array_equal(read.values, want)  # float32 as stored
    np.testing.assert_array_equal(read.feature_values("mfcc"), want[:, 4:])
    assert read.feature_values("tonnetz").shape == (6, 0)
    spectral = read_summary_matrix(store, "d", family="spectral")
    assert spectral.features == ["chroma"]  # mfcc is not a spectral feature


def test_ids_are_pushed_down_and_rows_follow_them(store: Store):
    seed_synthetic(store, dataset="d", n=6)
    ids = sorted(seed_summaries(store, "d", rows=ROWS, ids=None))
    seed_synthetic(store, dataset="d", n=8)  # two samples more, without summaries
    every = [r[0] for r in store.sample_table("d")]
    new = [i for i in every if i not in ids]
    asked = [ids[3], new[0], ids[0]]
    read = read_summary_matrix(store, "d", ["mfcc"], ids=asked)
    assert read.ids.tolist() == asked and np.isnan(read.values[1]).all()
    assert not np.isnan(read.values[[0, 2]]).any()
    only = read_summary_matrix(store, "d", ["mfcc"], ids=asked, align=False)
    assert only.ids.tolist() == [ids[0], ids[3]]
