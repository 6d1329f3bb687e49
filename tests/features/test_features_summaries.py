"""Per-sample summaries: layout, names, NaN handling; matrices as records."""

from __future__ import annotations

import numpy as np
import pytest
from signals import clicks, noise, speech_like

from audiosoup_widgets.features import (
    FEATURES,
    compute_features,
    compute_features_with_status,
    full_to_record,
    record_to_full,
    summarize,
    summary_columns,
    summary_row,
    unpad,
)


@pytest.fixture(scope="module")
def batch_values():
    sr = 16000
    batch = np.stack([speech_like(sr), clicks(sr), noise(sr)])
    return compute_features(batch, sr)


def test_summary_is_mean_then_std_of_every_row_as_float32(batch_values):
    summaries = summarize(batch_values)
    assert set(summaries) == set(FEATURES)
    for name, values in batch_values.items():
        summary = summaries[name]
        assert summary.dtype == np.float32
        rows = 1 if values.ndim == 2 else values.shape[1]
        assert summary.shape == (3, 2 * rows), name
        for i in range(3):
            clip = values[i] if values.ndim == 3 else values[i][np.newaxis]
            if name == "stack_memory":
                clip = unpad(clip)
            np.testing.assert_allclose(
                summary[i, :rows], clip.mean(axis=-1), rtol=1e-5, atol=1e-6 * np.abs(clip).max()
            )
            np.testing.assert_allclose(
                summary[i, rows:], clip.std(axis=-1), rtol=1e-4, atol=1e-6 * np.abs(clip).max()
            )


def test_single_clip_summary_has_no_batch_axis_and_onset_has_one_row():
    values = compute_features(speech_like(16000), 16000)
    summaries = summarize(values)
    assert summaries["onset_strength"].shape == (2,)
    assert summaries["mel_spectrogram"].shape == (256,)
    assert summaries["stack_memory"].shape == (48,)
    assert np.isfinite(np.concatenate(list(summaries.values()))).all()


def test_padding_is_ignored_and_non_finite_clips_summarise_to_nan():
    sr = 16000
    bad = speech_like(sr)
    bad[0] = np.nan
    result = compute_features_with_status(np.stack([clicks(sr), bad, speech_like(sr)]), sr)
    summaries = summarize(result.values)
    alone = summarize(compute_features(speech_like(sr), sr))
    for name, summary in summaries.items():
        assert np.isnan(summary[1]).all(), name
        np.testing.assert_allclose(summary[2], alone[name], rtol=1e-6, atol=1e-7)
        assert np.isfinite(summary[0]).all() and np.isfinite(summary[2]).all()


def test_column_names():
    assert summary_columns("mfcc", 2) == ["mfcc_mean_0", "mfcc_mean_1", "mfcc_std_0", "mfcc_std_1"]
    assert summary_columns("onset_strength", 1) == ["onset_strength_mean_0", "onset_strength_std_0"]


def test_summary_row_flattens_one_clip(batch_values):
    summaries = summarize(batch_values)
    row = summary_row(summaries, 1)
    assert len(row) == sum(s.shape[-1] for s in summaries.values())
    assert row["mfcc_mean_0"] == float(summaries["mfcc"][1, 0])
    assert row["mfcc_std_19"] == float(summaries["mfcc"][1, 39])
    assert all(isinstance(v, float) for v in row.values())
    single = summary_row({"mfcc": summaries["mfcc"][0]})
    assert single["mfcc_mean_0"] == float(summaries["mfcc"][0, 0])


def test_matrix_records_round_trip_real_and_complex():
    real = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    record = full_to_record(real)
    assert record == {"shape": [2, 3], "values": [float(v) for v in real.ravel()]}
    np.testing.assert_array_equal(record_to_full(record), real)
    cplx = np.array([[1 + 2j, 3 - 4j]], dtype=np.complex64)
    record = full_to_record(cplx)
    assert record["shape"] == [1, 2, 2] and record["complex"] is True
    assert all(isinstance(v, float) for v in record["values"])
    np.testing.assert_array_equal(record_to_full(record), cplx)
    with_nan = {"shape": [2], "values": [1.0, None]}
    assert np.isnan(record_to_full(with_nan)[1])
