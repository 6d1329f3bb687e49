"""AnnotationService: reviewers' label votes (blind or not), tags, reviewer flags, regions, notes.

The use cases behind a clip's annotations, each with the reviewer's name, its history and
undo:

* a label vote per reviewer and clip; in blind mode a reviewer who has not voted on a
  clip is given neither its vote distribution nor the others' votes (:meth:`votes_view`);
* tags, with the dataset's tag vocabulary for autocomplete (prefix matches first);
* reviewer flags from a configurable list (:data:`DEFAULT_FLAGS`; the ``flags`` argument
  or the ``AUDIOSOUP_FLAGS`` environment variable, comma-separated), kept apart from the
  quality flags ingest gives a clip;
* time regions and notes, edited under a version (a stale edit is a :class:`ConflictError`);
* a selection's tags or flags in one step (one batch id), undone as one step;
* the agreement of a dataset's reviewers (:func:`audiosoup_widgets.jobs.agreement.agreement`).

Every input is checked here first, each error one plain sentence. A change of votes, tags
or flags moves clips between the grid's filters (disagreements, tags, reviewer flags), so
it drops the sample service's cached counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ValidationError
from ..jobs.agreement import AgreementReport
from ..jobs.agreement import agreement as dataset_agreement
from ..store import Store
from ..store.annotation_items import validate_note_text, validate_span
from ..store.annotations import MAX_TAG, MAX_WORDS, validate_word
from ..store.idset import validate_ids
from ..store.records import (
    AnnotationBatchRecord,
    AnnotationEditRecord,
    AnnotationUndoRecord,
    NoteRecord,
    RegionRecord,
    SampleAnnotations,
    VoteRecord,
)
from ..store.relabel import validate_batch_id
from .samples import SampleService, as_sample_id, validate_label_name, validate_reviewer

__all__ = [
    "AnnotationService",
    "AgreementReport",
    "VotesView",
    "DEFAULT_FLAGS",
    "FLAGS_ENV",
    "MAX_TAG",
    "MAX_WORDS",
    "flags_from_env",
    "AnnotationBatchRecord",
    "AnnotationEditRecord",
    "AnnotationUndoRecord",
    "NoteRecord",
    "RegionRecord",
    "SampleAnnotations",
    "VoteRecord",
]

#: The reviewer flags offered when none are configured.
DEFAULT_FLAGS: tuple[str, ...] = ("noisy", "clipped", "wrong word", "unusable", "background speech")
#: The environment variable that sets the reviewer flags (comma-separated).
FLAGS_ENV = "AUDIOSOUP_FLAGS"
#: Suggestions the tag vocabulary gives by default.
VOCABULARY_LIMIT = 20


def _flag_list(flags: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for f in flags:
        word = validate_word(f, what="flag")
        if word not in out:
            out.append(word)
    if not out:
        raise ValidationError("give at least one reviewer flag")
    return tuple(out)


def flags_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Return the reviewer flags of ``AUDIOSOUP_FLAGS`` (comma-separated), else the defaults."""
    raw = (os.environ if environ is None else environ).get(FLAGS_ENV, "")
    words = [w for w in raw.split(",") if w.strip()]
    return _flag_list(words) if words else DEFAULT_FLAGS


@dataclass(frozen=True)
class VotesView:
    """What a reviewer may see of a clip's votes.

    Attributes
    ----------
    sample_id : int
    my_vote : str or None
        The reviewer's own vote.
    hidden : bool
        Blind mode and no vote of the reviewer yet: ``distribution``, ``votes`` and
        ``consensus`` are left empty (not merely flagged), and ``n_votes`` is 0.
    distribution : dict
        Votes per label, most first.
    votes : tuple of (str, str)
        Every (reviewer, label), the reviewer's own included, by reviewer.
    consensus : str or None
        The majority label (``None`` for a tie).
    n_votes : int
    """

    sample_id: int
    my_vote: str | None
    hidden: bool
    distribution: dict[str, int] = field(default_factory=dict)
    votes: tuple[tuple[str, str], ...] = field(default=())
    consensus: str | None = None
    n_votes: int = 0


def _region_label(label: str | None) -> str | None:
    if label is not None and not isinstance(label, str):
        raise ValidationError("a region's label must be text")
    if label is not None and len(label.strip()) > MAX_TAG:
        raise ValidationError(f"a region's label is at most {MAX_TAG} characters")
    return label


def _item(value: object, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValidationError(f"invalid {what} id")
    return value


def _version(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("a version is a whole number from 1")
    return value


class AnnotationService:
    """Annotations of clips, with history, undo and the agreement of reviewers.

    Parameters
    ----------
    store : Store
        The open store.
    samples : SampleService
        The sample service whose cached counts a change of votes, tags or flags makes stale.
    flags : sequence of str, optional
        The reviewer flags offered (default: ``AUDIOSOUP_FLAGS``, else :data:`DEFAULT_FLAGS`).
    """

    def __init__(self, store: Store, samples: SampleService, *, flags: Sequence[str] | None = None) -> None:
        self._store = store
        self._samples = samples
        self.flags: tuple[str, ...] = flags_from_env() if flags is None else _flag_list(flags)

    def _sample(self, sample_id: object) -> int:
        sid = as_sample_id(sample_id)
        self._samples.get(sid)  # NotFoundError for an unknown clip, in one sentence
        return sid

    # -- votes ------------------------------------------------------------------------

    def vote(self, sample_id: object, label: str, *, reviewer: str) -> VoteRecord:
        """Record the reviewer's label vote on a clip (replacing their earlier vote)."""
        who = validate_reviewer(reviewer)
        label = validate_label_name(label)
        rec = self._store.set_vote(self._sample(sample_id), label, reviewer=who)
        self._samples.forget()
        return rec

    def clear_vote(self, sample_id: object, *, reviewer: str) -> bool:
        """Withdraw the reviewer's vote on a clip; return whether there was one."""
        who = validate_reviewer(reviewer)
        done = self._store.clear_vote(self._sample(sample_id), reviewer=who)
        self._samples.forget()
        return done

    def votes_view(self, sample_id: object, *, reviewer: str, blind: bool) -> VotesView:
        """Return what ``reviewer`` may see of a clip's votes.

        In blind mode, until the reviewer has voted on the clip, the others' votes, the
        distribution and the consensus are not returned at all.
        """
        from ..analysis.agreement import majority_label, vote_distribution

        who = validate_reviewer(reviewer)
        sid = as_sample_id(sample_id)
        votes = self._store.sample_votes(sid)
        mine = next((v.label for v in votes if v.reviewer == who), None)
        if blind and mine is None:
            return VotesView(sample_id=sid, my_vote=None, hidden=True)
        labels = [v.label for v in votes]
        return VotesView(
            sample_id=sid,
            my_vote=mine,
            hidden=False,
            distribution=vote_distribution(labels),
            votes=tuple((v.reviewer, v.label) for v in votes),
            consensus=majority_label(labels),
            n_votes=len(votes),
        )

    # -- tags and reviewer flags ------------------------------------------------------

    def tag(self, sample_id: object, tag: str, *, reviewer: str) -> bool:
        """Tag a clip; return whether the tag is new to it."""
        who = validate_reviewer(reviewer)
        word = validate_word(tag, what="tag")
        done = self._store.add_tag(self._sample(sample_id), word, reviewer=who)
        self._samples.forget()
        return done

    def untag(self, sample_id: object, tag: str, *, reviewer: str) -> bool:
        """Remove a tag from a clip; return whether it had it."""
        who = validate_reviewer(reviewer)
        word = validate_word(tag, what="tag")
        done = self._store.remove_tag(self._sample(sample_id), word, reviewer=who)
        self._samples.forget()
        return done

    def tag_vocabulary(
        self, dataset: str, prefix: str = "", *, contains: bool = False, limit: int | None = VOCABULARY_LIMIT
    ) -> list[tuple[str, int]]:
        """Return the dataset's tags matching ``prefix`` with their clip counts, for autocomplete.

        Parameters
        ----------
        dataset : str
        prefix : str
            What the reviewer typed (case-insensitive); empty: every tag.
        contains : bool
            Also tags with ``prefix`` inside them, after those starting with it.
        limit : int or None
            At most this many (None: all).

        Returns
        -------
        list of (str, int)
            Most used first within each group.
        """
        if not isinstance(prefix, str) or len(prefix) > MAX_TAG:
            raise ValidationError(f"a tag is at most {MAX_TAG} characters")
        typed = " ".join(prefix.split())
        out = self._store.word_counts("tag", dataset, prefix=typed)
        if contains and typed:
            seen = {w for w, _ in out}
            out += [wc for wc in self._store.word_counts("tag", dataset, contains=typed) if wc[0] not in seen]
        return out if limit is None else out[: max(int(limit), 0)]

    def _flag(self, flag: str, *, known: bool) -> str:
        word = validate_word(flag, what="flag")
        if known and word not in self.flags:
            raise ValidationError(f"unknown flag {word!r}; choose one of {', '.join(self.flags)}")
        return word

    def flag(self, sample_id: object, flag: str, *, reviewer: str) -> bool:
        """Give a clip a reviewer flag (one of :attr:`flags`); return whether it is new to it."""
        who = validate_reviewer(reviewer)
        word = self._flag(flag, known=True)
        done = self._store.add_flag(self._sample(sample_id), word, reviewer=who)
        self._samples.forget()
        return done

    def unflag(self, sample_id: object, flag: str, *, reviewer: str) -> bool:
        """Remove a reviewer flag (even one no longer configured); return whether it was there."""
        who = validate_reviewer(reviewer)
        word = self._flag(flag, known=False)
        done = self._store.remove_flag(self._sample(sample_id), word, reviewer=who)
        self._samples.forget()
        return done

    def flag_counts(self, dataset: str) -> list[tuple[str, int]]:
        """Return the dataset's reviewer flags with their clip counts, most first."""
        return self._store.word_counts("flag", dataset)

    def _bulk(
        self,
        kind: str,
        ids: Iterable[int],
        words: Sequence[str],
        *,
        reviewer: str,
        dataset: str | None,
        remove: bool,
    ) -> AnnotationBatchRecord:
        who = validate_reviewer(reviewer)
        if isinstance(ids, (str, bytes)):
            raise ValidationError("sample ids must be a list of integers")
        checked = validate_ids(ids)
        if not checked:
            raise ValidationError("Select at least one clip.")
        if isinstance(words, str):
            words = [words]
        clean = [
            self._flag(w, known=not remove) if kind == "flag" else validate_word(w, what=kind) for w in words
        ]
        res = self._store.mark_samples(kind, checked, clean, reviewer=who, remove=remove, dataset=dataset)
        self._samples.forget()
        return res

    def bulk_tag(
        self,
        ids: Iterable[int],
        tags: Sequence[str],
        *,
        reviewer: str,
        dataset: str | None = None,
        remove: bool = False,
    ) -> AnnotationBatchRecord:
        """Tag (or untag) a selection in one step; the record's ``batch_id`` undoes it.

        Parameters
        ----------
        ids : iterable of int
            The selection (clips of ``dataset``, when given).
        tags : sequence of str
        reviewer : str
        dataset : str, optional
        remove : bool
            Remove the tags instead.
        """
        return self._bulk("tag", ids, tags, reviewer=reviewer, dataset=dataset, remove=remove)

    def bulk_flag(
        self,
        ids: Iterable[int],
        flags: Sequence[str],
        *,
        reviewer: str,
        dataset: str | None = None,
        remove: bool = False,
    ) -> AnnotationBatchRecord:
        """Flag (or unflag) a selection in one step; the record's ``batch_id`` undoes it."""
        return self._bulk("flag", ids, flags, reviewer=reviewer, dataset=dataset, remove=remove)

    # -- regions and notes --------------------------------------------------------------

    def add_region(
        self,
        sample_id: object,
        *,
        start: float,
        end: float,
        reviewer: str,
        label: str | None = None,
        note: str | None = None,
    ) -> RegionRecord:
        """Add a time region (seconds, ``0 <= start < end <= duration``) to a clip."""
        who = validate_reviewer(reviewer)
        sid = as_sample_id(sample_id)
        record = self._samples.get(sid)
        lo, hi = validate_span(start, end, record.duration)
        return self._store.add_region(
            sid, start=lo, end=hi, reviewer=who, label=_region_label(label), note=note
        )

    def update_region(
        self,
        region_id: object,
        *,
        version: int,
        reviewer: str,
        start: float | None = None,
        end: float | None = None,
        label: str | None = None,
        note: str | None = None,
    ) -> RegionRecord:
        """Change a region read at ``version``; ``None`` keeps a field, ``""`` clears a label or note."""
        who = validate_reviewer(reviewer)
        return self._store.update_region(
            _item(region_id, "region"),
            version=_version(version),
            reviewer=who,
            start=start,
            end=end,
            label=_region_label(label),
            note=note,
        )

    def delete_region(self, region_id: object, *, version: int, reviewer: str) -> None:
        """Delete a region read at ``version`` (undoable from the history)."""
        who = validate_reviewer(reviewer)
        self._store.delete_region(_item(region_id, "region"), version=_version(version), reviewer=who)

    def regions(self, sample_id: object) -> list[RegionRecord]:
        """Return a clip's regions by start time."""
        return self._store.sample_regions(as_sample_id(sample_id))

    def add_note(self, sample_id: object, text: str, *, reviewer: str) -> NoteRecord:
        """Add a note by the reviewer to a clip."""
        who = validate_reviewer(reviewer)
        return self._store.add_note(self._sample(sample_id), validate_note_text(text), reviewer=who)

    def update_note(self, note_id: object, text: str, *, version: int, reviewer: str) -> NoteRecord:
        """Change a note read at ``version``."""
        who = validate_reviewer(reviewer)
        return self._store.update_note(
            _item(note_id, "note"), validate_note_text(text), version=_version(version), reviewer=who
        )

    def delete_note(self, note_id: object, *, version: int, reviewer: str) -> None:
        """Delete a note read at ``version`` (undoable from the history)."""
        who = validate_reviewer(reviewer)
        self._store.delete_note(_item(note_id, "note"), version=_version(version), reviewer=who)

    def notes(self, sample_id: object) -> list[NoteRecord]:
        """Return a clip's notes, oldest first."""
        return self._store.sample_notes(as_sample_id(sample_id))

    def annotations(self, sample_id: object, *, reviewer: str, blind: bool) -> SampleAnnotations:
        """Return every annotation of a clip; in blind mode, only the reviewer's own vote until they vote."""
        who = validate_reviewer(reviewer)
        ann = self._store.sample_annotations(as_sample_id(sample_id))
        if blind and not any(v.reviewer == who for v in ann.votes):
            return SampleAnnotations(
                sample_id=ann.sample_id,
                votes=(),
                tags=ann.tags,
                flags=ann.flags,
                regions=ann.regions,
                notes=ann.notes,
            )
        return ann

    # -- history ------------------------------------------------------------------------

    def history(self, sample_id: object) -> list[AnnotationEditRecord]:
        """Return every change of a clip's annotations, newest first."""
        return self._store.annotation_history(as_sample_id(sample_id))

    def undo(self, edit_id: object, *, reviewer: str) -> AnnotationEditRecord:
        """Revert one change (a :class:`ConflictError` if its item changed since)."""
        who = validate_reviewer(reviewer)
        rec = self._store.undo_annotation(_item(edit_id, "edit"), reviewer=who)
        self._samples.forget()
        return rec

    def undo_batch(self, batch_id: str, *, reviewer: str) -> AnnotationUndoRecord:
        """Revert a selection's change of tags or flags as one step (clips changed since are reported)."""
        who = validate_reviewer(reviewer)
        rec = self._store.undo_annotation_batch(validate_batch_id(batch_id), reviewer=who)
        self._samples.forget()
        return rec

    # -- agreement ----------------------------------------------------------------------

    def agreement(self, dataset: str) -> AgreementReport:
        """Return how far the dataset's reviewers agree (always read: others vote too)."""
        return dataset_agreement(dataset, db=self._store)
