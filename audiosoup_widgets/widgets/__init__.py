"""The review widgets: UI only, each built from the shared state and the services.

Widgets never import or call each other; they meet in
:class:`~audiosoup_widgets.state.ReviewState`. :func:`audiosoup_widgets.app.build_review_app`
composes them.
"""

from __future__ import annotations

from .agreement import AgreementCard
from .annotate import AnnotatePanel
from .augment import AugmentPanel
from .banner import ErrorBanner
from .compare import ComparisonView
from .editor import MetadataEditor
from .explorer import FeatureExplorer
from .grid import SampleGrid
from .modelpanel import ModelPanel
from .quality import QualityPanel
from .ranking import FeatureRanking
from .review import ReviewDialog
from .selection import SelectionBar
from .simmap import SimilarityMap
from .suspects import SuspectPanel
from .views import ViewTabs
from .vocabulary import VocabularyPanel

__all__ = [
    "AnnotatePanel",
    "AugmentPanel",
    "AgreementCard",
    "SampleGrid",
    "SelectionBar",
    "SimilarityMap",
    "QualityPanel",
    "VocabularyPanel",
    "FeatureRanking",
    "ModelPanel",
    "ViewTabs",
    "ComparisonView",
    "MetadataEditor",
    "FeatureExplorer",
    "ReviewDialog",
    "SuspectPanel",
    "ErrorBanner",
]
