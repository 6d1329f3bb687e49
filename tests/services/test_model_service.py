"""ModelService: fit, history, badges, the review's "why", and accept / keep / ambiguous with history."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from audiosoup_widgets.errors import NotFoundError, ValidationError
from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.store import Store
from audiosoup_widgets.store.models import Sample
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

LABELS = ("yes", "no", "up", "down")


@pytest.fixture
def svc(store: Store):
    seed_synthetic(store, dataset="d", n=200, labels=LABELS)
    seed_summaries(store, "d", rows={"mfcc": 4, "chroma": 3}, spread=1.5)
    flipped = []
    for sid, _, label, split in store.sample_table("d")[:12]:
        if split == "train":
            store.update_sample(sid, version=1, reviewer="t", label=LABELS[(LABELS.index(label) + 1) % 4])
            flipped.append(sid)
    services = ReviewServices(store)
    services.model.fit("d", features=["mfcc", "chroma"], reviewer="ann")
    return store, services, flipped


def _top_suspect(store: Store, services: ReviewServices) -> int:
    run = services.model.latest_run("d")
    assert run is not None
    return store.run_suspects(run.id)[0].sample_id


def test_badges_and_the_why(svc):
    store, services, flipped = svc
    badges = services.model.suspects("d", [s for s, *_ in store.sample_table("d")][:24])
    assert set(flipped) & set(badges)
    first = badges[min(badges)]
    assert first.suggested != first.label and 0 < first.score <= 1
    sid = _top_suspect(store, services)
    why = services.model.explain(sid)
    assert len(why.top3) == 3 and why.top3[0][0] == why.suggested
    assert len(why.nearest) == 3
    for nid, name in why.nearest:
        near = services.samples.get(nid)
        assert near.label == why.suggested and near.file_name == name and nid != sid


def test_accept_is_a_label_edit_with_its_reason(svc):
    store, services, _ = svc
    sid = _top_suspect(store, services)
    why = services.model.explain(sid)
    saved = services.model.accept(sid, reviewer="ann", reason="heard it")
    assert saved.label == why.suggested
    edit = services.samples.history(sid)[0]
    assert edit.field == "label" and edit.kind == "edit" and edit.new == why.suggested
    assert edit.reason is not None and "model run" in edit.reason and edit.reason.endswith("heard it")
    assert sid not in services.model.suspects("d", [sid])  # its label changed: no longer a suspect
    with pytest.raises(ValidationError, match="label changed since the model judged it"):
        services.model.accept(sid, reviewer="ann")


def test_keep_holds_until_the_label_or_the_audio_changes(svc):
    store, services, _ = svc
    sid = _top_suspect(store, services)
    services.model.keep(sid, reviewer="bob", reason="the speaker says it oddly")
    row = services.samples.history(sid)[0]
    assert (row.field, row.kind, row.new, row.reason) == (
        "suspect",
        "review",
        "keep",
        "the speaker says it oddly",
    )
    assert sid not in services.model.suspects("d", [sid])
    run = services.model.latest_run("d")
    kept = store.run_suspects(run.id, ids=[sid], include_reviewed=True)
    assert kept[0].decision == "keep"
    # The audio changes (a re-recorded file): the decision no longer holds.
    with store.session() as sess:
        sess.execute(update(Sample).where(Sample.id == sid).values(content_hash="f" * 64))
    assert sid in services.model.suspects("d", [sid])
    # Ambiguous is recorded the same way, and undo never reverts a decision.
    services.model.ambiguous(sid, reviewer="bob")
    assert sid not in services.model.suspects("d", [sid])
    assert services.samples.history(sid)[0].new == "ambiguous"
    assert not any(e.kind == "review" and e.undone for e in services.samples.history(sid))


def test_a_refit_after_a_keep_still_respects_it_until_the_label_changes(svc):
    store, services, _ = svc
    sid = _top_suspect(store, services)
    services.model.keep(sid, reviewer="bob")
    services.model.fit("d", features="mfcc,chroma")
    assert sid not in services.model.suspects("d", [sid])
    record = services.samples.get(sid, fresh=True)
    other = next(lab for lab in LABELS if lab != record.label)
    services.samples.update(record, reviewer="bob", label=other)
    services.model.fit("d", features="mfcc,chroma")
    run = services.model.latest_run("d")
    judged = store.run_suspects(run.id, ids=[sid], issues_only=False, include_reviewed=True)
    assert judged[0].label == other and judged[0].decision is None  # a new label: judged afresh
    services.samples.update(services.samples.get(sid, fresh=True), reviewer="bob", label=record.label)
    services.model.fit("d", features="mfcc,chroma")
    # Back to the same label by hand: the kept decision is about the label and audio, so it holds.
    assert sid not in services.model.suspects("d", [sid])


def test_history_and_bad_input(svc):
    store, services, _ = svc
    services.model.fit("d", features=["mfcc"])
    history = services.model.history("d")
    assert len(history) == 2 and "removing chroma" in (history[0][1] or "")
    with pytest.raises(ValidationError, match="tick at least one feature"):
        services.model.fit("d", features=[])
    with pytest.raises(ValidationError, match="unknown model"):
        services.model.fit("d", features="mfcc", model="svm")
    with pytest.raises(ValidationError, match="invalid sample id"):
        services.model.explain("x")
    with pytest.raises(ValidationError, match="enter your name"):
        services.model.keep(_top_suspect(store, services), reviewer=" ")
    with pytest.raises(NotFoundError):
        services.model.explain(10**9)
    assert services.model.suspects("d", []) == {}
