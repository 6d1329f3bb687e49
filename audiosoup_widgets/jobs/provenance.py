"""The provenance of every feature export: what was exported, from what, and how.

One builder for every export path: the dataset exports of ``audiosoup export`` and
:func:`~audiosoup_widgets.jobs.export.export_features` (:func:`dataset_provenance`)
and the one-sample downloads of the dashboard (:func:`sample_provenance`). Both
start from :func:`~audiosoup_widgets.features.export.make_provenance` (parameters,
engine, librosa and package versions, time) and add the same description of the
selection, so no export path can lose a field the others carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from ..features.params import FeatureParams

__all__ = ["dataset_provenance", "sample_provenance"]


class SampleLike(Protocol):
    """What :func:`sample_provenance` reads of a sample record (read-only, as records are)."""

    @property
    def id(self) -> int: ...

    @property
    def dataset(self) -> str: ...

    @property
    def duration(self) -> float: ...


def _provenance(
    dataset: str, names: Sequence[str], params: FeatureParams, *, content: str, **extra: Any
) -> dict[str, Any]:
    from ..features.export import make_provenance

    base = make_provenance(params, dataset=dataset, features=list(names), content=content)
    return {
        **base,
        "param_keys": {n: params.key_for(n) for n in names},
        # Files exported before the package version was called package_version
        # carried it under this name; readers may still look for it.
        "audiosoup_version": base["package_version"],
        **extra,
    }


def dataset_provenance(
    dataset: str, names: Sequence[str], params: FeatureParams, *, full: bool, filters: Mapping[str, Any]
) -> dict[str, Any]:
    """Describe an export of a dataset's features.

    Parameters
    ----------
    dataset : str
        Dataset name.
    names : sequence of str
        Feature ids exported.
    params : FeatureParams
        Engine parameters.
    full : bool
        Full matrices (``True``) or stored summaries.
    filters : mapping
        The selection (``label``, ``split``); ``None`` values are left out.

    Returns
    -------
    dict
        JSON-serialisable: :func:`~audiosoup_widgets.features.export.make_provenance`'s
        fields, then ``dataset``, ``features``, ``content``, ``param_keys``,
        ``analysis`` (and ``analysis_window_seconds`` for full matrices), ``filters``
        and ``labels``.
    """
    from ..features.params import MAX_FEATURE_SECONDS
    from ..features.segments import SEGMENT_SAMPLES

    if full:
        content = "full matrices"
        analysis: dict[str, Any] = {
            "analysis_window_seconds": MAX_FEATURE_SECONDS,
            "analysis": f"full matrices of the first {MAX_FEATURE_SECONDS:g} s of each clip, "
            "as in the dashboard; longer clips are cut (see analysed_seconds)",
        }
    else:
        content = "summaries (mean and std over time per row)"
        analysis = {
            "analysis": "summaries over all frames of each clip; clips longer than "
            f"{SEGMENT_SAMPLES:,} samples (with default parameters) are "
            "analysed in segments and their frames combined"
        }
    return _provenance(
        dataset,
        names,
        params,
        content=content,
        **analysis,
        filters={k: v for k, v in filters.items() if v is not None},
        labels="each sample's label at export time",
    )


def sample_provenance(record: SampleLike, names: Sequence[str], params: FeatureParams) -> dict[str, Any]:
    """Describe a download of one sample's full feature matrices.

    Parameters
    ----------
    record : SampleRecord
        The sample (its ``id``, ``dataset`` and ``duration`` are read).
    names : sequence of str
        Feature ids exported.
    params : FeatureParams
        Engine parameters.

    Returns
    -------
    dict
        As :func:`dataset_provenance`, with ``sample_id`` and ``analysed_seconds``
        instead of the selection.
    """
    from ..features.params import MAX_FEATURE_SECONDS

    return _provenance(
        record.dataset,
        names,
        params,
        content="full matrices of one sample",
        sample_id=record.id,
        analysed_seconds=min(record.duration, MAX_FEATURE_SECONDS),
    )
