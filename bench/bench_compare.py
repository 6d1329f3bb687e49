"""Benchmark the comparison view: 4 clips side by side, warm engine, server side (no browser).

Seeds a throwaway SQLite database with one-second 16 kHz clips (two labels) and times,
the median of several runs, through the whole :class:`ComparisonView` (the service's
matrices, the shared scale, the display math, the PNGs and the bqplot figures):

* ``compare4_warm``: 4 clips never compared nor decoded in this process, the feature
  engine already warm (what a user waits for after pressing Compare); target <= 300 ms;
* ``compare4_cached``: the same 4 clips again (the service's cache answers);
* ``compare4_feature``: the same 4 clips, another feature family (MFCC);
* ``compare4_long``: 4 clips of 10 s, warm;
* ``template64``: the mel-spectrogram template of a label, 64 clips read from audio;
* ``effect_sizes``: Cohen's d of every stored summary column between two labels of
  ``--n-summaries`` clips each (synthetic summaries written to the store).

Usage::

    python bench/bench_compare.py [--runs 7] [--n-summaries 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

TARGETS_MS = {"compare4_warm": 300}


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def _clip(seconds: float, sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 7 * seed
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.hanning(len(t))
    return (0.3 * y / np.abs(y).max() + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def seed(store, root: Path, *, n_short: int, n_long: int) -> dict[str, list[int]]:
    """Write the clips and insert them; return ids by label (``tone``, ``hum``, ``long``)."""
    from audiosoup_widgets.store import SampleQuery
    from audiosoup_widgets.testing import sample_row

    ds = store.ensure_dataset("bench-compare", root=str(root), layout="folders")
    labels = store.ensure_labels(ds, ["tone", "hum", "long"])
    rows = []
    for i in range(n_short + n_long):
        label = "long" if i >= n_short else ("tone" if i % 2 == 0 else "hum")
        seconds = 10.0 if label == "long" else 1.0
        y = _clip(seconds, 16000, i)
        rel = f"{label}/clip_{i:04d}.wav"
        (root / label).mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, y, 16000, subtype="PCM_16")
        rows.append(sample_row(ds, rel, audio=y, label_id=labels[label], subtype="PCM_16", sample_rate=16000))
    store.insert_samples(rows)
    out: dict[str, list[int]] = {}
    for label in labels:
        out[label] = store.sample_ids(SampleQuery("bench-compare", labels=(label,)))
    return out


def add_summaries(store, ids: dict[str, list[int]], n: int) -> None:
    """Write synthetic summaries of the effect-size features for ``n`` clips of tone and hum."""
    from audiosoup_widgets.features import FeatureParams
    from audiosoup_widgets.services.compare import EFFECT_FEATURES
    from audiosoup_widgets.store.summaries import SummaryRecord

    params = FeatureParams()
    widths = {"mel_spectrogram": 128, "spectral_contrast": 7, "chroma": 12, "tonnetz": 6}
    widths |= {"onset_strength": 1, "mfcc": 20, "mfcc_delta": 20, "mfcc_delta2": 20, "stack_memory": 24}
    widths |= {"mel_delta": 128, "mel_delta2": 128}
    rng = np.random.default_rng(0)
    records = []
    for shift, label in enumerate(("tone", "hum")):
        for sid in ids[label][:n]:
            for name in EFFECT_FEATURES:
                v = rng.normal(shift * 0.3, 1.0, 2 * widths[name]).astype(np.float32)
                records.append(SummaryRecord(sid, name, params.key_for(name), "ok", v, 32))
    store.save_summaries(records)


def run(runs: int, n_summaries: int) -> dict:
    """Seed, time, clean up; return the results."""
    from audiosoup_widgets.app import build_review_app
    from audiosoup_widgets.features.engine import warm_up
    from audiosoup_widgets.store import Store

    results: dict = {"runs": runs}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        store.upgrade()
        n_short = max(2 * n_summaries, 4 * (runs + 1) + 130)
        ids = seed(store, Path(tmp) / "audio", n_short=n_short, n_long=4 * (runs + 1))
        warm_up()  # what the app does in the background at start-up
        app = build_review_app(db=store, dataset="bench-compare", warm_up=False)
        st, view = app.state, app.comparison
        st.show("compare")

        def show(chosen: list[int]) -> float:
            t0 = time.perf_counter()
            st.compare_ids = chosen  # as the selection bar's Compare button writes it
            dt = time.perf_counter() - t0
            assert len(view.figures) == 4 and not st.error, st.error
            return dt

        hum = ids["hum"]
        show(hum[-4:])  # first comparison of the process: display caches, bqplot widgets
        groups = [hum[4 * r : 4 * r + 4] for r in range(runs)]
        results["compare4_warm"] = _median_ms([show(g) for g in groups])
        cached = []
        for g in groups:
            show(hum[-4:])
            cached.append(show(g))
        results["compare4_cached"] = _median_ms(cached)
        other = []
        for g in groups:
            view.vue_set_feature("mel_spectrogram")
            show(g)
            t0 = time.perf_counter()
            view.vue_set_feature("mfcc")
            other.append(time.perf_counter() - t0)
        results["compare4_feature"] = _median_ms(other)
        view.vue_set_feature("mel_spectrogram")
        longs = ids["long"]
        show(longs[-4:])
        results["compare4_long"] = _median_ms([show(longs[4 * r : 4 * r + 4]) for r in range(runs)])

        compare = app.services.compare
        times = []
        for _ in range(max(1, runs // 2)):
            compare.forget()
            t0 = time.perf_counter()
            t = compare.template("bench-compare", "tone", "mel_spectrogram")
            times.append(time.perf_counter() - t0)
            assert t.n_matrix == 64
        results["template64"] = _median_ms(times)

        add_summaries(store, ids, n_summaries)
        times = []
        for _ in range(max(1, runs // 2)):
            compare.forget()
            t0 = time.perf_counter()
            eff = compare.effect_sizes("bench-compare", "tone", "hum")
            times.append(time.perf_counter() - t0)
        results["effect_sizes"] = _median_ms(times)
        results["effect_columns"] = len(eff.table)
        results["n_summaries"] = n_summaries
        app.close()
        store.dispose()
    results["targets_ms"] = TARGETS_MS
    results["ok"] = all(results[k] <= v for k, v in TARGETS_MS.items())
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7, help="runs per measurement (median reported)")
    p.add_argument("--n-summaries", type=int, default=2000, help="clips per label with stored summaries")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    res = run(args.runs, args.n_summaries)
    print(f"comparison view, median of {res['runs']} runs (server side)")
    print(f"{'measurement':<46}{'ms':>10}{'target':>10}")
    rows = [
        ("4 clips of 1 s, warm engine, not cached", "compare4_warm"),
        ("4 clips of 1 s, cached", "compare4_cached"),
        ("4 clips of 1 s, another feature (MFCC)", "compare4_feature"),
        ("4 clips of 10 s, warm engine, not cached", "compare4_long"),
        ("mel template of a label (64 clips)", "template64"),
        (f"effect sizes, 2 x {res['n_summaries']:,} clips, {res['effect_columns']} cols", "effect_sizes"),
    ]
    for title, key in rows:
        target = TARGETS_MS.get(key)
        print(f"{title:<46}{res[key]:>10.1f}{('<= ' + str(target)) if target else '':>10}")
    print("all targets met" if res["ok"] else "SOME TARGETS MISSED")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
