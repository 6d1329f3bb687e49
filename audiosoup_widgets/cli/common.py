"""What every ``audiosoup`` sub-command shares: the ``--db`` option, progress bars, output files.

It also holds :func:`prepare_engine`, the compiled-code cache check that a
command runs, with a notice on the terminal, before its process loads the
feature engine (``features compute``, ``serve``, ``demo``), and
:func:`compute_with_progress`, a dataset's feature computation with a progress
bar and its summary printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from ..errors import AudiosoupError

if TYPE_CHECKING:  # pragma: no cover
    from tqdm.auto import tqdm

    from ..jobs.compute import ComputeReport
    from ..store import Store

#: ``progress(done, total)``, as the loader and the feature computation call it.
Progress = Callable[[int, int], None]
#: What ``ArgumentParser.add_subparsers`` returns; each command module's ``register`` takes it.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def db_arg(parser: argparse.ArgumentParser) -> None:
    """Add the ``--db`` option to a sub-command's parser."""
    parser.add_argument(
        "--db",
        help="SQLAlchemy database URL (default: $AUDIOSOUP_DATABASE_URL, "
        "else an SQLite file in your data folder)",
    )


def progress_bar(desc: str, unit: str) -> tuple[Progress, tqdm]:
    """Return a ``progress(done, total)`` callback drawing a tqdm bar on stderr, and the bar."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=0,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        dynamic_ncols=True,
        disable=os.environ.get("AUDIOSOUP_NO_PROGRESS") == "1",
        # Shown only for work that lasts: a step that fails at once (nothing stored yet)
        # prints its one-line error alone, not under a bar that never moved.
        delay=0.5,
    )

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh() if done == total else bar.update(0)

    return progress, bar


def prepare_engine() -> None:
    """Check numba's compiled-code cache in a separate process before this one loads it.

    A damaged cache kills the process that loads it; checked first, it is rebuilt
    instead (see :func:`audiosoup_widgets.jitcache.ensure_sound`). Fast when the
    cache is known sound; the first time it compiles the feature engine.
    """
    from ..jitcache import cache_files, ensure_sound, install

    if not cache_files(install()):
        print(
            "preparing the feature engine (first run: compiling it takes about 20 s)...",
            file=sys.stderr,
            flush=True,
        )
    ensure_sound()


def compute_with_progress(store: Store, dataset: str, **options: Any) -> ComputeReport:
    """Compute a dataset's feature summaries with a progress bar; print and return the report.

    Call :func:`prepare_engine` first: this process loads the feature engine
    before it starts any worker (so do the feature parameters passed here).

    Parameters
    ----------
    store : Store
        Where the samples and their summaries live.
    dataset : str
        Dataset name.
    **options
        Passed on to :func:`audiosoup_widgets.jobs.compute.compute_dataset`.
    """
    from ..jobs.compute import compute_dataset

    progress, bar = progress_bar(f"features {dataset}", "clip")
    try:
        report = compute_dataset(store, dataset, progress=progress, **options)
    finally:
        bar.close()
    print(report.summary())
    return report


def check_output_path(path: str, option: str) -> None:
    """Refuse, before any work, an output file the command could not write.

    Raises
    ------
    AudiosoupError
        If ``path`` is a folder, or its folder is missing or not writable.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise AudiosoupError(f"{option} {path} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise AudiosoupError(f"{option}: no such folder {folder} (create it first)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AudiosoupError(f"{option}: cannot write into {folder} (permission denied)")


def write_json(path: str, data: object) -> None:
    """Write ``data`` as indented JSON to ``path``, replacing the file only once it is complete."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, default=str)
        fh.write("\n")
    os.replace(tmp, path)
