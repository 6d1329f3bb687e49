"""RankingService: the ranking cached under an input key, bars, one feature's detail, refusals."""

from __future__ import annotations

import pytest

from audiosoup_widgets.errors import FeatureError, ValidationError
from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

ROWS = {"mfcc": 4, "chroma": 3, "onset_strength": 1}


@pytest.fixture
def services(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'rank.sqlite3'}")
    store.upgrade()
    seed_synthetic(store, dataset="syn", n=120)
    seed_summaries(store, "syn", rows=ROWS)
    yield ReviewServices(store)
    store.dispose()


def test_rank_is_cached_until_the_input_changes(services):
    rk = services.ranking
    assert rk.current("syn") is None
    ranking = rk.rank("syn")
    assert ranking.split == "train" and ranking.labels == ("down", "no", "up", "yes")
    assert set(ranking.features) == set(ROWS)
    assert rk.current("syn") is ranking and rk.rank("syn") is ranking
    assert rk.rank("syn", recompute=True) is not ranking
    # A relabel changes the key: the cached table is no longer handed out.
    first = rk.rank("syn")
    rec = services.samples.get(1, dataset="syn")
    services.samples.update(rec, reviewer="t", label="up")
    assert rk.current("syn") is None
    assert rk.rank("syn") is not first


def test_bars_and_detail(services):
    rk = services.ranking
    ranking = rk.rank("syn")
    bars = rk.bars(ranking, by="f")
    assert [b.rank for b in bars] == list(range(1, len(bars) + 1))
    assert bars == sorted(bars, key=lambda b: -b.score)
    assert all(b.low <= b.score <= b.high for b in bars)
    mi = rk.bars(ranking, by="mi", scope="yes")
    assert {b.feature for b in mi} == set(ROWS)
    d = rk.detail(ranking, "mfcc", by="f")
    assert d.column.startswith("mfcc_") and len(d.edges) == len(d.bar_labels) + 1
    assert [h.label for h in d.histograms] == list(ranking.labels)
    assert sum(h.n for h in d.histograms) == ranking.n_rows
    assert len(d.lowest) == len(d.highest) == 5
    assert d.lowest[0].value <= d.lowest[-1].value <= d.highest[-1].value <= d.highest[0].value
    assert rk.features_of(ranking, ["rhythmic"]) == ["onset_strength"]


@pytest.mark.parametrize(
    "call",
    [
        lambda rk, r: rk.bars(r, by="auc"),
        lambda rk, r: rk.bars(r, scope="nope"),
        lambda rk, r: rk.detail(r, "not_a_feature"),
        lambda rk, r: rk.detail(r, "tempogram"),  # registered, but not ranked
        lambda rk, r: rk.detail(r, ["mfcc"]),
        lambda rk, r: rk.features_of(r, ["colour"]),
    ],
)
def test_bad_input_is_refused(services, call):
    rk = services.ranking
    with pytest.raises(ValidationError):
        call(rk, rk.rank("syn"))


def test_no_summaries_names_the_command(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    store.upgrade()
    seed_synthetic(store, dataset="bare", n=20)
    with pytest.raises(FeatureError, match="audiosoup features compute --dataset bare"):
        ReviewServices(store).ranking.rank("bare")
    store.dispose()
