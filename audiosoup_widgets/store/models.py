"""The relational schema: datasets, labels, samples, load runs, edits, feature summaries, QC, maps.

This module (with the rest of :mod:`audiosoup_widgets.store`) is the only code in
the package that imports SQLAlchemy. Rows never leave the store as ORM objects:
queries turn them into plain records (:mod:`audiosoup_widgets.store.records`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Portable JSON: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")

# Deterministic constraint names keep Alembic migrations identical on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MAX_NAME = 200
MAX_TEXT = 10_000


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class Dataset(Base):
    """A named collection of samples under one root folder."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), unique=True)
    root: Mapped[str] = mapped_column(Text)
    layout: Mapped[str] = mapped_column(String(32))
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Label(Base):
    """A class name within one dataset."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("dataset_id", "name", name="uq_labels_dataset_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Sample(Base):
    """One audio file, measured at ingest.

    ``path`` is relative to the dataset root and always valid text; when the file
    name holds bytes that are not UTF-8, ``path`` shows them escaped and
    ``path_bytes`` keeps the exact name so the file can still be opened.
    ``version`` is the optimistic-concurrency counter: a writer holding an older
    version gets a conflict instead of overwriting.

    The quality measures (``peak_dbfs`` to ``pcm_hash``, with ``rms_db`` written at
    ingest) are those of :class:`audiosoup_widgets.audio.quality.QualityMeasures`;
    ``quality_version`` is the version of the measuring code that wrote them, NULL
    while a clip has not been measured. A clip whose measuring failed has a
    ``quality_version`` and NULL measures, so it is not retried on every run.
    Writing measures never bumps ``version`` (see
    :meth:`audiosoup_widgets.store.insight.InsightMixin.write_quality`).
    """

    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("dataset_id", "path", name="uq_samples_dataset_path"),
        # Keyset pagination: each allow-listed sort column has (dataset, column, id).
        Index("ix_samples_dataset_id_id", "dataset_id", "id"),
        Index("ix_samples_dataset_label", "dataset_id", "label_id", "id"),
        Index("ix_samples_dataset_split", "dataset_id", "split", "id"),
        Index("ix_samples_dataset_duration", "dataset_id", "duration", "id"),
        Index("ix_samples_hash", "content_hash"),
        # Exact duplicates of decoded audio within a dataset.
        Index("ix_samples_dataset_pcm_hash", "dataset_id", "pcm_hash"),
        # One derived clip per (parent, recipe, variant), so a rerun cannot duplicate it;
        # a unique index (not a constraint) so SQLite adds it without copying the table.
        Index("uq_samples_parent_recipe_variant", "parent_id", "recipe_id", "aug_variant", unique=True),
        Index("ix_samples_recipe_id", "recipe_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    label_id: Mapped[int | None] = mapped_column(ForeignKey("labels.id", ondelete="SET NULL"), nullable=True)
    path: Mapped[str] = mapped_column(Text)
    path_bytes: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    subtype: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[float] = mapped_column(Float)
    split: Mapped[str | None] = mapped_column(String(16), nullable=True)
    speaker: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    peaks: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    peak_abs: Mapped[float | None] = mapped_column(Float, nullable=True)
    rms_db: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_dbfs: Mapped[float | None] = mapped_column(Float, nullable=True)
    clip_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    silence_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Seconds.
    leading_silence: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Seconds.
    trailing_silence: Mapped[float | None] = mapped_column(Float, nullable=True)
    dc_offset: Mapped[float | None] = mapped_column(Float, nullable=True)
    snr_db: Mapped[float | None] = mapped_column(Float, nullable=True)
    bandwidth_hz: Mapped[float | None] = mapped_column(Float, nullable=True)
    pcm_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quality_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("load_runs.id", ondelete="SET NULL"), nullable=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)
    #: A derived (augmented) clip: its parent, the recipe, the variant number and the seed
    #: the recipe drew from; all NULL for an original clip.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), nullable=True)
    recipe_id: Mapped[int | None] = mapped_column(
        ForeignKey("aug_recipes.id", ondelete="CASCADE"), nullable=True
    )
    aug_variant: Mapped[int | None] = mapped_column(Integer, nullable=True)
    aug_seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __mapper_args__ = {"version_id_col": version}


class LoadRun(Base):
    """One run of the loader over a folder, with its counts."""

    __tablename__ = "load_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    root: Mapped[str] = mapped_column(Text)
    layout: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    n_found: Mapped[int] = mapped_column(Integer, default=0)
    n_loaded: Mapped[int] = mapped_column(Integer, default=0)
    n_existing: Mapped[int] = mapped_column(Integer, default=0)
    n_skipped: Mapped[int] = mapped_column(Integer, default=0)


class LoadFailure(Base):
    """A file a load run skipped, with its reason code and message."""

    __tablename__ = "load_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("load_runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)


class SampleEdit(Base):
    """One change to one field of a sample: who, when, old and new value."""

    __tablename__ = "sample_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    field: Mapped[str] = mapped_column(String(MAX_NAME))
    old: Mapped[Any] = mapped_column(JSONType, nullable=True)
    new: Mapped[Any] = mapped_column(JSONType, nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    undone: Mapped[bool] = mapped_column(default=False)
    #: "edit" for a user's change, "undo" for the change that reverted one, "review" for a
    #: decision about a model's suspicion that changes nothing (keep, ambiguous).
    kind: Mapped[str] = mapped_column(String(16), default="edit")
    #: Shared by every row of one bulk change (and of its undo); NULL for a single edit.
    batch_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Why, when the writer said (a bulk change, an accepted suggestion, a kept label).
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_sample_edits_batch_id", "batch_id"),)


class FeatureSummary(Base):
    """The state of one feature's summary of one sample: computed (with a status) or failed.

    ``param_key`` hashes exactly the parameters that affect this feature, so
    changing ``n_mels`` makes the mel rows stale while chroma rows stay valid.
    ``n_rows = 0`` records a failure (``status`` is then its reason code). The values
    themselves live in the sample's :class:`SummaryVector`.
    """

    __tablename__ = "feature_summaries"

    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    feature: Mapped[str] = mapped_column(String(64), primary_key=True)
    param_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    n_rows: Mapped[int] = mapped_column(Integer)
    n_frames: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_feature_summaries_feature_key", "feature", "param_key"),)


class SummaryLayout(Base):
    """What a summary vector holds, in order: ``[[feature, param_key, n_rows], ...]``.

    Each entry takes ``2 * n_rows`` float32 values (row means, then row stds). A
    layout is stored once, under ``key`` (a hash of its entries), however many
    samples share it.
    """

    __tablename__ = "summary_layouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    entries: Mapped[list[Any]] = mapped_column(JSONType)


class SummaryVector(Base):
    """Every stored summary value of one sample, as one little-endian float32 vector.

    One row per sample, so a dataset's summaries read as one row per sample (binary
    COPY on PostgreSQL); ``layout_id`` says which feature and parameter key each
    stretch of ``data`` belongs to.
    """

    __tablename__ = "summary_vectors"

    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("summary_layouts.id"))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    # Reads go layout by layout.
    __table_args__ = (Index("ix_summary_vectors_layout_id", "layout_id"),)


class QcRun(Base):
    """One quality-control scan of a dataset: its parameters and how much it found.

    Runs are kept as history; only the latest run's findings are kept.
    """

    __tablename__ = "qc_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    n_findings: Mapped[int] = mapped_column(Integer, default=0)


class QcFinding(Base):
    """One finding of a QC run: a kind (duplicates, clipping, ...) and the samples it names."""

    __tablename__ = "qc_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("qc_runs.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)
    sample_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Projection(Base):
    """One sample's point on a 2-D map of a feature family (``all``: every feature).

    ``input_key`` identifies the inputs the map was computed from (features,
    parameters, samples), so a caller can tell whether it is stale.
    """

    __tablename__ = "projections"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    family: Mapped[str] = mapped_column(String(32), primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    input_key: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Deleting a sample cascades here; without this index that is a scan of every map.
    __table_args__ = (Index("ix_projections_sample_id", "sample_id"),)


class ModelRun(Base):
    """One classifier fitted on chosen features of a dataset: what it used and how it scored.

    ``scores`` holds the cross-validated and validation scores (accuracy, balanced
    accuracy, per-class recall, confusion matrix); ``test_scores`` stays NULL until a
    user asks for the test split to be scored, in a separate step.
    """

    __tablename__ = "model_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewer: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)
    model: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    features: Mapped[list[str]] = mapped_column(JSONType, default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    n_train: Mapped[int] = mapped_column(Integer, default=0)
    n_validation: Mapped[int] = mapped_column(Integer, default=0)
    #: Seconds the run took.
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    test_scores: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    test_scored_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    test_scored_by: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)


class ModelSuspect(Base):
    """One clip's suspicion in one model run: its label then, the suggestion, the score.

    ``top3`` is ``[[label, probability], ...]``; ``nearest`` the ids of the nearest clips of
    the suggested label (kept for the run's issues only).
    """

    __tablename__ = "model_suspects"

    run_id: Mapped[int] = mapped_column(ForeignKey("model_runs.id", ondelete="CASCADE"), primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(MAX_NAME))
    suggested: Mapped[str] = mapped_column(String(MAX_NAME))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    is_issue: Mapped[bool] = mapped_column(Boolean, default=False)
    top3: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    nearest: Mapped[list[int] | None] = mapped_column(JSONType, nullable=True)
    #: The clip's out-of-sample probability of every class, in the order of the run's
    #: ``scores["classes"]`` (NULL for runs recorded before they were kept). Deferred: only
    #: the multi-annotator consensus reads them.
    probs: Mapped[list[float] | None] = mapped_column(JSONType, nullable=True, deferred=True)

    __table_args__ = (Index("ix_model_suspects_sample_id", "sample_id"),)


class SuspectDecision(Base):
    """A reviewer's decision about a suspect: keep the label, or call the clip ambiguous.

    It holds while the clip keeps ``label`` and its audio (``content_hash``, and
    ``pcm_hash`` when measured) is unchanged; after that the clip can be a suspect again.
    """

    __tablename__ = "suspect_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_runs.id", ondelete="SET NULL"), nullable=True
    )
    label: Mapped[str] = mapped_column(String(MAX_NAME))
    decision: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    pcm_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


# -- annotations: reviewers' votes, tags, flags, time regions and notes, with their history --
#
# The reviewer flags of ``annotation_flags`` are a reviewer's judgement (noisy, wrong word,
# ...); they are not the quality flags ingest writes into ``samples.flags``.

#: Longest tag, flag name and region label.
MAX_TAG = 100


class AnnotationVote(Base):
    """A reviewer's current label vote on a sample (one per reviewer and sample)."""

    __tablename__ = "annotation_votes"
    __table_args__ = (
        UniqueConstraint("sample_id", "reviewer", name="uq_annotation_votes_sample_reviewer"),
        # The disagreement filter groups votes by sample; agreement reads a dataset's votes.
        Index("ix_annotation_votes_sample_label", "sample_id", "label"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    label: Mapped[str] = mapped_column(String(MAX_NAME))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnnotationTag(Base):
    """A free tag on a sample (the dataset's tags are its vocabulary)."""

    __tablename__ = "annotation_tags"
    __table_args__ = (
        UniqueConstraint("sample_id", "tag", name="uq_annotation_tags_sample_tag"),
        # The tag filter and the vocabulary go by tag.
        Index("ix_annotation_tags_tag_sample", "tag", "sample_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(MAX_TAG))
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnnotationFlag(Base):
    """A reviewer flag on a sample (noisy, clipped, wrong word, ...), not an ingest quality flag."""

    __tablename__ = "annotation_flags"
    __table_args__ = (
        UniqueConstraint("sample_id", "flag", name="uq_annotation_flags_sample_flag"),
        Index("ix_annotation_flags_flag_sample", "flag", "sample_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    flag: Mapped[str] = mapped_column(String(MAX_TAG))
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnnotationRegion(Base):
    """A time region of a sample (seconds), with a label and a note.

    ``version`` is its optimistic-concurrency counter: an edit holding an older
    version is a conflict, never an overwrite.
    """

    __tablename__ = "annotation_regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(MAX_TAG), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)


class AnnotationNote(Base):
    """A free-text note on a sample by one reviewer (a sample has any number)."""

    __tablename__ = "annotation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)


class AnnotationEdit(Base):
    """One change to one annotation of a sample: its state before and after, who, when.

    ``kind`` is ``vote``, ``tag``, ``flag``, ``region`` or ``note``; ``target`` names the
    item within the sample (the voter, the tag, the flag, the region's or note's id);
    ``before`` and ``after`` are the item's whole state as JSON (NULL: absent). ``action``
    is what was done (``set``, ``add``, ``remove``, ``update``, ``delete``, ``undo``); an
    undo row names the row it reverted in ``undoes``.
    """

    __tablename__ = "annotation_edits"
    __table_args__ = (Index("ix_annotation_edits_batch_id", "batch_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(MAX_NAME))
    before: Mapped[Any] = mapped_column(JSONType, nullable=True)
    after: Mapped[Any] = mapped_column(JSONType, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME))
    batch_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    undoes: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TextVector(Base):
    """A sample's text (transcript and notes) as one embedder's float32 vector.

    ``text_hash`` is the hash of the text it was computed from, so an edited text is
    found stale and re-embedded; ``embedder`` is the embedder's key (its name): vectors
    of different embedders live side by side.
    """

    __tablename__ = "text_vectors"

    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    embedder: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    # A dataset's vectors are read embedder by embedder.
    __table_args__ = (Index("ix_text_vectors_embedder", "embedder", "sample_id"),)


class AugRecipe(Base):
    """One version of a named augmentation recipe of a dataset.

    ``spec`` is the recipe's dict form (:func:`audiosoup_widgets.audio.recipes.recipe_to_dict`)
    and ``key`` its :func:`~audiosoup_widgets.audio.recipes.recipe_key`. A changed recipe
    saved under the same name gets the next ``version``; derived clips point at the version
    that made them.
    """

    __tablename__ = "aug_recipes"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", "version", name="uq_aug_recipes_dataset_name_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME))
