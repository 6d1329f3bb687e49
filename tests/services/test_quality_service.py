"""QualityService: histograms checked against numpy, the clips behind each bar and finding, checks.

The numbers come from real stores (both databases) holding synthetic rows with random
quality measures written through ``Store.write_quality``; every bar is checked by
brute force against the values read back with numpy.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import soundfile as sf
from signals import noise, word

from audiosoup_widgets.analysis.qc import QcThresholds
from audiosoup_widgets.errors import NotFoundError, ValidationError
from audiosoup_widgets.services import MEASURES, QualityService
from audiosoup_widgets.store import SampleQuery
from audiosoup_widgets.testing import seed_synthetic

N = 1500
FACTORS = {"sample_rate": 1e-3, "clip_ratio": 100.0, "silence_ratio": 100.0}


def measured_dataset(store, *, dataset: str = "q", n: int = N, unmeasured: int = 100, seed: int = 3):
    """Seed ``n`` rows; give all but the last ``unmeasured`` random quality measures."""
    seed_synthetic(store, dataset=dataset, n=n, labels=("yes", "no", "up", "down", "tiny"))
    ids = store.sample_ids(SampleQuery(dataset))
    rng = np.random.default_rng(seed)
    k = n - unmeasured
    clip = np.where(rng.random(k) < 0.6, 0.0, 10 ** rng.uniform(-5.5, -0.3, k))
    clip[:3] = (0.001, 0.0011, 0.3)  # on the threshold (not flagged), just over it, far over
    silence = rng.beta(1.2, 5, k)
    silence[:4] = (0.95, 1.0, 0.9499, 0.0)
    rows = [
        {
            "sample_id": int(i),
            "peak_dbfs": float(rng.uniform(-40, 0)),
            "rms_dbfs": float(rng.normal(-26, 7)) if j % 97 else -120.0,  # a few digital silences
            "clip_ratio": float(clip[j]),
            "silence_ratio": float(silence[j]),
            "snr_db": float(rng.gamma(4, 6)),
            "leading_silence_s": 0.1,
            "trailing_silence_s": 0.1,
            "dc_offset": 0.0,
            "bandwidth_hz": 4000.0,
            "pcm_sha256": f"{i:064x}",
        }
        for j, i in enumerate(ids[:k])
    ]
    store.write_quality(rows, version=1)
    return ids


def brute_members(values: np.ndarray, ids: np.ndarray, lo: float, hi: float, *, point: bool, right: bool):
    """Ids whose value lies in one bar, by plain comparisons (no searchsorted)."""
    if point:
        keep = values == lo
    elif right:
        keep = (values > lo) & (values <= hi)
    else:
        keep = (values >= lo) & ((values < hi) | (np.isinf(hi) & np.isfinite(values)))
    return set(ids[keep].tolist())


def test_every_bar_counts_exactly_its_clips_and_the_bars_cover_every_measured_clip(store):
    measured_dataset(store)
    svc = QualityService(store)
    ov = svc.overview("q")
    cols = store.quality_columns("q")
    ids = np.asarray(cols["sample_id"])
    assert ov.clips == N and ov.measured == N - 100
    assert [h.measure for h in ov.histograms] == list(MEASURES)
    for h in ov.histograms:
        values = np.asarray(cols[h.measure], dtype=float) * FACTORS.get(h.measure, 1.0)
        finite = np.isfinite(values)
        assert h.counts.sum() == h.measured == finite.sum(), h.measure
        assert h.missing == (~finite).sum()
        seen: set[int] = set()
        for i, (lo, hi, count) in enumerate(zip(h.lows, h.highs, h.counts, strict=True)):
            got = svc.bar_ids("q", h.measure, i)
            assert len(got) == count and got == sorted(got), (h.measure, i)
            top = h.measure in ("clip_ratio", "silence_ratio") and i == len(h.counts) - 1
            expected = brute_members(
                values, ids, lo, hi + (1e-9 if top else 0.0), point=lo == hi, right=h.measure == "clip_ratio"
            )
            assert set(got) == expected, (h.measure, h.labels[i])
            seen |= expected
        assert seen == set(ids[finite].tolist())
    # Not measured yet: the last 100 clips are in no bar of the measures (duration comes from ingest).
    assert ov.histogram("snr_db").missing == 100 and ov.histogram("duration").missing == 0


def test_the_flagged_bars_hold_exactly_the_clips_the_thresholds_flag(store):
    measured_dataset(store)
    svc = QualityService(store)
    cols = store.quality_columns("q")
    ids = np.asarray(cols["sample_id"])
    th = QcThresholds()
    rules = {
        "clip_ratio": np.asarray(cols["clip_ratio"]) > th.clip_ratio,
        "silence_ratio": np.asarray(cols["silence_ratio"]) >= th.silence_ratio,
    }
    for measure, rule in rules.items():
        h = svc.overview("q").histogram(measure)
        flagged = {i for b in np.flatnonzero(h.flagged) for i in svc.bar_ids("q", measure, int(b))}
        assert flagged == set(ids[rule].tolist()) and flagged, measure
        assert h.flag_note.startswith("Shaded:")
    # Measures without a threshold shade nothing.
    assert not svc.overview("q").histogram("rms_db").flagged.any()


def test_levels_get_round_bars_with_outliers_apart_and_few_values_one_bar_each(sqlite_store):
    measured_dataset(sqlite_store)
    ov = QualityService(sqlite_store).overview("q")
    rms = ov.histogram("rms_db")
    regular = (
        rms.highs[np.isfinite(rms.lows) & np.isfinite(rms.highs)]
        - rms.lows[np.isfinite(rms.lows) & np.isfinite(rms.highs)]
    )
    assert np.allclose(regular, regular[0]) and 10 <= len(rms.counts) <= 45
    # The digital silences (-120 dBFS) sit in a bar of their own below the rest.
    assert rms.labels[0].startswith("below") and rms.counts[0] >= 14
    sr = ov.histogram("sample_rate")
    assert sr.discrete and sr.labels == ("16 kHz",) and sr.counts.tolist() == [N]
    assert ov.histogram("channels").labels == ("1",)
    clip = ov.histogram("clip_ratio")
    assert clip.labels[0] == "0 % of samples" and clip.lows[0] == clip.highs[0] == 0
    # 1-3 steps on a log scale above zero, and 0.1 % (the threshold) is a bar bound.
    assert 0.1 in clip.lows.tolist()


def test_mixed_sample_rates_and_wide_durations(sqlite_store):
    from audiosoup_widgets.testing import sample_row

    ds = sqlite_store.ensure_dataset("mix", root="/nowhere", layout="folders")
    rates = [8000] * 5 + [16000] * 7 + [44100] * 3
    durations = [0.5, 1, 2, 5, 10, 30, 60, 0.3, 0.7, 1.5, 3, 7, 15, 45, 90]
    rows = [
        sample_row(ds, f"c{i}.wav", sample_rate=r, frames=int(r * d), duration=float(d))
        for i, (r, d) in enumerate(zip(rates, durations, strict=True))
    ]
    sqlite_store.insert_samples(rows)
    ov = QualityService(sqlite_store).overview("mix")
    sr = ov.histogram("sample_rate")
    assert sr.labels == ("8 kHz", "16 kHz", "44.1 kHz") and sr.counts.tolist() == [5, 7, 3]
    dur = ov.histogram("duration")
    assert not dur.discrete and dur.counts.sum() == 15
    # Spread over more than a factor of 20: 1-2-5 log bars.
    assert set(dur.lows[np.isfinite(dur.lows)].tolist()) <= {
        m * 10.0**k for k in range(-2, 3) for m in (1.0, 2.0, 5.0)
    }
    assert ov.checked_at is None and ov.findings == () and ov.measured == 0


def test_class_balance_counts_every_label_and_split_and_names_their_clips(store):
    from audiosoup_widgets.testing import sample_row

    ds = seed_synthetic(store, dataset="b", n=201, labels=("yes", "no", "up"))
    # Two clips without a label.
    store.insert_samples([sample_row(ds, f"loose/{i}.wav", split="train") for i in range(2)])
    svc = QualityService(store)
    bal = svc.overview("b").balance
    cols = store.quality_columns("b")
    ids = np.asarray(cols["sample_id"])
    labels, splits = list(cols["label"]), list(cols["split"])
    assert bal.splits == ("train", "validation", "test") and bal.labels[-1] is None
    assert bal.counts.sum() == 203 and bal.counts.shape == (3, 4)
    totals = bal.counts.sum(axis=0)
    assert list(totals[:-1]) == sorted(totals[:-1], reverse=True)
    for li, lab in enumerate(bal.labels):
        of_label = np.array([x == lab for x in labels])
        for si, spl in enumerate(bal.splits):
            keep = of_label & np.array([x == spl for x in splits])
            assert bal.counts[si, li] == keep.sum()
            assert svc.balance_ids("b", li, si) == ids[keep].tolist()
        assert svc.balance_ids("b", li) == ids[of_label].tolist()


def save(store, dataset, findings, *, minutes=0, thresholds=None):
    return store.save_findings(
        dataset,
        findings=findings,
        params={**(thresholds or QcThresholds()).as_dict(), "features": []},
        started_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes),
    )


def test_findings_are_listed_by_kind_with_their_clips(store):
    seed_synthetic(store, dataset="f", n=40)
    ids = store.sample_ids(SampleQuery("f"))
    save(
        store,
        "f",
        [
            {"kind": "silence", "label": "yes", "sample_ids": ids[5:8], "detail": {"summary": "3 silent"}},
            {
                "kind": "exact_duplicate",
                "label": None,
                "sample_ids": ids[:2],
                "detail": {"summary": "a copy"},
            },
            {"kind": "class_imbalance", "label": "up", "sample_ids": ids[9:10], "detail": {}},
        ],
    )
    svc = QualityService(store)
    ov = svc.overview("f")
    assert [f.kind for f in ov.findings] == ["exact_duplicate", "silence", "class_imbalance"]
    assert [f.count for f in ov.findings] == [2, 3, 1]
    assert ov.findings[0].summary == "a copy" and "up" in ov.findings[2].summary
    assert ov.checked_at is not None and ov.checked_clips == 40
    assert svc.finding_ids("f", ov.findings[1].id) == ids[5:8]


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda s: s.bar_ids("q", "loudness", 0), ValidationError),
        (lambda s: s.bar_ids("q", "rms_db", 10_000), ValidationError),
        (lambda s: s.bar_ids("q", "rms_db", -1), ValidationError),
        (lambda s: s.bar_ids("q", "rms_db", True), ValidationError),
        (lambda s: s.bar_ids("q", "rms_db", "2"), ValidationError),
        (lambda s: s.finding_ids("q", 987_654), NotFoundError),
        (lambda s: s.finding_ids("q", 1.5), ValidationError),
        (lambda s: s.balance_ids("q", 99), ValidationError),
        (lambda s: s.overview("nope"), NotFoundError),
        (lambda s: s.overview(""), ValidationError),
    ],
)
def test_bad_requests_are_refused_with_plain_errors(sqlite_store, call, error):
    measured_dataset(sqlite_store, n=60, unmeasured=5)
    with pytest.raises(error):
        call(QualityService(sqlite_store))


def test_the_overview_is_cached_until_forgotten_or_a_newer_check_is_stored(sqlite_store):
    measured_dataset(sqlite_store, n=80, unmeasured=0)
    svc = QualityService(sqlite_store)
    first = svc.overview("q")
    assert svc.overview("q") is first
    svc.forget("q")
    again = svc.overview("q")
    assert again is not first and again.findings == ()
    ids = sqlite_store.sample_ids(SampleQuery("q"))
    # A check run elsewhere (the command line) is seen on the next call.
    save(sqlite_store, "q", [{"kind": "silence", "label": None, "sample_ids": ids[:4], "detail": {}}])
    newer = svc.overview("q")
    assert newer is not again and [f.count for f in newer.findings] == [4]


def test_the_shading_follows_the_thresholds_of_the_latest_check(sqlite_store):
    measured_dataset(sqlite_store, n=300, unmeasured=0)
    svc = QualityService(sqlite_store)
    default = svc.overview("q").histogram("silence_ratio")
    assert default.lows[default.flagged].min() == 95.0
    save(sqlite_store, "q", [], thresholds=QcThresholds(silence_ratio=0.42, clip_ratio=0.02))
    ov = svc.overview("q")
    silence, clip = ov.histogram("silence_ratio"), ov.histogram("clip_ratio")
    assert silence.lows[silence.flagged].min() == 42.0 and "42 %" in silence.flag_note
    assert clip.lows[clip.flagged].min() == 2.0
    values = np.asarray(sqlite_store.quality_columns("q")["silence_ratio"])
    shaded = sum(int(c) for c in silence.counts[silence.flagged])
    assert shaded == (values >= 0.42).sum()


# -- a real check on real audio ---------------------------------------------------------------


SR = 16000


def make_small_planted(root) -> dict[str, str]:
    """Twelve spoken-word clips over two labels, plus a copy, a silent and a clipped clip."""
    for li, lab in enumerate(("yes", "no")):
        (root / lab).mkdir(parents=True)
        for n in range(6):
            y = word(SR, f0=150 + 17 * n + 40 * li, level=0.3, seed=7 * n + li)
            y = y + noise(SR, seconds=1.0, seed=100 + 7 * n + li, level=0.002)
            sf.write(root / lab / f"spk{n}_nohash_{li}.wav", y.astype(np.float32), SR, subtype="PCM_16")
    planted = {
        "copy": "no/spk9_nohash_9.wav",
        "silent": "yes/spk8_nohash_8.wav",
        "clipped": "yes/spk7_nohash_7.wav",
    }
    (root / planted["copy"]).write_bytes((root / "yes/spk0_nohash_0.wav").read_bytes())
    sf.write(root / planted["silent"], np.zeros(SR, np.float32), SR, subtype="PCM_16")
    loud = np.clip(word(SR, f0=200, level=0.3, seed=5) * 8.0, -1.0, 1.0)
    sf.write(root / planted["clipped"], loud.astype(np.float32), SR, subtype="PCM_16")
    return planted


@pytest.mark.slow
def test_run_check_stores_findings_that_the_overview_then_lists(sqlite_store, tmp_path):
    from audiosoup_widgets.jobs.ingest import load_dataset

    planted = make_small_planted(tmp_path / "planted")
    load_dataset(sqlite_store, tmp_path / "planted", dataset="planted", workers=1)
    paths = {r.path: r.id for r in sqlite_store.page_samples(SampleQuery("planted"), page_size=100)}
    svc = QualityService(sqlite_store)
    before = svc.overview("planted")
    assert before.findings == () and before.checked_at is None
    stages: list[str] = []
    outcome = svc.run_check("planted", workers=1, features=False, progress=lambda s, d, t: stages.append(s))
    after = svc.overview("planted")
    assert after is not before and after.checked_at is not None
    assert outcome.findings == len(after.findings) > 0
    kinds = {f.kind: svc.finding_ids("planted", f.id) for f in after.findings}
    assert {paths["yes/spk0_nohash_0.wav"], paths[planted["copy"]]} <= set(kinds["exact_duplicate"])
    assert paths[planted["silent"]] in kinds["silence"]
    assert paths[planted["clipped"]] in kinds["clipping"]
    # The histograms agree: the clipped clip is in a shaded clipping bar.
    clip = after.histogram("clip_ratio")
    shaded = {i for b in np.flatnonzero(clip.flagged) for i in svc.bar_ids("planted", "clip_ratio", int(b))}
    assert paths[planted["clipped"]] in shaded
    assert math.isclose(outcome.seconds, outcome.seconds) and outcome.notes  # near duplicates not searched
