"""The curated table of a dataset: every sample's current values and who last set its label.

:meth:`CurationMixin.curated_samples` reads, in two statements whatever the
dataset's size, what an export of curated data needs: each sample's stored
values (label, split, speaker, text, length and rate) and the provenance of
its label, the newest recorded change of the ``label`` field (an edit, a bulk
relabel or an undo) with its reviewer, time and reason.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import func, select

from .engine import BaseStore
from .models import Label, Sample, SampleEdit
from .queries import _dataset_id

__all__ = ["CurationMixin", "CURATED_FIELDS"]

#: The keys of each row :meth:`CurationMixin.curated_samples` returns, in order.
CURATED_FIELDS: tuple[str, ...] = (
    "sample_id",
    "path",
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
)


class CurationMixin(BaseStore):
    """Reading a dataset's curated values for export."""

    def curated_samples(self, dataset: str) -> list[dict[str, Any]]:
        """Return every sample of ``dataset`` with its current values, by sample id.

        Parameters
        ----------
        dataset : str
            Dataset name.

        Returns
        -------
        list of dict
            One dict per sample with the keys of :data:`CURATED_FIELDS`. ``path`` is
            relative to the dataset root (undecodable bytes as the loader stored
            them, decoded with surrogate escapes so the file can be opened);
            ``label_edited_*`` are None for a label never changed since loading.

        Raises
        ------
        NotFoundError
            If there is no such dataset.
        """
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            rows = sess.execute(
                select(
                    Sample.id,
                    Sample.path,
                    Sample.path_bytes,
                    Label.name,
                    Sample.split,
                    Sample.speaker,
                    Sample.text,
                    Sample.duration,
                    Sample.sample_rate,
                )
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(Sample.dataset_id == ds_id)
                .order_by(Sample.id)
            ).all()
            # The newest label change of each sample: the highest history id per sample.
            newest = (
                select(func.max(SampleEdit.id))
                .join(Sample, Sample.id == SampleEdit.sample_id)
                .where(Sample.dataset_id == ds_id, SampleEdit.field == "label")
                .group_by(SampleEdit.sample_id)
            )
            edits = {
                e.sample_id: e
                for e in sess.execute(
                    select(
                        SampleEdit.sample_id,
                        SampleEdit.reviewer,
                        SampleEdit.at,
                        SampleEdit.kind,
                        SampleEdit.reason,
                    ).where(SampleEdit.id.in_(newest))
                ).all()
            }
        out = []
        for r in rows:
            edit = edits.get(r.id)
            out.append(
                {
                    "sample_id": r.id,
                    "path": os.fsdecode(r.path_bytes) if r.path_bytes else r.path,
                    "label": r.name,
                    "split": r.split,
                    "speaker": r.speaker,
                    "text": r.text,
                    "duration": r.duration,
                    "sample_rate": r.sample_rate,
                    "label_edited_by": edit.reviewer if edit else None,
                    "label_edited_at": edit.at if edit else None,
                    "label_edit_kind": edit.kind if edit else None,
                    "label_edit_reason": edit.reason if edit else None,
                }
            )
        return out
