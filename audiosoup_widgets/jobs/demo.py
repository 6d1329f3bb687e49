"""The demo dataset: the packaged synthetic Speech Commands clips, loaded once with their features.

``audiosoup demo``, the benchmarks and the getting-started notebook use it. What
the terminal shows while it loads (summaries, progress bars) is the command
line's business (:mod:`audiosoup_widgets.cli.serve`); this module only does the
work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store
    from .ingest import LoadReport

__all__ = ["DEMO_DATASET", "demo_data_dir", "load_demo", "ensure_demo"]

#: The name the demo dataset is stored under.
DEMO_DATASET = "speech-commands-mini"


def demo_data_dir() -> str:
    """Return the folder of the packaged demo dataset."""
    from importlib import resources

    return str(resources.files("audiosoup_widgets") / "demo_data" / "speech_commands_mini")


def load_demo(store: Store) -> LoadReport | None:
    """Load the demo dataset into ``store`` unless it is there.

    Returns
    -------
    LoadReport or None
        The load's report, or ``None`` when the dataset was already stored.
    """
    from ..errors import NotFoundError
    from .ingest import load_dataset

    try:
        store.get_dataset(DEMO_DATASET)
    except NotFoundError:
        return load_dataset(store, demo_data_dir(), dataset=DEMO_DATASET, layout="speech-commands")
    return None


def ensure_demo(db: str | None = None, *, features: bool = True) -> Store:
    """Load the demo dataset into ``db`` unless it is there, and compute its features; return the store.

    Prints nothing.

    Parameters
    ----------
    db : str, optional
        Database URL (default: the configured one).
    features : bool
        Also compute the feature summaries of clips that lack them (a few
        seconds), so ``feature_frame`` and exports work at once, and run the
        quality check once (:func:`~audiosoup_widgets.jobs.qc.run_qc`). The
        compiled-code cache is checked first
        (:func:`audiosoup_widgets.jitcache.ensure_sound`), since this process
        then loads the feature engine.
    """
    from ..store import connect

    store = connect(db)
    load_demo(store)
    if features and store.count_samples_without_summaries(DEMO_DATASET):
        from ..jitcache import ensure_sound
        from .compute import compute_dataset

        ensure_sound()
        compute_dataset(store, DEMO_DATASET)
    if features and store.latest_qc_run(DEMO_DATASET) is None:
        from .qc import run_qc

        run_qc(DEMO_DATASET, db=store, features=False)
    return store
