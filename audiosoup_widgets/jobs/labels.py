"""Curated labels out: a dataset's labels with their provenance as a table, and its exports.

:func:`labels_frame` gathers what review made of a dataset (the current labels,
who last changed each and why, the annotations) into one pandas DataFrame;
:func:`export_dataset` hands its rows to
:func:`~audiosoup_widgets.layouts_export.write_dataset`, which owns the file
formats (manifest CSV, JSON lines, Hugging Face AudioFolder, Label Studio tasks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..analysis.agreement import majority_label
from .compute import open_store

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..layouts_export import DatasetExport
    from ..store import Store

__all__ = ["LABEL_COLUMNS", "consensus", "export_dataset", "labels_frame"]

#: The columns of :func:`labels_frame`, in order.
LABEL_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "path",
    "file_name",
    "label",
    "split",
    "speaker",
    "text",
    "duration",
    "sample_rate",
    "label_edited_by",
    "label_edited_at",
    "label_edit_kind",
    "label_edit_reason",
    "tags",
    "reviewer_flags",
    "notes",
    "regions",
    "votes",
    "n_votes",
    "consensus",
)
#: The annotation columns and the value of a sample without annotations.
_EMPTY_ANNOTATIONS: dict[str, Any] = {
    "tags": [],
    "reviewer_flags": [],
    "notes": [],
    "regions": [],
    "votes": {},
}


def consensus(votes: Mapping[str, str]) -> str | None:
    """Return the label most reviewers voted for, or None when none did or the top is tied.

    Parameters
    ----------
    votes : mapping of str to str
        Each reviewer's label.
    """
    # The one majority rule of the package, the agreement analysis's.
    return majority_label([v for v in votes.values() if v is not None])


def annotation_columns(store: Store, dataset: str) -> dict[int, dict[str, Any]]:
    """Return each sample's tags, reviewer flags, notes, regions and votes, by sample id.

    Read in one pass over the annotation tables
    (:meth:`~audiosoup_widgets.store.annotations.AnnotationsMixin.annotation_columns`);
    a sample missing from the result counts as not annotated.
    """
    return store.annotation_columns(dataset)


def labels_frame(dataset: str, *, db: Store | str | None = None) -> pd.DataFrame:
    """Return a dataset's curated labels, their provenance and annotations, one row per sample.

    Parameters
    ----------
    dataset : str
        Dataset name.
    db : str or Store, optional
        Database URL or open store (default: the configured database).

    Returns
    -------
    pandas.DataFrame
        By sample id, with the columns of :data:`LABEL_COLUMNS`:

        ``sample_id`` (int); ``path`` (str, relative to the dataset root, ``/``
        separators); ``file_name`` (the file's own name, the last part of
        ``path``); ``label``, ``split``, ``speaker``, ``text`` (str or None, as
        curated now); ``duration`` (seconds) and ``sample_rate`` (Hz);
        ``label_edited_by``, ``label_edited_at`` (a UTC ``Timestamp``, NaT when none),
        ``label_edit_kind`` (``edit`` or ``undo``) and ``label_edit_reason``:
        the newest recorded change of the label (a single edit, a bulk relabel,
        an accepted suggestion or an undo), None (NaT) for a label unchanged
        since loading; ``tags``, ``reviewer_flags`` and ``notes`` (lists of str);
        ``regions`` (a list of ``{"start", "end", "label", "note"}``, seconds);
        ``votes`` (``{reviewer: label}``); ``n_votes`` (int) and ``consensus``
        (the majority vote, None without votes or on a tie).

        ``frame.attrs`` holds ``dataset`` and ``root`` (the folder ``path``
        starts from).

    Raises
    ------
    NotFoundError
        If there is no such dataset.
    """
    import pandas as pd

    store = open_store(db)
    rows = store.curated_samples(dataset)
    notes = annotation_columns(store, dataset)
    # Built column by column: a dict per row costs seconds at 100,000 clips.
    empty = dict(_EMPTY_ANNOTATIONS)
    ann = [notes.get(row["sample_id"], empty) for row in rows]
    votes = [dict(a.get("votes") or {}) for a in ann]
    data: dict[str, Any] = {k: [row[k] for row in rows] for k in LABEL_COLUMNS[:13] if k != "file_name"}
    data["file_name"] = [str(p).rsplit("/", 1)[-1] for p in data["path"]]
    for key in ("tags", "reviewer_flags", "notes"):
        data[key] = [list(a.get(key) or []) for a in ann]
    data["regions"] = [[dict(r) for r in a.get("regions") or []] for a in ann]
    data["votes"] = votes
    data["n_votes"] = [len(v) for v in votes]
    data["consensus"] = [consensus(v) if v else None for v in votes]
    frame = pd.DataFrame({k: pd.Series(data[k], dtype=object) for k in LABEL_COLUMNS})
    frame["sample_id"] = frame["sample_id"].astype("int64")
    frame["n_votes"] = frame["n_votes"].astype("int64")
    frame["duration"] = frame["duration"].astype("float64")
    frame["sample_rate"] = frame["sample_rate"].astype("int64")
    frame["label_edited_at"] = pd.to_datetime(frame["label_edited_at"], utc=True)
    frame.attrs.update(dataset=dataset, root=store.dataset_root(dataset))
    return frame


def export_dataset(
    dataset: str,
    *,
    fmt: str,
    output: str | os.PathLike[str],
    db: Store | str | None = None,
    copy_audio: bool = False,
    force: bool = False,
    audio_prefix: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetExport:
    """Write a dataset's curated labels for training or annotation tools.

    Parameters
    ----------
    dataset : str
        Dataset name.
    fmt : str
        ``manifest-csv``, ``jsonl``, ``audiofolder`` or ``label-studio`` (see
        :mod:`audiosoup_widgets.layouts_export` for each layout).
    output : path-like
        A file, or a folder for ``audiofolder``. An existing output is refused
        unless ``force``.
    db : str or Store, optional
        Database URL or open store.
    copy_audio : bool
        ``audiofolder`` only: copy the audio under the folder, one subfolder per split.
    force : bool
        Replace an existing file or a non-empty folder.
    audio_prefix : str, optional
        ``label-studio`` only: what each task's audio address starts with.
    progress : callable, optional
        Called as ``progress(done, total)`` while audio is copied.

    Returns
    -------
    DatasetExport
        The rows written, files copied and rows left out.
    """
    from ..layouts_export import LABEL_STUDIO_PREFIX, check_output, write_dataset

    # Checked before the database is read: a typo in the output costs nothing.
    check_output(output, fmt, force=force, copy_audio=copy_audio)
    frame = labels_frame(dataset, db=db)
    plain = frame.astype(object).where(frame.notna(), None)
    rows = [{str(k): v for k, v in row.items()} for row in plain.to_dict("records")]
    return write_dataset(
        rows,
        fmt=fmt,
        output=output,
        root=frame.attrs["root"],
        copy_audio=copy_audio,
        force=force,
        audio_prefix=audio_prefix if audio_prefix is not None else LABEL_STUDIO_PREFIX,
        progress=progress,
    )
