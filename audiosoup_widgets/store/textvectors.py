"""Text vectors: what a sample's words are, their stored embeddings, and ranked id lists as SQL.

* :func:`texts_select` is the one query that gathers a sample's text (its transcript
  now; notes join here when they are stored);
* :class:`TextVectorMixin` stores one float32 vector per (sample, embedder) with the
  hash of the text it came from, finds the stale ones and reads a dataset's vectors
  as one matrix (binary COPY on PostgreSQL);
* :func:`rank_order` orders a sample query by the position of each id in a ranked
  list (a semantic search's result), bound as one parameter on both databases.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Integer, Select, Text, bindparam, delete, func, insert, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..errors import NotFoundError, ValidationError
from .engine import BaseStore
from .idset import ids_condition, validate_ids
from .models import MAX_NAME, AnnotationNote, AnnotationTag, Dataset, Label, Sample, TextVector
from .summaries import _COPY_HEADER, _copy_out
from .suspects import current_suspects, latest_suspects_run

__all__ = ["TextVectorMixin", "rank_order", "texts_select"]

#: Rows written per statement (or COPY) when storing vectors.
WRITE_BATCH = 20_000


def texts_select(ds_id: int) -> Select[int, str]:
    """Return ``SELECT sample_id, text`` of a dataset's samples, by id: a sample's words.

    The text is the sample's ``text`` field (a transcript, a description), then its
    reviewers' notes, then its tags, one per line (missing parts as empty lines, which
    embedders ignore). This is the one place that says what text a sample has: every
    embedding, hash and search follows it, so a new note or tag makes the sample's
    vector stale and it is embedded again.
    """

    def joined(column: Any, key: Any, *, label: str) -> Any:
        # string_agg on PostgreSQL, group_concat on SQLite: one row per sample.
        return (
            select(key.label("sample_id"), func.aggregate_strings(column, "\n").label(label))
            .group_by(key)
            .subquery()
        )

    notes = joined(AnnotationNote.text, AnnotationNote.sample_id, label="notes")
    tags = joined(AnnotationTag.tag, AnnotationTag.sample_id, label="tags")
    text = (
        func.coalesce(Sample.text, "")
        + "\n"
        + func.coalesce(notes.c.notes, "")
        + "\n"
        + func.coalesce(tags.c.tags, "")
    )
    return (
        select(Sample.id.label("sample_id"), text.label("text"))
        .outerjoin(notes, notes.c.sample_id == Sample.id)
        .outerjoin(tags, tags.c.sample_id == Sample.id)
        .where(Sample.dataset_id == ds_id)
        .order_by(Sample.id)
    )


def rank_order(dialect: str, ids: Sequence[int], ids_q: Select[Any]) -> Select[Any]:
    """Order a query of sample ids by each id's position in ``ids`` (best first).

    ``ids`` travels as one bound parameter: an ``integer[]`` unnested with its
    ordinality on PostgreSQL, a JSON array (whose ``key`` is the position) on SQLite.
    Samples not in ``ids`` are dropped (the join is inner).
    """
    joined = ",".join(map(str, ids))
    if dialect == "postgresql":
        param = bindparam("rank_ids", "{" + joined + "}", type_=Text, unique=True)
        unnest = func.unnest(sql_cast(param, ARRAY(Integer)))
        ranked = unnest.table_valued("id", with_ordinality="pos").render_derived()
        return ids_q.join(ranked, ranked.c.id == Sample.id).order_by(ranked.c.pos)
    table = func.json_each(bindparam("rank_ids", "[" + joined + "]", type_=Text, unique=True)).table_valued(
        "value", "key"
    )
    return ids_q.join(table, table.c.value == Sample.id).order_by(table.c.key)


def _dataset_id(sess: Session, name: str) -> int:
    ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == name))
    if ds_id is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return int(ds_id)


def _check_embedder(embedder: str) -> None:
    if not isinstance(embedder, str) or not embedder or len(embedder) > MAX_NAME:
        raise ValidationError(f"an embedder key is 1 to {MAX_NAME} characters")


class TextVectorMixin(BaseStore):
    """Sample texts and their stored embeddings (methods of :class:`~audiosoup_widgets.store.Store`)."""

    def sample_texts(self, dataset: str) -> tuple[npt.NDArray[np.int64], list[str]]:
        """Return a dataset's sample ids (ascending) and each sample's text ("" when none).

        The text is the transcript, the notes and the tags (see :func:`texts_select`),
        without leading or trailing blank lines.
        """
        with self.session() as sess:
            rows = sess.execute(texts_select(_dataset_id(sess, dataset))).all()
        return np.array([r[0] for r in rows], np.int64), [r[1].strip() for r in rows]

    def text_hashes(self, dataset: str, embedder: str) -> dict[int, str]:
        """Return the text hash each stored vector of ``embedder`` was computed from, by sample id."""
        _check_embedder(embedder)
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            rows = sess.execute(
                select(TextVector.sample_id, TextVector.text_hash)
                .join(Sample, Sample.id == TextVector.sample_id)
                .where(TextVector.embedder == embedder, Sample.dataset_id == ds_id)
            ).all()
        return {int(i): h for i, h in rows}

    def write_text_vectors(
        self,
        embedder: str,
        ids: Sequence[int] | npt.NDArray[np.int64],
        hashes: Sequence[str],
        vectors: npt.NDArray[np.float32],
    ) -> int:
        """Store (or replace) the vectors of these samples under ``embedder``; returns how many.

        Samples deleted meanwhile are skipped (their vectors would have no row to belong to).
        """
        _check_embedder(embedder)
        id_list = validate_ids(np.asarray(ids, np.int64))
        if not (len(id_list) == len(hashes) == vectors.shape[0]):
            raise ValidationError("one hash and one vector per sample id are needed")
        if not id_list:
            return 0
        data = np.ascontiguousarray(vectors, dtype="<f4")
        written = 0
        with self.session() as sess:
            alive = set(sess.scalars(select(Sample.id).where(ids_condition(self.dialect, id_list))))
            keep = [i for i, sid in enumerate(id_list) if sid in alive]
            for start in range(0, len(keep), WRITE_BATCH):
                chunk = keep[start : start + WRITE_BATCH]
                chunk_ids = [id_list[i] for i in chunk]
                column = cast("ColumnElement[int]", TextVector.sample_id)
                sess.execute(
                    delete(TextVector).where(
                        TextVector.embedder == embedder, ids_condition(self.dialect, chunk_ids, column=column)
                    )
                )
                rows = [(id_list[i], hashes[i], data[i].tobytes()) for i in chunk]
                if self.dialect == "postgresql":
                    cur = sess.connection().connection.cursor()
                    cur.copy_expert(
                        "COPY text_vectors (sample_id, embedder, text_hash, data) "
                        "FROM STDIN WITH (FORMAT binary)",
                        io.BytesIO(_binary_copy(embedder, rows)),
                    )
                else:
                    sess.execute(
                        insert(TextVector),
                        [
                            {"sample_id": s, "embedder": embedder, "text_hash": h, "data": d}
                            for s, h, d in rows
                        ],
                    )
                written += len(rows)
        return written

    def text_matrix(
        self, dataset: str, embedder: str, *, dim: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Return the dataset's stored vectors of ``embedder``: sample ids (ascending) and rows.

        Vectors of another length (a refitted embedder under the same key) are left out.
        """
        _check_embedder(embedder)
        if dim < 1:
            raise ValidationError("vector length must be positive")
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            q = (
                select(TextVector.sample_id, TextVector.data)
                .join(Sample, Sample.id == TextVector.sample_id)
                .where(
                    TextVector.embedder == embedder,
                    Sample.dataset_id == ds_id,
                    func.length(TextVector.data) == 4 * dim,
                )
                .order_by(TextVector.sample_id)
            )
            if self.dialect == "postgresql":
                ids, values = _copy_out(sess, q, [4 * dim])
                return ids, values.reshape(len(ids), dim)
            rows = sess.execute(q).all()
        ids = np.array([r[0] for r in rows], np.int64)
        values = np.frombuffer(b"".join(r[1] for r in rows), "<f4").reshape(len(rows), dim)
        return ids, values.astype(np.float32)

    def label_speaker_columns(
        self, dataset: str
    ) -> tuple[npt.NDArray[np.int64], list[str | None], list[str | None]]:
        """Return a dataset's sample ids (ascending), labels and speakers."""
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            rows = sess.execute(
                select(Sample.id, Label.name, Sample.speaker)
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(Sample.dataset_id == ds_id)
                .order_by(Sample.id)
            ).all()
        return np.array([r[0] for r in rows], np.int64), [r[1] for r in rows], [r[2] for r in rows]

    def current_suspect_ids(self, dataset: str) -> set[int]:
        """Return the current label suspects of the dataset's latest run with suspects (empty without)."""
        with self.session() as sess:
            run_id = latest_suspects_run(sess, _dataset_id(sess, dataset))
            if run_id is None:
                return set()
            sub = current_suspects(run_id).subquery()
            return {int(i) for i in sess.scalars(select(sub.c.sample_id))}


def _binary_copy(embedder: str, rows: Sequence[tuple[int, str, bytes]]) -> bytes:
    """Encode ``(sample_id, embedder, text_hash, data)`` rows in PostgreSQL's binary COPY format."""
    key = embedder.encode()
    head = struct.Struct("!hii")
    parts = [_COPY_HEADER]
    for sid, h, data in rows:
        hb = h.encode()
        parts += [
            head.pack(4, 4, int(sid)),
            struct.pack("!i", len(key)),
            key,
            struct.pack("!i", len(hb)),
            hb,
            struct.pack("!i", len(data)),
            data,
        ]
    parts.append(struct.pack("!h", -1))
    return b"".join(parts)
