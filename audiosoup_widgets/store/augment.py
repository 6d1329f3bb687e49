"""AugmentMixin: augmentation recipes (named, versioned) and the derived clips they made.

A recipe is saved under a name per dataset; saving a changed recipe under the same name
adds the next version, saving the same one again returns the stored version. A derived
clip is a sample row with ``parent_id``, ``recipe_id``, ``aug_variant`` and ``aug_seed``
set; the unique index on (parent, recipe, variant) keeps a rerun from writing it twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, aliased

from ..audio.recipes import Recipe, recipe_from_dict, recipe_key, recipe_to_dict
from ..errors import NotFoundError, StoreError, ValidationError
from .bulk import DERIVED_COLUMNS, SAMPLE_COLUMNS, BulkMixin
from .models import MAX_NAME, AugRecipe, Dataset, Sample
from .records import RecipeRecord
from .validation import validate_reviewer

__all__ = ["AugmentMixin", "validate_recipe_name"]

# Ids per IN list when following derived clips and deleting them: under SQLite's limit
# of bound variables, and small enough to keep one statement quick.
_CHUNK = 500
# Writers racing for the next version of one name: each retry re-reads the latest.
_SAVE_TRIES = 5


def validate_recipe_name(name: object) -> str:
    """Return a cleaned recipe name or raise :class:`ValidationError` (one line)."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("a recipe needs a name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ValidationError(f"recipe name longer than {MAX_NAME} characters")
    if any(ord(c) < 32 for c in name):
        raise ValidationError("a recipe name cannot contain control characters")
    return name


def _record(row: AugRecipe, dataset: str) -> RecipeRecord:
    return RecipeRecord(
        id=row.id,
        dataset=dataset,
        name=row.name,
        version=row.version,
        spec=dict(row.spec),
        key=row.key,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _dataset_id(sess: Session, name: str) -> int:
    ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == name))
    if ds_id is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return ds_id


def _check_derived(row: Mapping[str, Any], i: int) -> None:
    for column in DERIVED_COLUMNS:
        value = row.get(column)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"derived row {i} needs a whole number {column}, not {value!r}")
    if row["aug_variant"] < 0:
        raise ValidationError(f"derived row {i} has a negative aug_variant")
    unknown = set(row) - set(SAMPLE_COLUMNS) - set(DERIVED_COLUMNS)
    if unknown:
        raise ValidationError(f"derived row {i} has unknown column {sorted(unknown)[0]!r}")


class AugmentMixin(BulkMixin):
    """Augmentation methods of :class:`audiosoup_widgets.store.Store`."""

    def save_recipe(
        self, dataset: str, name: str, recipe: Recipe | Mapping[str, Any], *, reviewer: str
    ) -> RecipeRecord:
        """Store a recipe under ``name``: a new version, or the latest if it is the same.

        Parameters
        ----------
        dataset : str
            Dataset name.
        name : str
            The recipe's name within the dataset.
        recipe : Recipe or mapping
            The recipe, or its dict form (``{"seed": 7, "steps": [{"Gain": {...}}]}``),
            checked by :func:`~audiosoup_widgets.audio.recipes.recipe_from_dict`.
        reviewer : str
            Who saves it.

        Returns
        -------
        RecipeRecord
            The latest version when its :func:`recipe_key` equals this recipe's (same
            seed and steps, however written), else the new version (1 for a new name).

        Raises
        ------
        RecipeError
            For a refused recipe (a :class:`ValidationError`).
        ValidationError, NotFoundError
            For a bad name or reviewer, or an unknown dataset.
        """
        name = validate_recipe_name(name)
        reviewer = validate_reviewer(reviewer)
        parsed = recipe if isinstance(recipe, Recipe) else recipe_from_dict(recipe)
        spec, key = recipe_to_dict(parsed), recipe_key(parsed)
        for _ in range(_SAVE_TRIES):
            with self.session() as sess:
                ds_id = _dataset_id(sess, dataset)
                latest = sess.scalars(
                    select(AugRecipe)
                    .where(AugRecipe.dataset_id == ds_id, AugRecipe.name == name)
                    .order_by(AugRecipe.version.desc())
                    .limit(1)
                ).first()
                if latest is not None and latest.key == key:
                    return _record(latest, dataset)
                version = 1 if latest is None else latest.version + 1
                new_id = sess.scalar(
                    self._insert(AugRecipe)
                    .values(
                        dataset_id=ds_id,
                        name=name,
                        version=version,
                        spec=spec,
                        key=key,
                        created_at=dt.datetime.now(dt.UTC),
                        created_by=reviewer,
                    )
                    .on_conflict_do_nothing(index_elements=["dataset_id", "name", "version"])
                    .returning(AugRecipe.id)
                )
                if new_id is not None:
                    row = sess.get(AugRecipe, new_id)
                    assert row is not None  # inserted just now, in this transaction
                    return _record(row, dataset)
            # Another writer took this version number first: read its version and retry.
        raise StoreError(f"could not save recipe {name!r}: too many writers at once; try again")

    def list_recipes(self, dataset: str, *, latest_only: bool = False) -> list[RecipeRecord]:
        """Return a dataset's recipes by name, oldest version first (or each name's latest)."""
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            q = select(AugRecipe).where(AugRecipe.dataset_id == ds_id)
            if latest_only:
                newer = aliased(AugRecipe)
                q = q.where(
                    ~select(newer.id)
                    .where(
                        newer.dataset_id == AugRecipe.dataset_id,
                        newer.name == AugRecipe.name,
                        newer.version > AugRecipe.version,
                    )
                    .exists()
                )
            rows = sess.scalars(q.order_by(AugRecipe.name, AugRecipe.version)).all()
            return [_record(r, dataset) for r in rows]

    def get_recipe(self, recipe_id: int) -> RecipeRecord:
        """Return one stored recipe version (NotFoundError if there is none)."""
        with self.session() as sess:
            row = sess.get(AugRecipe, recipe_id)
            if row is None:
                raise NotFoundError(f"no recipe with id {recipe_id}")
            dataset = sess.scalar(select(Dataset.name).where(Dataset.id == row.dataset_id))
            assert dataset is not None  # the foreign key holds it
            return _record(row, dataset)

    def derived_done(self, recipe_id: int) -> set[tuple[int, int]]:
        """Return the (parent id, variant) pairs a recipe version has written already."""
        with self.session() as sess:
            rows = sess.execute(
                select(Sample.parent_id, Sample.aug_variant).where(Sample.recipe_id == recipe_id)
            ).all()
            return {(int(p), int(v)) for p, v in rows if p is not None and v is not None}

    def insert_derived(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert derived clips; skip any whose path or (parent, recipe, variant) is stored.

        Parameters
        ----------
        rows : sequence of mapping
            Sample rows (as :func:`audiosoup_widgets.testing.sample_row` makes them: the
            columns of ``insert_samples``) with ``parent_id``, ``recipe_id``,
            ``aug_variant`` and ``aug_seed`` set.

        Returns
        -------
        int
            The number of rows added (a rerun adds none).

        Raises
        ------
        ValidationError
            When a row lacks one of the four columns, or names an unknown column; no row
            of the batch is written then.
        """
        for i, row in enumerate(rows):
            _check_derived(row, i)
        return self._insert_sample_rows(
            [dict(r) for r in rows], (*SAMPLE_COLUMNS, *DERIVED_COLUMNS), conflict=None
        )

    def delete_derived(self, recipe_id: int) -> tuple[int, list[str]]:
        """Delete the clips a recipe version derived (and any derived from them in turn).

        Returns
        -------
        (int, list of str)
            How many sample rows were deleted, and their paths relative to the dataset
            root, for the caller to delete the files (the store touches no file).
        """
        with self.session() as sess:
            ids = list(sess.scalars(select(Sample.id).where(Sample.recipe_id == recipe_id)))
            # Clips derived from these go too (ON DELETE CASCADE): gather their paths first.
            frontier, seen = ids, set(ids)
            while frontier:
                children: list[int] = []
                for start in range(0, len(frontier), _CHUNK):
                    chunk = frontier[start : start + _CHUNK]
                    children += sess.scalars(select(Sample.id).where(Sample.parent_id.in_(chunk))).all()
                frontier = [c for c in children if c not in seen]
                seen.update(frontier)
                ids += frontier
            paths: list[str] = []
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                paths += sess.scalars(
                    select(Sample.path).where(Sample.id.in_(chunk)).order_by(Sample.id)
                ).all()
            for start in range(0, len(ids), _CHUNK):
                sess.execute(delete(Sample).where(Sample.id.in_(ids[start : start + _CHUNK])))
            return len(ids), paths
