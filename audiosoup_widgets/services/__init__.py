"""Services: the application's use cases, the only thing the review widgets call.

One module per concern, each owning its caches and their invalidation:

* :mod:`.samples`: samples, pages, counts, lists, edits with history, undo and conflicts;
* :mod:`.audio`: decoded audio for playback and analysis, thumbnail peaks;
* :mod:`.features`: full feature matrices of the sample in view, engine warm-up;
* :mod:`.export`: feature downloads;
* :mod:`.maps`: similarity maps of a dataset (stored 2-D points, colours, selections);
* :mod:`.compare` (with :mod:`.groups`): clips side by side, class templates, effect sizes;
* :mod:`.quality`: a dataset's quality overview, the clips behind its bars and findings, checks;
* :mod:`.relabel`: bulk relabel of a selection (preview, apply, undo of the batch);
* :mod:`.ranking`: which features separate a dataset's labels, one feature's values per label;
* :mod:`.model`: a classifier on chosen features, its run history, label suspects and their review;
* :mod:`.annotations`: reviewers' votes (blind or not), tags, reviewer flags, regions, notes, their
  history and undo, and the reviewers' agreement;
* :mod:`.text`: search by meaning, near-duplicate label names merged, text-label checks;
* :mod:`.augment`: the augmentation lab: transforms, recipes checked, previews, derived clips;
* :mod:`.augview`: an augmentation preview drawn (both versions on one scale, their difference);
* :mod:`.cache`: the LRU cache they share; :mod:`.protocols`: the typed seam widgets see.

:class:`ReviewServices` bundles one of each over one store; the composition root
(:func:`audiosoup_widgets.app.build_review_app`) builds it and hands it to every
widget. This package also re-exports the vocabulary widgets need (splits,
statuses, sorts, page sizes, limits, checks, the feature registry), so widgets
never import the store, the audio code or the feature internals.

Every public method validates its inputs and raises
:class:`~audiosoup_widgets.errors.AudiosoupError` subclasses with plain messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..features import FeatureParams
from ..jobs.model import FitReport
from ..store import Store
from ..store.records import DatasetRecord, EditRecord, LabelRecord, SampleRecord, SuspectRecord
from .annotations import DEFAULT_FLAGS, AgreementReport, AnnotationService, VotesView
from .audio import MAX_FEATURE_SECONDS, MAX_PLAY_SECONDS, AudioService
from .augment import AugmentService
from .augview import AugmentView, AugmentViews
from .cache import LRUCache
from .compare import MAX_CLIPS, MIN_CLIPS, TEMPLATE_MAX_CLIPS, CompareService
from .export import EXPORT_FORMATS, Download, ExportService
from .features import FAMILIES, FEATURES, FeatureService, FeatureSet, FeatureSpec, features_in
from .maps import COLOUR_BY, MAP_FAMILIES, MAP_METHODS, MapPoints, MapService
from .model import MODELS, Explanation, ModelService
from .protocols import SampleFilters, Services
from .quality import MEASURES, ClassBalance, Histogram, QualityOverview, QualityService
from .ranking import ALL_LABELS, RANK_BY, FeatureBar, FeatureDetail, Ranking, RankingService
from .relabel import MAX_REASON, BatchUndoRecord, RelabelRecord, RelabelService, SkippedSample
from .samples import (
    MAX_META_KEY,
    MAX_META_KEYS,
    MAX_META_VALUE,
    MAX_SEARCH,
    MAX_TEXT,
    PAGE_SIZES,
    SORTS,
    SPLITS,
    STATUSES,
    SampleService,
    as_sample_id,
    validate_label_name,
    validate_reviewer,
)
from .text import MERGE_REASON, SEMANTIC_LIMIT, MergeGroup, TextCheck, TextService

__all__ = [
    "ReviewServices",
    "SampleService",
    "AudioService",
    "AugmentService",
    "FeatureService",
    "ExportService",
    "MapService",
    "MapPoints",
    "MAP_FAMILIES",
    "MAP_METHODS",
    "COLOUR_BY",
    "CompareService",
    "MIN_CLIPS",
    "MAX_CLIPS",
    "TEMPLATE_MAX_CLIPS",
    "QualityService",
    "ModelService",
    "TextService",
    "TextCheck",
    "MergeGroup",
    "MERGE_REASON",
    "SEMANTIC_LIMIT",
    "Explanation",
    "FitReport",
    "MODELS",
    "QualityOverview",
    "Histogram",
    "ClassBalance",
    "MEASURES",
    "RelabelService",
    "AnnotationService",
    "AugmentViews",
    "AugmentView",
    "AgreementReport",
    "VotesView",
    "DEFAULT_FLAGS",
    "RelabelRecord",
    "BatchUndoRecord",
    "SkippedSample",
    "MAX_REASON",
    "RankingService",
    "Ranking",
    "FeatureBar",
    "FeatureDetail",
    "RANK_BY",
    "ALL_LABELS",
    "LRUCache",
    "FeatureSet",
    "Download",
    "Services",
    "SampleFilters",
    "as_sample_id",
    "EXPORT_FORMATS",
    "MAX_PLAY_SECONDS",
    "MAX_FEATURE_SECONDS",
    "PAGE_SIZES",
    "SPLITS",
    "STATUSES",
    "SORTS",
    "MAX_SEARCH",
    "MAX_TEXT",
    "MAX_META_KEYS",
    "MAX_META_KEY",
    "MAX_META_VALUE",
    "validate_label_name",
    "validate_reviewer",
    "FAMILIES",
    "FEATURES",
    "FeatureSpec",
    "features_in",
    "SampleRecord",
    "SuspectRecord",
    "EditRecord",
    "LabelRecord",
    "DatasetRecord",
]


class ReviewServices:
    """The review app's services over one store: samples, audio, features, exports, quality.

    Parameters
    ----------
    store : Store
        The open store.
    params : FeatureParams, optional
        Feature engine parameters (librosa's defaults by default).
    flags : sequence of str, optional
        The reviewer flags offered (default: ``AUDIOSOUP_FLAGS``, comma-separated, else
        :data:`DEFAULT_FLAGS`).

    Attributes
    ----------
    samples : SampleService
    audio : AudioService
    features : FeatureService
    exports : ExportService
    maps : MapService
    compare : CompareService
    quality : QualityService
    relabel : RelabelService
    ranking : RankingService
    model : ModelService
    annotations : AnnotationService
    text : TextService
    augment : AugmentService
    augment_views : AugmentViews
    """

    def __init__(
        self,
        store: Store,
        *,
        params: FeatureParams | None = None,
        flags: Sequence[str] | None = None,
        text_model: str | None = None,
    ) -> None:
        self.samples = SampleService(store)
        self.audio = AudioService(self.samples)
        self.features = FeatureService(self.audio, params=params)
        self.exports = ExportService(self.features, store)
        self.maps = MapService(store, self.samples, params=params)
        self.compare = CompareService(self.samples, self.audio, self.features, store)
        self.quality = QualityService(store)
        self.relabel = RelabelService(store, self.samples)
        self.ranking = RankingService(store, self.samples, params=params)
        self.model = ModelService(store, self.samples)
        self.annotations = AnnotationService(store, self.samples, flags=flags)
        self.text = TextService(store, self.samples, self.relabel, text_model=text_model)
        self.augment = AugmentService(store, self.samples, self.audio)
        self.augment_views = AugmentViews(self.features)
