"""Augmented copies of a dataset's clips: a recipe applied in workers, FLAC files, derived rows.

This module owns turning a recipe (:mod:`audiosoup_widgets.audio.recipes`) into
stored clips:

* **Files.** Each derived clip is a FLAC file (16-bit PCM) under the data folder
  (:func:`augmented_dir`), one folder per database, dataset and recipe, so deleting
  a recipe's clips removes exactly its files and two databases never share one.
* **The same path as loaded clips.** A written file is analysed by
  :func:`~audiosoup_widgets.audio.analysis.analyse_file` like a loaded one (hash,
  peaks, levels, flags, quality measures); its row names its parent, the recipe,
  the variant and the seed, and keeps the parent's label, split, speaker and text.
  Features are then computed by ``features compute`` as for any clip.
* **Deterministic.** The recipe is seeded by the parent's content hash and relative
  path (never a database id) and the variant; the float samples become integers by
  one fixed rule (:func:`to_pcm16`), so the same recipe gives bit-identical audio on
  any database.
* **Idempotent and resumable.** Pairs (parent, variant) already stored for the
  recipe are skipped; every batch is stored as it completes.
* **One pool.** Batches run on the jobs layer's worker pool
  (:func:`~audiosoup_widgets.jobs.pool.run_local`) or on Dask
  (:func:`~audiosoup_widgets.jobs.dask.run_dask`), as feature computation does; a
  parent that cannot be read or augmented costs that item alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import augmented_dir
from ..errors import AudiosoupError, ConfigError, NotFoundError
from ..terminal import one_line

if TYPE_CHECKING:  # pragma: no cover
    from ..audio.recipes import Recipe
    from ..store import Store

__all__ = [
    "AugmentReport",
    "augment",
    "augment_dataset",
    "delete_augmented",
    "derived_file",
    "parent_key",
    "to_pcm16",
]

BATCH = 32
#: Who saved a recipe when no reviewer is named (the command line, a script).
DEFAULT_REVIEWER = "audiosoup"
_PAGE = 200  # the store's largest page


@dataclass
class AugmentReport:
    """What an augmentation run did.

    Attributes
    ----------
    recipe_id : int
        The stored recipe.
    created : int
        Derived clips written and stored by this run.
    existing : int
        (parent, variant) pairs already stored for this recipe, left alone.
    failed : list of dict
        One per item that could not be made: ``path`` (the parent), ``variant``,
        ``reason``, ``message``.
    seconds : float
        Wall time.
    """

    recipe_id: int
    dataset: str = ""
    recipe: str = ""
    created: int = 0
    existing: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    scheduler: str = "processes"

    @property
    def clips_per_s(self) -> float:
        """Derived clips made per second of wall time."""
        return self.created / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON values."""
        out = asdict(self)
        out["clips_per_s"] = round(self.clips_per_s, 1)
        out["seconds"] = round(self.seconds, 3)
        return out

    def summary(self) -> str:
        """Return the human summary printed at the end of a run."""
        lines = [
            f"recipe {self.recipe!r} on {self.dataset!r}: {self.created} clips created, "
            f"{self.existing} already stored, {len(self.failed)} failed  "
            f"[{self.seconds:.1f} s, {self.clips_per_s:.0f} clips/s, {self.scheduler}]"
        ]
        lines += [
            f"  {f['reason']}  {one_line(f['path'])} (variant {f['variant']}): {one_line(f['message'])}"
            for f in self.failed
        ]
        return "\n".join(lines)


def to_pcm16(y: np.ndarray) -> np.ndarray:
    """Return float samples as 16-bit integers by one fixed rule (the same on every machine).

    Samples are clipped to [-1, 1], scaled by 32767 and rounded half to even
    (:func:`numpy.rint`); NaN becomes 0. soundfile's own conversion is left out
    because its rounding depends on libsndfile's build.
    """
    x = np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.rint(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def parent_key(path: str, content_hash: str) -> str:
    """Return the key a parent clip is seeded by: its relative path and content hash.

    Both are the same on every database that loaded the same folder; a database id
    is not.
    """
    return f"{path}#{content_hash}"


def derived_file(out_dir: str | os.PathLike[str], key: str, variant: int) -> str:
    """Return the FLAC file of one (parent, variant) under a recipe's folder."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return os.path.join(os.fspath(out_dir), digest[:2], f"{digest}-v{variant}.flac")


def recipe_dir(url: str, dataset: str, key: str) -> Path:
    """Return the folder of one recipe's clips of one dataset in one database."""

    def tag(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]

    return augmented_dir() / tag(url) / tag(dataset) / key[:16]


@dataclass(frozen=True)
class _Job:
    """What every batch of one run shares (picklable, sent to each worker)."""

    root: str
    out_dir: str
    recipe: Recipe
    background_paths: tuple[str, ...] | None


# One item: (parent_id, parent file, parent key, variant).
Item = tuple[int, str, str, int]
# One outcome: (parent_id, variant, the analysed file's values or None, (reason, message) or None).
Outcome = tuple[int, int, dict[str, Any] | None, tuple[str, str] | None]


def augment_item(item: Item, job: _Job) -> Outcome:
    """Decode a parent, apply the recipe, write the FLAC file and analyse it like a loaded clip."""
    import soundfile as sf

    from ..audio import QUALITY_VERSION, encode_peaks
    from ..audio.analysis import analyse_file
    from ..audio.decode import decode
    from ..audio.recipes import apply_recipe
    from ..store.insight import quality_values

    pid, path, key, variant = item
    try:
        y, sr = decode(path, sr=None, mono=True, root=job.root)
        out = apply_recipe(
            y, sr, job.recipe, parent_key=key, variant=variant, background_paths=job.background_paths
        )
        target = derived_file(job.out_dir, key, variant)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # Encoded in memory: libsndfile syncs a file to disk when it closes it, which
        # costs more than the rest of the item. Half a file left by a killed run has no
        # row, and the rerun writes it again.
        buf = io.BytesIO()
        sf.write(buf, to_pcm16(out), sr, format="FLAC", subtype="PCM_16")
        with open(target, "wb") as fh:
            fh.write(buf.getbuffer())
        a = analyse_file(target, root=job.out_dir)
    except AudiosoupError as exc:
        return pid, variant, None, (getattr(exc, "code", "error"), one_line(exc.message))
    except Exception as exc:  # noqa: BLE001 - one bad parent costs one item, never the batch
        return pid, variant, None, ("augment_error", one_line(f"{type(exc).__name__}: {exc}"))
    info = a.info
    values = {
        "path": target,
        "content_hash": a.sha256,
        "format": info.format,
        "subtype": info.subtype,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "frames": info.frames,
        "duration": info.duration,
        "status": "flagged" if a.flags else "ok",
        "flags": list(a.flags),
        "peaks": encode_peaks(a.peaks),
        "peak_abs": a.peak_abs,
        **quality_values(a.quality.as_row()),
        "quality_version": QUALITY_VERSION,
    }
    return pid, variant, values, None


def augment_batch(batch: Sequence[Item], job: _Job) -> list[Outcome]:
    """Run :func:`augment_item` over one batch (in a worker, or on a Dask worker)."""
    return [augment_item(item, job) for item in batch]


def _parents(
    store: Store, dataset: str, *, label: str | None, split: str | None, ids: Iterable[int] | None
) -> list[Any]:
    """Return the original (not derived) clips to augment, in id order."""
    from ..store import SampleQuery

    query = SampleQuery(
        dataset=dataset,
        labels=(label,) if label else (),
        split=split,
        ids=tuple(ids) if ids is not None else None,
        sort="id",
        origin="original",
    )
    # The matching ids in one query, then their records a page of ids at a time: no
    # page has to skip the ones before it, however large the dataset.
    matching = store.sample_ids(query)
    out: list[Any] = []
    for start in range(0, len(matching), _PAGE):
        chunk = SampleQuery(dataset=dataset, ids=tuple(matching[start : start + _PAGE]), sort="id")
        out += store.page_samples(chunk, page_size=_PAGE)
    return out


def _recipe(recipe: Recipe | str | os.PathLike[str]) -> Recipe:
    """Return a recipe given as itself, a YAML text or a YAML file."""
    from ..audio.recipes import Recipe, recipe_from_yaml

    if isinstance(recipe, Recipe):
        return recipe
    text = os.fspath(recipe)
    is_file = not isinstance(recipe, str) or ("\n" not in text and text.lower().endswith((".yaml", ".yml")))
    if is_file:
        try:
            with open(text, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ConfigError(f"cannot read the recipe file {one_line(os.fspath(recipe))}: {why}") from exc
    return recipe_from_yaml(text)


def augment_dataset(
    dataset: str,
    recipe: Recipe | str | os.PathLike[str],
    *,
    name: str | None = None,
    variants: int = 1,
    label: str | None = None,
    split: str | None = None,
    ids: Iterable[int] | None = None,
    db: Store | str | None = None,
    workers: int | None = None,
    dask: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    reviewer: str | None = None,
    background_paths: Sequence[str] | None = None,
    batch_size: int = BATCH,
) -> AugmentReport:
    """Make and store ``variants`` augmented copies of a dataset's original clips.

    Parameters
    ----------
    dataset : str
        Dataset name.
    recipe : Recipe, str or path-like
        The chain of transforms: a :class:`~audiosoup_widgets.audio.recipes.Recipe`,
        its YAML text or a YAML file.
    name : str, optional
        The recipe's name in the store (default: the recipe's own name, else one
        derived from its key).
    variants : int
        Copies per parent clip (variants ``0`` to ``variants - 1``), each seeded apart.
    label, split : str, optional
        Augment only the clips with this label, in this split.
    ids : iterable of int, optional
        Augment only these clips (a selection).
    db : Store or str, optional
        An open store or a database URL (default: the configured one).
    workers : int, optional
        Worker processes (default: one per core; 1 runs in this process).
    dask : str, optional
        ``"local"`` for a Dask ``LocalCluster``, or a scheduler's address.
    progress : callable, optional
        ``progress(done, total)`` after each batch.
    reviewer : str, optional
        Who asked for the run (kept with the recipe).
    background_paths : sequence of str, optional
        Files for transforms that mix in background noise.
    batch_size : int
        Items per task.

    Returns
    -------
    AugmentReport

    Raises
    ------
    ConfigError
        For a bad recipe, a bad number of variants or workers.
    NotFoundError
        If the dataset does not exist.
    """
    from ..audio.recipes import recipe_key
    from .compute import open_store
    from .pool import WorkerCrashError

    t0 = time.perf_counter()
    if not 1 <= variants <= 1000:
        raise ConfigError("--variants must be between 1 and 1000")
    if workers is not None and workers < 1:
        raise ConfigError("--workers must be 1 or more")
    rec = _recipe(recipe)
    store = open_store(db)
    ds_id = store.get_dataset(dataset).id
    root = store.dataset_root(dataset)
    key = recipe_key(rec)
    recipe_name = (name or f"recipe-{key[:8]}").strip()
    # Saving the same recipe under its name again returns the stored version; a changed
    # one becomes the name's next version, with clips of its own.
    recipe_id = store.save_recipe(dataset, recipe_name, rec, reviewer=reviewer or DEFAULT_REVIEWER).id
    report = AugmentReport(
        recipe_id=recipe_id,
        dataset=dataset,
        recipe=recipe_name,
        scheduler="processes" if dask is None else f"dask:{dask}",
    )
    parents = _parents(store, dataset, label=label, split=split, ids=ids)
    done = store.derived_done(recipe_id)
    out_dir = recipe_dir(store.url, dataset, key)
    by_id = {p.id: p for p in parents}
    items: list[Item] = []
    for p in parents:
        pkey = parent_key(p.path, p.content_hash)
        for v in range(variants):
            if (p.id, v) in done:
                report.existing += 1
            else:
                items.append((p.id, os.path.join(root, p.path), pkey, v))
    job = _Job(root, os.fspath(out_dir), rec, tuple(background_paths) if background_paths else None)
    label_ids = store.ensure_labels(ds_id, {p.label for p in parents if p.label}) if items else {}
    batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    n_done = 0

    def on_result(outcomes: list[Outcome], batch: Sequence[Item]) -> None:
        nonlocal n_done
        rows: list[dict[str, Any]] = []
        for pid, variant, values, problem in outcomes:
            parent = by_id[pid]
            if values is None:
                reason, message = problem or ("augment_error", "")
                report.failed.append(
                    {"path": parent.path, "variant": variant, "reason": reason, "message": message}
                )
                continue
            rows.append(_row(ds_id, parent, values, recipe_id, rec, variant, label_ids))
        report.created += store.insert_derived(rows)
        n_done += len(batch)
        if progress is not None:
            progress(n_done, len(items))

    if progress is not None:
        progress(0, len(items))
    try:
        _run(batches, job, workers or os.cpu_count() or 1, dask, on_result)
    except WorkerCrashError as exc:
        raise WorkerCrashError(
            f"{exc.message} ({report.created} clips were made and kept; run again to resume)"
        ) from exc
    finally:
        report.seconds = time.perf_counter() - t0
    return report


def _row(
    ds_id: int,
    parent: Any,
    values: dict[str, Any],
    recipe_id: int,
    recipe: Recipe,
    variant: int,
    label_ids: dict[str, int],
) -> dict[str, Any]:
    """Return the stored row of one derived clip: the file's values and its lineage."""
    from ..audio.recipes import variant_seed

    return {
        "dataset_id": ds_id,
        "label_id": label_ids.get(parent.label) if parent.label else None,
        "path_bytes": None,
        "split": parent.split,
        "speaker": parent.speaker,
        "text": parent.text,
        "meta": {},
        "load_run_id": None,
        **values,
        "parent_id": parent.id,
        "recipe_id": recipe_id,
        "aug_variant": variant,
        "aug_seed": variant_seed(
            recipe, parent_key=parent_key(parent.path, parent.content_hash), variant=variant
        ),
    }


def _warm(job: _Job) -> Callable[[], None]:
    """Return the pool's warm-up: the recipe applied once here, before the workers fork.

    Importing audiomentations and librosa takes a second or more; done in the parent,
    every forked worker inherits it instead of paying it again.
    """

    def warm() -> None:
        from ..audio.recipes import apply_recipe

        with contextlib.suppress(AudiosoupError):
            apply_recipe(
                np.zeros(1600, np.float32),
                16000,
                job.recipe,
                parent_key="warm-up",
                background_paths=job.background_paths,
            )

    return warm


def _run(
    batches: list[list[Item]],
    job: _Job,
    workers: int,
    dask: str | None,
    on_result: Callable[[list[Outcome], Sequence[Item]], None],
) -> None:
    """Run the batches in this process, in the local pool or on Dask."""
    if not batches:
        return
    if dask is not None:
        from .dask import run_dask

        run_dask(
            augment_batch,
            batches,
            args=(job,),
            workers=workers,
            scheduler=dask,
            on_result=on_result,
            warm=_warm(job),
        )
    elif workers == 1:
        for b in batches:
            on_result(augment_batch(b, job), b)
    else:
        from .pool import run_local

        run_local(augment_batch, batches, args=(job,), workers=workers, on_result=on_result, warm=_warm(job))


#: The public name of :func:`augment_dataset` (``audiosoup_widgets.augment``).
augment = augment_dataset


def delete_augmented(dataset: str, name_or_id: str | int, *, db: Store | str | None = None) -> int:
    """Delete a recipe's derived clips of a dataset, rows and files.

    Parameters
    ----------
    dataset : str
        Dataset name.
    name_or_id : str or int
        The recipe's name (every version of it) or one version's id.
    db : Store or str, optional
        An open store or a database URL.

    Returns
    -------
    int
        Derived clips deleted.

    Raises
    ------
    NotFoundError
        If the dataset or the recipe does not exist.
    """
    from .compute import open_store

    store = open_store(db)
    root = store.dataset_root(dataset)
    versions = [
        r
        for r in store.list_recipes(dataset)
        if (r.id == name_or_id if isinstance(name_or_id, int) else r.name == str(name_or_id).strip())
    ]
    if not versions:
        raise NotFoundError(f"dataset {dataset!r} has no recipe {name_or_id!r}")
    base = os.path.realpath(augmented_dir())
    total = 0
    for version in versions:
        count, paths = store.delete_derived(version.id)
        total += count
        for path in paths:
            real = os.path.realpath(os.path.join(root, path))
            # Only files this module wrote are removed: never one outside its folder.
            if os.path.commonpath([base, real]) != base:
                continue
            try:
                os.remove(real)
            except FileNotFoundError:
                pass
    return total
