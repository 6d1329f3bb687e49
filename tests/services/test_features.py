"""FeatureService: matrices computed once per content and parameters, first-use bookkeeping."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from widgettest_helpers import add_samples

import audiosoup_widgets.features as feature_api
import audiosoup_widgets.services.features as feature_services
from audiosoup_widgets.errors import FeatureError
from audiosoup_widgets.services import FAMILIES, FeatureParams, ReviewServices, features_in

FIRST = "yes/spk00_nohash_0.wav"


@pytest.fixture
def engine_calls(monkeypatch):
    calls: list[list[str]] = []
    real = feature_api.compute_features_with_status
    monkeypatch.setattr(
        feature_api,
        "compute_features_with_status",
        lambda y, sr, ids, **k: calls.append(list(ids)) or real(y, sr, ids, **k),
    )
    return calls


def test_a_family_is_computed_once_and_edits_keep_it(words, engine_calls):
    services, _, ids = words
    record = services.samples.get(ids[FIRST])
    assert not services.features.is_cached(record, "spectral")
    fs = services.features.compute(record, "spectral")
    assert set(fs.values) == {s.id for s in features_in("spectral")}
    assert fs.sr == 16000 and fs.seconds == 1.0 and not fs.truncated and fs.status == "ok"
    assert services.features.is_cached(record, "spectral")
    edited = services.samples.update(record, reviewer="ann", label="no")
    assert services.features.compute(edited, "spectral") is fs
    one = services.features.compute(record, "spectral", names=["mel_spectrogram"])
    assert list(one.values) == ["mel_spectrogram"]
    assert engine_calls == [[s.id for s in features_in("spectral")], ["mel_spectrogram"]]


def test_other_parameters_are_other_entries(words, engine_calls):
    services, store, ids = words
    other = ReviewServices(store, params=FeatureParams(n_fft=1024))
    assert other.features.params_key != services.features.params_key
    record = services.samples.get(ids[FIRST])
    services.features.compute(record, "deltas")
    other.features.compute(record, "deltas")
    assert len(engine_calls) == 2


def test_first_use_is_known_per_family(words, monkeypatch):
    services, _, ids = words
    monkeypatch.setattr(feature_services, "_ENGINE_WARM", threading.Event())
    monkeypatch.setattr(feature_services, "_FAMILIES_USED", set())
    assert not any(services.features.family_ready(f) for f in FAMILIES)
    record = services.samples.get(ids[FIRST])
    services.features.compute(record, "rhythmic", names=["tempogram"])
    assert not services.features.family_ready("rhythmic")  # a part does not count
    services.features.compute(record, "rhythmic")
    assert services.features.family_ready("rhythmic") and not services.features.family_ready("deltas")


def test_warm_up_runs_once_and_never_fails(monkeypatch, words):
    services, _, _ = words
    monkeypatch.setattr(feature_services, "_ENGINE_WARM", threading.Event())
    runs = []

    def boom():
        runs.append(1)
        raise RuntimeError("no compiler")

    monkeypatch.setattr(feature_api, "warm_up", boom)
    services.features.warm_up()
    services.features.warm_up()
    assert runs == [1] and all(services.features.family_ready(f) for f in FAMILIES)


def test_silent_clips_say_so_and_unusable_ones_are_plain_errors(sqlite_store, tmp_path, monkeypatch):
    ids = add_samples(
        sqlite_store,
        tmp_path / "a",
        clips=[{"label": "x", "name": "silent", "level": 0.0}, {"label": "x", "name": "bad"}],
    )
    services = ReviewServices(sqlite_store)
    silent = services.features.compute(services.samples.get(ids["x/silent.wav"]), "spectral")
    assert silent.status == "silent"
    # What the engine reports for NaN samples (a WAV file cannot hold them).
    monkeypatch.setattr(
        feature_api,
        "compute_features_with_status",
        lambda *a, **k: SimpleNamespace(status=["non_finite"], values={}, adaptations={}),
    )
    with pytest.raises(FeatureError, match="invalid \\(NaN or infinite\\) samples"):
        services.features.compute(services.samples.get(ids["x/bad.wav"]), "spectral")
