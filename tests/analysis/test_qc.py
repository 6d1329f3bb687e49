"""Quality findings (analysis.qc) and near-duplicate groups (analysis.neighbours).

A synthetic dataset of clean clips with planted problems: each problem must come out
under its kind and no clean clip anywhere. Near duplicates are checked against a brute
force over all pairwise distances.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from audiosoup_widgets.analysis.neighbours import (
    COMPONENTS,
    _distinct_rows,
    _row_hashes,
    near_duplicate_groups,
)
from audiosoup_widgets.analysis.qc import (
    COLUMNS,
    KINDS,
    LEAK_VIA,
    Finding,
    QcThresholds,
    find_issues,
    flagged_ranges,
)
from audiosoup_widgets.errors import ValidationError

#: Every column the job hands over, more than find_issues reads.
TABLE = (
    "sample_id", "path", "label", "split", "speaker", "duration", "sample_rate", "channels",
    "peak_dbfs", "rms_dbfs", "clip_ratio", "silence_ratio", "leading_silence_s",
    "trailing_silence_s", "dc_offset", "snr_db", "bandwidth_hz", "pcm_sha256",
)  # fmt: skip
LEVELS = {"dog": -20.0, "cat": -26.0, "bird": -30.0, "rain": -18.0, "car": -23.0}
DIMS = 40


def _measures(rng: np.random.Generator, level: float) -> dict[str, float]:
    rms = level + rng.normal(0.0, 2.5)
    duration = rng.uniform(1.0, 4.0)
    return {
        "duration": duration,
        "sample_rate": 16000,
        "channels": 1,
        "peak_dbfs": min(rms + rng.uniform(8.0, 18.0), 0.0),
        "rms_dbfs": rms,
        "clip_ratio": 0.0 if rng.random() < 0.8 else rng.uniform(0.0, 5e-4),
        "silence_ratio": rng.uniform(0.0, 0.6),
        "leading_silence_s": rng.uniform(0.0, 0.3),
        "trailing_silence_s": rng.uniform(0.0, 0.3),
        "dc_offset": abs(rng.normal(0.0, 1e-3)),
        "snr_db": rng.uniform(15.0, 60.0),
        "bandwidth_hz": rng.uniform(3000.0, 8000.0),
    }


class Dataset:
    """Rows of a quality table and the feature rows aligned with them."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.rows: list[dict[str, object]] = []
        self.feats: list[np.ndarray] = []
        self.centroids = {lab: self.rng.normal(0.0, 3.0, DIMS) for lab in [*LEVELS, "whale", None]}

    def add(self, sid: int, label: str | None, split: str | None, speaker: str | None, **over: object) -> int:
        row: dict[str, object] = {"sample_id": sid, "path": f"{label}/{sid}.wav", "label": label}
        row |= {
            "split": split,
            "speaker": speaker,
            "pcm_sha256": hashlib.sha256(f"clip{sid}".encode()).hexdigest(),
        }
        row |= _measures(self.rng, LEVELS.get(label or "", -23.0))
        feat = over.pop("features", None)
        row |= over
        self.rows.append(row)
        self.feats.append(
            self.centroids[label] + self.rng.normal(0.0, 1.0, DIMS) if feat is None else np.asarray(feat)
        )
        return sid

    def row(self, sid: int) -> dict[str, object]:
        return next(r for r in self.rows if r["sample_id"] == sid)

    def feature(self, sid: int) -> np.ndarray:
        return self.feats[[r["sample_id"] for r in self.rows].index(sid)]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(TABLE))

    def features(self) -> np.ndarray:
        return np.vstack(self.feats)


def clean(seed: int = 7) -> tuple[Dataset, list[int]]:
    """200 clean clips: 5 labels x 8 speakers x 5 clips, each speaker in one split."""
    ds = Dataset(seed)
    ids = []
    splits = ["train", "train", "train", "train", "validation", "test", "train", "test"]
    for li, label in enumerate(LEVELS):
        for s in range(8):
            for _ in range(5):
                sid = 100 + 3 * len(ids)  # not contiguous: ids are not row numbers
                ids.append(ds.add(sid, label, splits[(s + li) % 8], f"{label}_spk{s}"))
    return ds, ids


def planted() -> tuple[Dataset, list[int], list[tuple[str, tuple[int, ...], str | None, str | None]]]:
    ds, ids = clean()
    a, b = ids[0], ids[1]  # two dog clips
    # A copy of clip a filed under another label (same hash, same split, same features).
    ds.add(
        901, "cat", ds.row(a)["split"], "spk_901", features=ds.feature(a), pcm_sha256=ds.row(a)["pcm_sha256"]
    )
    # A re-encoded copy of clip b in another split: same PCM hash, another path and format.
    other = "test" if ds.row(b)["split"] != "test" else "train"
    ds.add(902, "dog", other, None, features=ds.feature(b) + ds.rng.normal(0, 1e-4, DIMS))
    ds.rows[-1] |= {"pcm_sha256": ds.row(b)["pcm_sha256"], "path": "dog/copy.flac"}
    ds.add(903, "bird", "train", "spk_903", clip_ratio=0.02)
    ds.add(904, "rain", "train", "spk_904", silence_ratio=0.99, rms_dbfs=-70.0, peak_dbfs=-50.0)
    ds.add(905, "car", "train", "spk_905", rms_dbfs=LEVELS["car"] + 20.0, peak_dbfs=-0.5)
    ds.add(906, "dog", "train", "spk_leak")
    ds.add(907, "dog", "test", "spk_leak")
    ds.add(908, "whale", "train", "spk_908", rms_dbfs=-24.0)
    ds.add(909, "whale", "train", "spk_909", rms_dbfs=-23.0)
    ds.add(910, "bird", "train", "spk_910")
    ds.add(911, "bird", "train", "spk_911", features=ds.feature(910) + ds.rng.normal(0, 0.01, DIMS))
    ds.add(912, "cat", "train", None)
    ds.add(913, "cat", "test", None, features=ds.feature(912) + ds.rng.normal(0, 0.01, DIMS))
    # Clean: a clip not measured at all, and an unlabelled clip.
    nan = float("nan")
    unmeasured = {k: nan for k in _measures(ds.rng, 0.0)}
    ds.add(914, "car", "train", None, features=np.full(DIMS, nan), pcm_sha256=None, **unmeasured)
    ds.add(915, None, None, None)
    expected = [
        ("exact_duplicate", (a, 901), None, None),
        ("exact_duplicate", (b, 902), "dog", None),
        ("near_duplicate", (910, 911), "bird", None),
        ("near_duplicate", (912, 913), "cat", None),
        ("split_leak", (912, 913), "cat", "near_audio"),
        ("split_leak", (b, 902), "dog", "same_audio"),
        ("split_leak", (906, 907), "dog", "speaker"),
        ("clipping", (903,), "bird", None),
        ("silence", (904,), "rain", None),
        ("level_outlier", (905,), "car", None),
        ("class_imbalance", (908, 909), "whale", None),
    ]
    return ds, ids, expected


def _summary(findings: list[Finding]) -> list[tuple[str, tuple[int, ...], str | None, str | None]]:
    return [(f.kind, f.sample_ids, f.label, f.detail.get("via")) for f in findings]


def test_clean_dataset_has_no_findings():
    ds, _ = clean()
    assert find_issues(ds.table(), features=ds.features()) == []


def test_each_planted_problem_is_found_under_its_kind_and_no_clean_clip_is_flagged():
    ds, ids, expected = planted()
    findings = find_issues(ds.table(), features=ds.features())
    assert _summary(findings) == expected
    flagged = {i for f in findings for i in f.sample_ids}
    assert flagged == {ids[0], ids[1], *range(901, 914)}
    by = {(f.kind, f.sample_ids): f.detail for f in findings}
    conflict = by[("exact_duplicate", (ids[0], 901))]
    assert conflict["labels"] == ["dog", "cat"] and conflict["conflicting_labels"] is True
    recoded = by[("exact_duplicate", (ids[1], 902))]
    assert recoded["conflicting_labels"] is False and len(set(recoded["splits"])) == 2
    assert by[("clipping", (903,))]["clip_ratio"] == [0.02]
    assert by[("clipping", (903,))]["threshold"] == 0.001
    assert by[("silence", (904,))]["silence_ratio"] == [0.99]
    level = by[("level_outlier", (905,))]
    car = ds.table().query("label == 'car' and sample_id != 904")["rms_dbfs"].dropna()
    assert level["median_dbfs"] == pytest.approx(float(np.median(car)))
    assert level["reference"] == "label" and level["z"][0] > 5.0
    assert by[("class_imbalance", (908, 909))]["count"] == 2
    assert by[("class_imbalance", (908, 909))]["mean_size"] == pytest.approx(214 / 6)
    speaker = next(f for f in findings if f.detail.get("via") == "speaker")
    assert speaker.detail["speaker"] == "spk_leak"
    assert speaker.detail["split_counts"] == {"test": 1, "train": 1}
    near = by[("near_duplicate", (910, 911))]
    assert 0 < near["distance"] < near["radius"] == pytest.approx(0.13 * near["median_nn_distance"])
    assert near["dimensions"] == COMPONENTS  # 40 columns, more than COMPONENTS


def test_without_features_there_are_no_near_duplicates_and_the_rest_stands():
    ds, _, expected = planted()
    findings = find_issues(ds.table())
    assert _summary(findings) == [e for e in expected if e[0] != "near_duplicate" and e[3] != "near_audio"]


# --- near duplicates against a brute force -----------------------------------------------


def reference_groups(features: np.ndarray, threshold: float) -> tuple[set[frozenset[int]], float]:
    """Every pairwise distance, no neighbour lists, no chunks, breadth-first components."""
    x = np.where(np.isfinite(features), features, np.nan)
    x = x[:, np.isfinite(x).any(axis=0)]
    rows = np.flatnonzero(2 * np.isfinite(x).sum(axis=1) >= x.shape[1])
    x = x[rows][:, np.isfinite(x[rows]).any(axis=0)]
    x = np.where(np.isnan(x), np.nanmedian(x, axis=0), x)
    distinct, inverse = np.unique(x, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    distinct = distinct[:, distinct.max(axis=0) > distinct.min(axis=0)]
    z = (distinct - distinct.mean(axis=0)) / distinct.std(axis=0)
    if z.shape[1] > COMPONENTS:
        z = PCA(n_components=COMPONENTS, svd_solver="full").fit_transform(z)
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    nn = d.min(axis=1)
    median = float(np.median(nn[nn > 0]))
    adjacent = d < threshold * median
    seen = np.full(len(z), -1)
    for start in range(len(z)):
        if seen[start] >= 0:
            continue
        seen[start] = start
        todo = deque([start])
        while todo:
            for j in np.flatnonzero(adjacent[todo.popleft()]):
                if seen[j] < 0:
                    seen[j] = start
                    todo.append(j)
    groups: dict[int, set[int]] = {}
    for row, p in zip(rows, inverse, strict=True):
        groups.setdefault(int(seen[p]), set()).add(int(row))
    return {frozenset(g) for g in groups.values() if len(g) > 1}, median


def _as_sets(groups: list[np.ndarray]) -> set[frozenset[int]]:
    return {frozenset(int(i) for i in g) for g in groups}


def test_near_duplicates_match_brute_force_on_a_small_case_with_nan_copies_and_constants():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 6)) * [1.0, 10.0, 0.1, 5.0, 1.0, 100.0]
    x[1] = x[0] + 0.01 * x.std(axis=0)  # a chain of three
    x[2] = x[1] + 0.01 * x.std(axis=0)
    x[4] = x[3] + 0.02 * x.std(axis=0)  # a pair
    x[6] = x[5]  # an exact copy
    x[7, 2] = np.nan  # a missing cell: imputed, the row still searched
    x = np.column_stack([x, np.full(80, 4.0), np.full(80, np.nan)])  # constant and empty columns
    x[8] = np.nan  # no features at all
    x[9, :5] = np.nan  # too few to compare (3 of 7 columns with values)
    x[10, :3] = np.nan  # enough (4 of 7): imputed and searched
    found = near_duplicate_groups(x, threshold=0.13)
    expected, median = reference_groups(x, 0.13)
    assert {frozenset({0, 1, 2}), frozenset({3, 4}), frozenset({5, 6})} <= expected
    assert _as_sets(found.groups) == expected
    assert found.median == pytest.approx(median, rel=1e-12)
    assert found.radius == pytest.approx(0.13 * median, rel=1e-12)
    assert found.dimensions == 6
    assert all(8 not in g and 9 not in g for g in found.groups)
    assert found.links[[0 in g for g in found.groups].index(True)] > 0
    assert found.links[[5 in g for g in found.groups].index(True)] == 0.0


def test_near_duplicates_match_brute_force_in_principal_components_of_wide_features():
    rng = np.random.default_rng(11)
    latent = rng.normal(size=(300, 8))
    x = latent @ rng.normal(size=(8, 64)) + 0.5 * rng.normal(size=(300, 64))
    for i in range(0, 20, 2):
        x[i + 1] = x[i] + rng.normal(0.0, 0.02, 64)
    found = near_duplicate_groups(x, threshold=0.13)
    expected, median = reference_groups(x, 0.13)
    assert {frozenset({i, i + 1}) for i in range(0, 20, 2)} <= expected
    assert _as_sets(found.groups) == expected
    assert found.median == pytest.approx(median, rel=1e-9)
    assert found.dimensions == COMPONENTS


def test_exact_copies_do_not_drag_the_median_to_zero():
    rng = np.random.default_rng(5)
    x = np.vstack([np.tile(rng.normal(size=8), (150, 1)), rng.normal(size=(100, 8))])
    x[-1] = x[-2] + 0.01
    found = near_duplicate_groups(x, threshold=0.13)
    expected, median = reference_groups(x, 0.13)
    assert median > 0.5 and found.median == pytest.approx(median, rel=1e-12)
    assert _as_sets(found.groups) == expected == {frozenset(range(150)), frozenset({248, 249})}
    # Over every row (copies included), 149 of 250 nearest distances are 0: so is that median.
    assert float(np.median(np.r_[np.zeros(149), np.ones(101)])) == 0.0


def test_a_chain_of_near_pairs_is_one_group():
    spread = np.arange(0.0, 400.0, 1.0)
    chain = 1000.0 + 0.05 * np.arange(40)[::-1]  # reversed: components must not depend on order
    found = near_duplicate_groups(np.r_[spread, chain][:, None], threshold=0.13)
    assert _as_sets(found.groups) == {frozenset(range(400, 440))}
    # Every pair under the radius links, two steps (0.10) as well as one (0.05).
    assert found.links == [pytest.approx(0.10 / np.r_[spread, chain].std())]


@pytest.mark.parametrize(("factor", "grouped"), [(1 - 1e-9, True), (1 + 1e-9, False)])
def test_near_duplicate_threshold_is_strict_at_its_boundary(factor, grouped):
    # Nearest-neighbour distances are all 1 but the pair's: the median is 1 whatever the pair.
    gap = 0.13 * factor
    x = np.r_[np.arange(20.0), 100.0, 100.0 + gap][:, None]
    found = near_duplicate_groups(x, threshold=0.13)
    assert (_as_sets(found.groups) == {frozenset({20, 21})}) is grouped
    assert found.median == pytest.approx(1.0 / x.std(), rel=1e-12)


def test_near_duplicates_with_too_little_to_compare():
    assert near_duplicate_groups(np.full((5, 3), np.nan), threshold=0.13).groups == []
    assert near_duplicate_groups(np.ones((1, 3)), threshold=0.13).groups == []
    same = near_duplicate_groups(np.ones((3, 2)), threshold=0.13)
    assert _as_sets(same.groups) == {frozenset({0, 1, 2})} and math.isnan(same.median)


def test_near_duplicate_progress_is_reported():
    messages: list[str] = []
    near_duplicate_groups(
        np.random.default_rng(0).normal(size=(50, 4)), threshold=0.13, progress=messages.append
    )
    assert messages[0].startswith("near duplicates: preparing 50 clips x 4 columns")
    assert messages[-1] == "near duplicates: 50 of 50 distinct clips searched"


def test_rows_whose_hashes_collide_stay_distinct():
    # The hash of a row holding the word 1 in one column and 0 elsewhere is that column's
    # multiplier: from them, a second row whose hash equals the first's.
    odd = [int(h) for h in _row_hashes(np.eye(2, dtype=np.uint64).view(np.float64))]
    a = np.array([1.0, 2.0])
    words = [int(w) for w in a.view(np.uint64)]
    for step in range(1, 100):
        w1 = (words[1] - step * odd[0] * pow(odd[1], -1, 2**64)) % 2**64
        b = np.array([words[0] + step, w1], dtype=np.uint64).view(np.float64)
        if np.isfinite(b).all():
            break
    x = np.vstack([a, b, a])
    assert _row_hashes(x)[0] == _row_hashes(x)[1] and not np.array_equal(a, b)
    distinct, inverse = _distinct_rows(x)
    assert len(distinct) == 2 and np.array_equal(distinct[inverse], x)


def test_planted_near_duplicates_are_found_among_5000_wide_rows():
    rng = np.random.default_rng(2)
    n, d = 5000, 352
    x = rng.normal(size=(n, 12)) @ rng.normal(size=(12, d)) + rng.normal(size=(n, d))
    pairs = [(i, i + 2500) for i in range(0, 40, 2)]
    missing = rng.random((n, d)) < 0.01
    for i, j in pairs:
        x[j] = x[i] + rng.normal(0.0, 0.01, d)
        missing[j] = missing[i]
    x[:, :10] = 1.0  # constant columns
    x[missing] = np.nan
    found = near_duplicate_groups(x, threshold=0.13)
    assert _as_sets(found.groups) == {frozenset(p) for p in pairs}


# --- thresholds at their boundaries --------------------------------------------------------


def _small_table(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, list[object]] = {c: [float("nan")] * n for c in TABLE}
    base |= {"sample_id": list(range(1, n + 1)), "path": [f"{i}.wav" for i in range(1, n + 1)]}
    base |= {c: [None] * n for c in ("label", "split", "speaker", "pcm_sha256")}
    return pd.DataFrame(base | columns)


def test_clipping_is_strictly_above_and_silence_at_or_above_the_threshold():
    t = QcThresholds()
    clip = [t.clip_ratio, np.nextafter(t.clip_ratio, 1.0), 0.0]
    silence = [np.nextafter(t.silence_ratio, 0.0), t.silence_ratio, 1.0]
    found = find_issues(_small_table(clip_ratio=clip, silence_ratio=silence), thresholds=t)
    assert _summary(found) == [("clipping", (2,), None, None), ("silence", (2, 3), None, None)]
    assert flagged_ranges(t) == {"clip_ratio": (0.001, 1.0), "silence_ratio": (0.95, 1.0)}
    assert flagged_ranges(QcThresholds(clip_ratio=0.01, silence_ratio=0.5)) == {
        "clip_ratio": (0.01, 1.0),
        "silence_ratio": (0.5, 1.0),
    }


def test_level_outliers_need_both_the_robust_z_and_the_minimum_deviation():
    # Median 0 and MAD 1 (hand-computed) with the two test clips included.
    levels = [-20.0 + o for o in [-1.0] * 10 + [0.0] * 10 + [1.0] * 10 + [7.40, 7.43]]
    table = _small_table(rms_dbfs=levels, label=["tone"] * 32, silence_ratio=[0.1] * 32)
    by_z = find_issues(table, thresholds=QcThresholds(level_z=5.0, level_min_db=0.0))
    assert _summary(by_z) == [("level_outlier", (32,), "tone", None)]  # z 5.011, not 4.991
    detail = by_z[0].detail
    assert detail["median_dbfs"] == -20.0 and detail["mad_db"] == pytest.approx(1.0)
    assert detail["z"] == [pytest.approx(7.43 / 1.4826)] and detail["reference"] == "label"
    by_db = find_issues(table, thresholds=QcThresholds(level_z=0.5, level_min_db=7.42))
    assert _summary(by_db) == [("level_outlier", (32,), "tone", None)]
    assert find_issues(table) == []  # 12 dB by default


def test_small_labels_and_silent_clips_in_level_outliers():
    levels = [-20.0, -21.0, -19.0, -20.5, -19.5, -60.0, -90.0]
    labels = ["a", "a", "b", "b", "b", "a", "b"]
    silence = [0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.99]
    found = find_issues(_small_table(rms_dbfs=levels, label=labels, silence_ratio=silence))
    assert _summary(found) == [("silence", (7,), "b", None), ("level_outlier", (6,), "a", None)]
    detail = found[1].detail
    assert detail["reference"] == "dataset"  # 'a' has 3 clips, under min_label_size
    assert detail["median_dbfs"] == pytest.approx(-20.25)  # the silent clip (-90) is not in it


def test_class_imbalance_is_strictly_under_the_fraction_of_the_mean():
    labels = ["a"] * 27 + ["b"] * 30 + ["c"] * 3 + [None] * 5  # mean 20: 10 % is 2.0
    assert find_issues(_small_table(label=labels)) == []
    found = find_issues(_small_table(label=labels), thresholds=QcThresholds(imbalance=0.2))
    assert _summary(found) == [("class_imbalance", (58, 59, 60), "c", None)]
    assert found[0].detail["mean_size"] == 20.0
    assert find_issues(_small_table(label=["a"] * 3)) == []  # one label: nothing to compare


# --- missing values -----------------------------------------------------------------------


def test_missing_measures_labels_splits_and_speakers_are_not_judged():
    nan = float("nan")
    table = _small_table(
        label=["a", pd.NA, np.nan, None, "a", "a"],
        split=["train", None, pd.NA, "test", np.nan, "train"],
        speaker=["s1", "s1", "s1", pd.NA, "s1", None],
        clip_ratio=[nan, 0.5, 0.0, nan, 0.0, 0.0],
        silence_ratio=[nan, 0.0, nan, 0.0, 0.0, 0.0],
        rms_dbfs=[nan, -20.0, -21.0, -19.0, nan, -20.0],
        pcm_sha256=[None, np.nan, pd.NA, "h", "h", None],
        channels=[1] * 6,
        sample_rate=[nan] * 6,
    )
    found = find_issues(table)
    # Clip 2 is clipped and unlabelled; clips 4 and 5 share a hash (rate unknown for both);
    # speaker s1 has one clip with a split only: no leak.
    assert _summary(found) == [("exact_duplicate", (4, 5), None, None), ("clipping", (2,), None, None)]
    assert found[0].detail["labels"] == [None, "a"] and found[0].detail["splits"] == ["test", None]


def test_a_rate_or_channel_difference_or_an_empty_clip_is_no_exact_duplicate():
    empty = hashlib.sha256(b"").hexdigest()
    table = _small_table(
        pcm_sha256=["h", "h", "h", "h", empty, empty],
        sample_rate=[16000, 16000, 8000, 16000, 16000, 16000],
        channels=[1, 1, 1, 2, 1, 1],
    )
    assert _summary(find_issues(table)) == [("exact_duplicate", (1, 2), None, None)]


def test_rows_without_features_are_never_grouped():
    ds, _ = clean()
    feats = ds.features()
    feats[[3, 50]] = np.nan  # both would become the median row if imputed
    feats[7, :5] = np.nan
    assert find_issues(ds.table(), features=feats) == []


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"near_duplicate": 1.5}, "near_duplicate must be between 0 and 1, not 1.5"),
        ({"near_duplicate": True}, "near_duplicate must be a finite number, not True"),
        ({"clip_ratio": 1.0}, "clip_ratio must be at least 0 and below 1, not 1.0"),
        ({"clip_ratio": -0.1}, "clip_ratio must be at least 0 and below 1, not -0.1"),
        ({"silence_ratio": 0}, "silence_ratio must be above 0 and at most 1, not 0"),
        ({"level_z": 0.0}, "level_z must be above 0, not 0.0"),
        ({"level_z": "5"}, "level_z must be a finite number, not '5'"),
        ({"level_min_db": -1}, "level_min_db must be at least 0, not -1"),
        ({"min_label_size": 1}, "min_label_size must be at least 2, not 1"),
        ({"min_label_size": 2.5}, "min_label_size must be a whole number, not 2.5"),
        ({"imbalance": float("nan")}, "imbalance must be a finite number, not nan"),
        ({"imbalance": float("inf")}, "imbalance must be a finite number, not inf"),
    ],
)
def test_thresholds_refuse_bad_values_in_one_plain_line(kwargs, message):
    with pytest.raises(ValidationError) as err:
        QcThresholds(**kwargs)
    assert err.value.message == message


def test_thresholds_as_dict_and_defaults():
    t = QcThresholds()
    assert t.as_dict() == {
        "near_duplicate": 0.13,
        "clip_ratio": 0.001,
        "silence_ratio": 0.95,
        "level_z": 5.0,
        "level_min_db": 12.0,
        "min_label_size": 20,
        "imbalance": 0.1,
    }
    assert QcThresholds(**t.as_dict()) == t
    assert QcThresholds(near_duplicate=0.0, imbalance=0.0).near_duplicate == 0.0


def test_bad_tables_and_features_are_refused():
    table = _small_table(label=["a", "b"])
    with pytest.raises(ValidationError, match="lacks the columns speaker, rms_dbfs$"):
        find_issues(table.drop(columns=["snr_db", "rms_dbfs", "speaker"]))
    assert find_issues(table[list(COLUMNS)]) == []  # the columns read are enough
    with pytest.raises(ValidationError, match="sample ids repeat"):
        find_issues(table.assign(sample_id=[1, 1]))
    with pytest.raises(ValidationError, match="whole-number sample_id"):
        find_issues(table.assign(sample_id=[1, None]))
    with pytest.raises(ValidationError, match=r"one row per clip \(2\), not shape \(3, 4\)"):
        find_issues(table, features=np.zeros((3, 4)))


def test_a_zero_near_duplicate_threshold_turns_the_search_off():
    ds, _, expected = planted()
    found = find_issues(ds.table(), features=ds.features(), thresholds=QcThresholds(near_duplicate=0.0))
    assert _summary(found) == [e for e in expected if e[0] != "near_duplicate" and e[3] != "near_audio"]


# --- determinism and JSON ------------------------------------------------------------------


def test_findings_do_not_depend_on_row_order_or_the_run():
    ds, _, _ = planted()
    table, feats = ds.table(), ds.features()
    first = find_issues(table, features=feats)
    assert find_issues(table, features=feats) == first
    order = np.random.default_rng(1).permutation(len(table))
    shuffled = find_issues(table.iloc[order].reset_index(drop=True), features=feats[order])
    assert _summary(shuffled) == _summary(first)
    for a, b in zip(shuffled, first, strict=True):
        assert a.detail.keys() == b.detail.keys()
        for key, value in a.detail.items():
            assert value == (pytest.approx(b.detail[key]) if isinstance(value, float) else b.detail[key])


def test_findings_are_plain_json_with_aligned_paths():
    ds, _, _ = planted()
    table = ds.table()
    paths = dict(zip(table["sample_id"].astype(int), table["path"], strict=True))
    findings = find_issues(table, features=ds.features())
    out = json.loads(json.dumps([f.to_json(paths) for f in findings], allow_nan=False))
    assert [o["kind"] for o in out] == [f.kind for f in findings]
    for o, f in zip(out, findings, strict=True):
        assert set(o) == {"kind", "sample_ids", "paths", "detail"}
        assert o["kind"] in KINDS and o["sample_ids"] == sorted(o["sample_ids"]) == list(f.sample_ids)
        assert o["paths"] == [paths[i] for i in o["sample_ids"]]
        assert o["detail"] == f.detail and o["detail"]["label"] == f.label
        assert isinstance(o["detail"]["summary"], str) and "\n" not in o["detail"]["summary"]
        for key in ("labels", "splits", "clip_ratio", "silence_ratio", "rms_dbfs", "z"):
            if key in o["detail"]:
                assert len(o["detail"][key]) == len(o["sample_ids"])
        if f.kind == "split_leak":
            assert o["detail"]["via"] in LEAK_VIA
    assert "dog/copy.flac" in out[1]["paths"]
    assert Finding("silence", (1,), None, {}).to_json({})["paths"] == [None]


def test_summaries_read_as_sentences():
    ds, ids, _ = planted()
    found = {
        (f.kind, f.detail.get("via")): f.detail["summary"]
        for f in find_issues(ds.table(), features=ds.features())
    }
    assert found[("split_leak", "speaker")] == "speaker 'spk_leak' has clips in test (1) and train (1)"
    assert (
        found[("clipping", None)] == "1 clip of 'bird' is clipped (more than 0.001 of samples at full scale)"
    )
    assert found[("silence", None)] == "1 clip of 'rain' is silent (at least 0.95 of frames silent)"
    assert found[("class_imbalance", None)].startswith(
        "'whale' has 2 clips, under 10% of the mean class size"
    )


def test_summaries_stay_on_one_line_whatever_the_labels():
    table = _small_table(label=["a\nb", "a\nb", "c"], speaker=["x\ny"] * 3, split=["train", "test", "test"])
    table["clip_ratio"] = 0.5
    table["pcm_sha256"] = "h"
    found = find_issues(table, thresholds=QcThresholds(imbalance=1.0))
    assert {f.kind for f in found} == {"exact_duplicate", "split_leak", "clipping", "class_imbalance"}
    assert all("\n" not in f.detail["summary"] for f in found)
    assert found[0].detail["summary"] == "3 clips have identical audio, labelled 'a\\nb', 'c'"


def test_fewer_rows_than_columns_give_the_same_principal_coordinates_as_the_covariance():
    from scipy.spatial.distance import pdist

    from audiosoup_widgets.analysis.neighbours import COMPONENTS, _standardised

    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 400)) * rng.uniform(0.5, 4.0, 400)
    z, k = _standardised(x)
    s = (x - x.mean(axis=0)) / x.std(axis=0)
    _, v = np.linalg.eigh(s.T @ s)
    reference = s @ v[:, ::-1][:, :COMPONENTS]
    assert k == COMPONENTS and z.shape == (60, COMPONENTS)
    np.testing.assert_allclose(pdist(z), pdist(reference), rtol=1e-9, atol=1e-9)
