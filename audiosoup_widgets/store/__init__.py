"""Storage: the only subpackage that talks SQL.

Open a store with :func:`connect`; every method hands back plain records.
"""

from __future__ import annotations

from .annotation_history import AnnotationHistoryMixin
from .annotation_items import AnnotationItemsMixin
from .annotations import AnnotationsMixin
from .augment import AugmentMixin
from .curation import CurationMixin
from .insight import MEASURE_COLUMNS, QUALITY_COLUMNS, InsightMixin, quality_values
from .origin import ORIGINS
from .queries import MAX_IDS, SORTS, SPLITS, QueryMixin, SampleQuery
from .records import (
    AnnotationBatchRecord,
    AnnotationEditRecord,
    AnnotationUndoRecord,
    BatchUndoRecord,
    DatasetRecord,
    EditRecord,
    FindingRecord,
    LabelRecord,
    LoadRunRecord,
    ModelRunRecord,
    NoteRecord,
    ProjectionRecord,
    QcRunRecord,
    RecipeRecord,
    RegionRecord,
    RelabelRecord,
    SampleAnnotations,
    SampleRecord,
    SkippedSample,
    SuspectRecord,
    VoteRecord,
)
from .relabel import RelabelMixin
from .runs import RunsMixin
from .summaries import SummaryMixin, SummaryRecord
from .textvectors import TextVectorMixin


class Store(
    QueryMixin,
    RelabelMixin,
    SummaryMixin,
    InsightMixin,
    RunsMixin,
    AnnotationsMixin,
    AnnotationItemsMixin,
    AnnotationHistoryMixin,
    TextVectorMixin,
    CurationMixin,
    AugmentMixin,
):
    """A database of audio datasets (PostgreSQL or SQLite).

    Parameters
    ----------
    url : str
        SQLAlchemy database URL.
    """


def connect(db: str | None = None, *, upgrade: bool = True) -> Store:
    """Open the store at ``db``, the environment's URL, or the embedded default.

    Parameters
    ----------
    db : str, optional
        SQLAlchemy URL; falls back to ``AUDIOSOUP_DATABASE_URL``, then to an
        SQLite file in the user's data folder.
    upgrade : bool
        Apply pending migrations first (the default), so a first run just works.

    Returns
    -------
    Store

    Raises
    ------
    StoreError
        If the database cannot be reached.
    """
    from ..config import resolve_database_url

    store = Store(resolve_database_url(db))
    if upgrade:
        store.upgrade()
    else:
        store.check()
    return store


__all__ = [
    "Store",
    "connect",
    "SampleQuery",
    "SORTS",
    "SPLITS",
    "MAX_IDS",
    "ORIGINS",
    "QUALITY_COLUMNS",
    "MEASURE_COLUMNS",
    "quality_values",
    "BatchUndoRecord",
    "DatasetRecord",
    "EditRecord",
    "FindingRecord",
    "LabelRecord",
    "LoadRunRecord",
    "ProjectionRecord",
    "RecipeRecord",
    "QcRunRecord",
    "RelabelRecord",
    "SampleRecord",
    "SkippedSample",
    "SummaryRecord",
    "ModelRunRecord",
    "SuspectRecord",
    "AnnotationBatchRecord",
    "AnnotationEditRecord",
    "AnnotationUndoRecord",
    "NoteRecord",
    "RegionRecord",
    "SampleAnnotations",
    "VoteRecord",
]
