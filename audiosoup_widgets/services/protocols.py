"""The seam between widgets and services: what a widget may ask, as typed protocols.

Widgets are annotated with :class:`Services` (not the concrete
:class:`~audiosoup_widgets.services.ReviewServices`), so a test or a future front
end can hand them anything with these methods. :class:`SampleFilters` is the plain
filter the state derives and the sample service checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NotRequired, Protocol, TypedDict

from .augment_protocol import AugmentServices

if TYPE_CHECKING:  # the records and results, for the annotations only
    import datetime as dt

    import numpy as np

    from ..features import FeatureParams
    from ..jobs.model import FitReport
    from ..store.records import (
        AnnotationBatchRecord,
        AnnotationEditRecord,
        AnnotationUndoRecord,
        BatchUndoRecord,
        DatasetRecord,
        EditRecord,
        LabelRecord,
        ModelRunRecord,
        NoteRecord,
        RegionRecord,
        RelabelRecord,
        SampleAnnotations,
        SampleRecord,
        SuspectRecord,
        VoteRecord,
    )
    from .annotations import AgreementReport, VotesView
    from .augview import AugmentView
    from .compare import Comparison, Difference, Distributions, EffectSizes, Group, Template
    from .export import Download
    from .features import FeatureSet
    from .maps import Extent, Groups, MapPoints
    from .model import Explanation
    from .quality import CheckOutcome, QualityOverview
    from .ranking import FeatureBar, FeatureDetail, Ranking
    from .text import MergeGroup, TextCheck

__all__ = [
    "SampleFilters",
    "SampleServices",
    "AudioServices",
    "FeatureServices",
    "ExportServices",
    "MapServices",
    "CompareServices",
    "QualityServices",
    "RelabelServices",
    "ModelServices",
    "AnnotationServices",
    "TextServices",
    "AugmentServices",
    "AugmentViewServices",
    "Services",
]


class SampleFilters(TypedDict):
    """Which samples of which dataset, in which order (checked by the sample service)."""

    dataset: str
    labels: Sequence[str]
    split: str | None
    search: str
    status: str | None
    sort: str
    #: Keep only these sample ids (a selection, a map lasso, a finding); None: no id filter.
    ids: NotRequired[Sequence[int] | None]
    #: Keep only the current label suspects of the dataset's latest model run.
    suspects: NotRequired[bool]
    #: Keep only clips whose reviewers' current votes disagree (two or more labels).
    disagreement: NotRequired[bool]
    #: Keep clips with any of these tags.
    tags: NotRequired[Sequence[str]]
    #: Keep clips with any of these reviewer flags (not the quality flags of ``status``).
    reviewer_flags: NotRequired[Sequence[str]]
    #: Keep "original" clips, "derived" ones (augmented copies of others), or None for both.
    origin: NotRequired[str | None]
    #: Text searched by meaning: the closest texts first (overrides ``sort``); "" for none.
    semantic: NotRequired[str]


class SampleServices(Protocol):
    """Samples, pages, counts, lists and edits (:class:`~.samples.SampleService`)."""

    def get(self, sample_id: object, *, dataset: str | None = None, fresh: bool = False) -> SampleRecord:
        """Return a sample record (cached), checked against ``dataset``."""

    def page(self, filters: SampleFilters, *, page: int, page_size: int) -> list[SampleRecord]:
        """One page of samples matching ``filters``."""

    def count(self, filters: SampleFilters) -> int:
        """How many samples match ``filters``."""

    def ids(self, filters: SampleFilters) -> list[int]:
        """Every id matching ``filters``, in their sort order."""

    def datasets(self) -> list[DatasetRecord]:
        """Every dataset with its size."""

    def labels(self, dataset: str) -> list[LabelRecord]:
        """Return the labels of ``dataset`` with their counts."""

    def label_names(self, dataset: str) -> set[str]:
        """Return the label names of ``dataset``."""

    def history(self, sample_id: int) -> list[EditRecord]:
        """Return a sample's edits, newest first."""

    def forget(self) -> None:
        """Drop cached answers (after changes made elsewhere)."""

    def update(
        self,
        record: SampleRecord,
        *,
        reviewer: str,
        label: str | None = None,
        text: str | None = None,
        split: str | None = None,
        meta: dict[str, Any] | None = None,
        create_label: bool = False,
        reason: str | None = None,
    ) -> SampleRecord:
        """Save a change against ``record.version``."""

    def undo(self, record: SampleRecord, *, reviewer: str) -> SampleRecord:
        """Revert the last edit of ``record``."""


class AudioServices(Protocol):
    """Decoded audio, playback WAVs and thumbnails (:class:`~.audio.AudioService`)."""

    def decode(self, record: SampleRecord, *, max_seconds: float = ...) -> tuple[np.ndarray, int]:
        """Mono float32 audio and its rate."""

    def wav_bytes(self, record: SampleRecord, *, max_seconds: float = ...) -> bytes:
        """Return a 16-bit WAV of (the start of) the sample."""

    def segment_wav(self, record: SampleRecord, *, start: float, end: float) -> bytes:
        """Return the stretch ``start`` .. ``end`` seconds as a 16-bit WAV (a region played alone)."""

    def play_truncated(self, record: SampleRecord) -> bool:
        """Whether playback is cut short."""

    def thumbnail(self, record: SampleRecord) -> tuple[np.ndarray, float] | None:
        """Display peaks and the gain applied, or None."""

    def waveform(self, record: SampleRecord, *, n_bins: int = ...) -> tuple[np.ndarray, float]:
        """Return the decoded clip's min/max envelope and its duration in seconds."""


class FeatureServices(Protocol):
    """Feature matrices of the sample in view (:class:`~.features.FeatureService`)."""

    params: FeatureParams

    @property
    def params_key(self) -> tuple[tuple[str, Any], ...]:
        """The feature parameters as a hashable key."""

    def compute(self, record: SampleRecord, family: str, *, names: Sequence[str] | None = None) -> FeatureSet:
        """One family of features of the sample."""

    def is_cached(self, record: SampleRecord, family: str) -> bool:
        """Whether the family is cached for the sample."""

    def family_ready(self, family: str) -> bool:
        """Whether the family's first-use cost is paid."""


class ExportServices(Protocol):
    """Downloads (:class:`~.export.ExportService`)."""

    def features(self, record: SampleRecord, names: Sequence[str], fmt: str) -> Download:
        """Return a download of the sample's features."""

    def selection(self, dataset: str, ids: Sequence[int], fmt: str) -> Download:
        """Return a download of the stored feature summaries of the samples ``ids``."""


class MapServices(Protocol):
    """Similarity maps (:class:`~.maps.MapService`)."""

    def points(self, dataset: str, *, family: str = ..., method: str = ...) -> MapPoints | None:
        """Return the stored map (cached), or None."""

    def update(
        self,
        dataset: str,
        *,
        family: str = ...,
        method: str = ...,
        recompute: bool = ...,
        progress: Callable[[str, int, int], None] | None = ...,
    ) -> MapPoints:
        """Bring the map up to date with the summaries (slow: off the main thread)."""

    def relabelled(self, points: MapPoints) -> MapPoints:
        """Return the points with their clips' current labels and splits."""

    def forget_findings(self, dataset: str) -> None:
        """Read the findings again next time."""

    def groups(self, points: MapPoints, by: str, *, limit: int = ...) -> Groups:
        """Return colour groups of the points, largest first."""

    def ids_in(self, points: MapPoints, indices: Any, *, order: Any = ...) -> np.ndarray:
        """Return the sample ids of a selection of plot positions (checked)."""

    def indices_of(self, points: MapPoints, ids: Any) -> np.ndarray:
        """Return the positions of sample ids on the map."""

    def inside(self, points: MapPoints, polygon: Any) -> np.ndarray:
        """Return the positions of the points inside a lasso (checked)."""

    def extent(self, points: MapPoints, *, whole: bool = ...) -> Extent:
        """Return the axis ranges that show the map."""

    def nearest(self, points: MapPoints, x: float, y: float, *, rx: float, ry: float) -> int | None:
        """Return the point nearest a position, within radii."""

    def describe(self, dataset: str, sample_id: object) -> tuple[str, str]:
        """Return a clip's file name and label."""


class CompareServices(Protocol):
    """Clips side by side, class templates and effect sizes (:class:`~.compare.CompareService`)."""

    def panels(
        self, ids: Sequence[int], feature: str, *, dataset: str | None = None, template: str | None = None
    ) -> Comparison:
        """Return the clips' matrices of ``feature`` on one scale."""

    def difference(self, id_a: int, id_b: int, feature: str, *, dataset: str | None = None) -> Difference:
        """Return clip A's ``feature`` minus clip B's."""

    def template(self, dataset: str, label: str, feature: str, *, max_clips: int = ...) -> Template:
        """Return the class template of ``label``."""

    def effect_sizes(self, dataset: str, group_a: Group, group_b: Group) -> EffectSizes:
        """Return Cohen's d of every stored summary column between two groups."""

    def distributions(self, dataset: str, group_a: Group, group_b: Group, column: str) -> Distributions:
        """Return one summary column's values in both groups."""


class QualityServices(Protocol):
    """A dataset's quality (:class:`~.quality.QualityService`)."""

    def overview(self, dataset: str) -> QualityOverview:
        """Return the distributions, class balance and latest findings (cached)."""

    def bar_ids(self, dataset: str, measure: str, index: object) -> list[int]:
        """Return the clips in one histogram bar."""

    def balance_ids(self, dataset: str, label: object, split: object = None) -> list[int]:
        """Return the clips of one label (and split) of the class balance."""

    def finding_ids(self, dataset: str, finding_id: object) -> list[int]:
        """Return the clips of one finding."""

    def forget(self, dataset: str | None = None) -> None:
        """Drop cached overviews (after changes made elsewhere)."""

    def run_check(
        self,
        dataset: str,
        *,
        progress: Callable[[str, int, int], None] | None = None,
        workers: int | None = None,
        features: bool = True,
    ) -> CheckOutcome:
        """Run the quality check and store its findings."""


class RelabelServices(Protocol):
    """Bulk relabel of a selection (:class:`~.relabel.RelabelService`)."""

    def preview(self, dataset: str, ids: Iterable[int]) -> list[tuple[str | None, int]]:
        """Return how many of ``ids`` carry each label now, most common first."""

    def relabel(
        self,
        dataset: str,
        ids: Iterable[int],
        label: str,
        *,
        reviewer: str,
        seen_at: dt.datetime,
        reason: str | None = None,
        create_label: bool = False,
    ) -> RelabelRecord:
        """Give every clip of ``ids`` the label ``label``, skipping clips changed since ``seen_at``."""

    def undo_batch(self, batch_id: str, *, reviewer: str) -> BatchUndoRecord:
        """Undo a bulk relabel as one step."""


class RankingServices(Protocol):
    """Which features separate a dataset's labels (:class:`~.ranking.RankingService`)."""

    def current(self, dataset: str) -> Ranking | None:
        """Return the cached ranking if it is still current."""

    def rank(self, dataset: str, *, recompute: bool = False) -> Ranking:
        """Return the ranking, computed unless current (slow)."""

    def bars(self, ranking: Ranking, *, by: str = "f", scope: str = "all") -> list[FeatureBar]:
        """Return one bar per feature, best first."""

    def detail(
        self, ranking: Ranking, feature: object, *, by: str = "f", scope: str = "all"
    ) -> FeatureDetail:
        """Return a feature's best column per label and its extreme clips."""

    def features_of(self, ranking: Ranking, families: Iterable[object]) -> list[str]:
        """Return the ranked features of some families."""


class ModelServices(Protocol):
    """Model runs, label suspects of the latest run and their review (:class:`~.model.ModelService`)."""

    def fit(
        self,
        dataset: str,
        *,
        features: Sequence[str] | str,
        model: str = "logreg",
        reviewer: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> FitReport:
        """Fit, score and record a classifier on the ticked features or families (slow)."""

    def history(self, dataset: str) -> list[tuple[ModelRunRecord, str | None]]:
        """Return the runs, newest first, each with what changed since the one before."""

    def confusion_ids(self, dataset: str, given: object, predicted: object) -> list[int]:
        """Return the validation clips of one cell of the latest run's confusion matrix."""

    def suspect_change(self, dataset: str) -> str | None:
        """Say how the label suspects moved between the two newest runs."""

    def latest_run(self, dataset: str) -> ModelRunRecord | None:
        """Return the dataset's newest run with stored suspects, or None."""

    def suspects(self, dataset: str, ids: Sequence[object]) -> dict[int, SuspectRecord]:
        """Return the current suspects among ``ids`` (a page of cards), by id."""

    def explain(self, sample_id: object) -> Explanation:
        """Say why the model doubts a clip's label."""

    def accept(self, sample_id: object, *, reviewer: str, reason: str | None = None) -> SampleRecord:
        """Relabel a clip as the model suggests (an edit with its reason)."""

    def keep(self, sample_id: object, *, reviewer: str, reason: str | None = None) -> None:
        """Keep the clip's label (recorded in its history)."""

    def ambiguous(self, sample_id: object, *, reviewer: str, reason: str | None = None) -> None:
        """Call the clip ambiguous (recorded in its history)."""


class AnnotationServices(Protocol):
    """Votes, tags, reviewer flags, regions, notes, agreement (:class:`~.annotations.AnnotationService`)."""

    flags: tuple[str, ...]

    def vote(self, sample_id: object, label: str, *, reviewer: str) -> VoteRecord:
        """Record the reviewer's label vote on a clip."""

    def clear_vote(self, sample_id: object, *, reviewer: str) -> bool:
        """Withdraw the reviewer's vote on a clip."""

    def votes_view(self, sample_id: object, *, reviewer: str, blind: bool) -> VotesView:
        """Return what the reviewer may see of a clip's votes (blind: nothing of others' before voting)."""

    def tag(self, sample_id: object, tag: str, *, reviewer: str) -> bool:
        """Tag a clip."""

    def untag(self, sample_id: object, tag: str, *, reviewer: str) -> bool:
        """Remove a tag from a clip."""

    def tag_vocabulary(
        self, dataset: str, prefix: str = "", *, contains: bool = False, limit: int | None = ...
    ) -> list[tuple[str, int]]:
        """Return the dataset's tags matching what was typed, with counts (autocomplete)."""

    def flag(self, sample_id: object, flag: str, *, reviewer: str) -> bool:
        """Give a clip a reviewer flag."""

    def unflag(self, sample_id: object, flag: str, *, reviewer: str) -> bool:
        """Remove a reviewer flag from a clip."""

    def flag_counts(self, dataset: str) -> list[tuple[str, int]]:
        """Return the dataset's reviewer flags with counts."""

    def bulk_tag(
        self,
        ids: Iterable[int],
        tags: Sequence[str],
        *,
        reviewer: str,
        dataset: str | None = None,
        remove: bool = False,
    ) -> AnnotationBatchRecord:
        """Tag (or untag) a selection in one step."""

    def bulk_flag(
        self,
        ids: Iterable[int],
        flags: Sequence[str],
        *,
        reviewer: str,
        dataset: str | None = None,
        remove: bool = False,
    ) -> AnnotationBatchRecord:
        """Flag (or unflag) a selection in one step."""

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
        """Add a time region to a clip."""

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
        """Change a region read at ``version``."""

    def delete_region(self, region_id: object, *, version: int, reviewer: str) -> None:
        """Delete a region read at ``version``."""

    def regions(self, sample_id: object) -> list[RegionRecord]:
        """Return a clip's regions by start time."""

    def add_note(self, sample_id: object, text: str, *, reviewer: str) -> NoteRecord:
        """Add a note to a clip."""

    def update_note(self, note_id: object, text: str, *, version: int, reviewer: str) -> NoteRecord:
        """Change a note read at ``version``."""

    def delete_note(self, note_id: object, *, version: int, reviewer: str) -> None:
        """Delete a note read at ``version``."""

    def notes(self, sample_id: object) -> list[NoteRecord]:
        """Return a clip's notes, oldest first."""

    def annotations(self, sample_id: object, *, reviewer: str, blind: bool) -> SampleAnnotations:
        """Return every annotation of a clip (others' votes hidden when blind, before voting)."""

    def history(self, sample_id: object) -> list[AnnotationEditRecord]:
        """Return every change of a clip's annotations, newest first."""

    def undo(self, edit_id: object, *, reviewer: str) -> AnnotationEditRecord:
        """Revert one change."""

    def undo_batch(self, batch_id: str, *, reviewer: str) -> AnnotationUndoRecord:
        """Revert a selection's change as one step."""

    def agreement(self, dataset: str) -> AgreementReport:
        """Return how far the dataset's reviewers agree."""


class TextServices(Protocol):
    """Search by meaning, label merges and text-label checks (:class:`~.text.TextService`)."""

    def search(self, dataset: str, query: str, *, k: int = 20) -> list[tuple[int, float]]:
        """Return ``(sample_id, similarity)`` of the texts closest to ``query``, best first."""

    def merge_suggestions(self, dataset: str) -> list[MergeGroup]:
        """Return groups of label names that look like one."""

    def apply_merge(
        self, dataset: str, names: Sequence[str], *, keep: str, reviewer: str
    ) -> RelabelRecord | None:
        """Relabel the clips of ``names`` as ``keep`` (a bulk relabel with history)."""

    def tag_merge_suggestions(self, dataset: str) -> list[MergeGroup]:
        """Return groups of tags that look like one."""

    def apply_tag_merge(
        self, dataset: str, names: Sequence[str], *, keep: str, reviewer: str
    ) -> AnnotationBatchRecord | None:
        """Give the clips of ``names`` the tag ``keep`` instead (one batch, undone as one)."""

    def consistency(self, dataset: str) -> dict[int, TextCheck]:
        """Return every clip whose text disagrees with its label (fits the text model if needed)."""

    def checks(self, dataset: str, ids: Iterable[object], *, compute: bool = True) -> dict[int, TextCheck]:
        """Return the text disagreements among ``ids``, by id (``compute=False``: only those known)."""


class AugmentViewServices(Protocol):
    """An augmentation preview drawn (:class:`~.augview.AugmentViews`)."""

    def views(self, original: np.ndarray, augmented: np.ndarray, sr: int, feature: str) -> AugmentView:
        """Return both versions' feature on one scale, their difference and their waveforms."""

    def wav(self, y: np.ndarray, sr: int) -> bytes:
        """Return audio in memory as a WAV for the browser's player."""


class Services(Protocol):
    """Everything a review widget receives besides the state."""

    @property
    def samples(self) -> SampleServices:
        """The sample service."""

    @property
    def audio(self) -> AudioServices:
        """The audio service."""

    @property
    def features(self) -> FeatureServices:
        """The feature service."""

    @property
    def exports(self) -> ExportServices:
        """The export service."""

    @property
    def maps(self) -> MapServices:
        """The similarity map service."""

    @property
    def compare(self) -> CompareServices:
        """The comparison service."""

    @property
    def quality(self) -> QualityServices:
        """The quality service."""

    @property
    def relabel(self) -> RelabelServices:
        """The bulk relabel service."""

    @property
    def ranking(self) -> RankingServices:
        """The feature ranking service."""

    @property
    def model(self) -> ModelServices:
        """The model service (label suspects)."""

    @property
    def annotations(self) -> AnnotationServices:
        """The annotation service (votes, tags, reviewer flags, regions, notes)."""

    @property
    def text(self) -> TextServices:
        """The text service (search by meaning, label merges)."""

    @property
    def augment(self) -> AugmentServices:
        """The augmentation lab."""

    @property
    def augment_views(self) -> AugmentViewServices:
        """The augmentation preview's pictures, waveforms and WAVs."""
