"""store.augment: versioned recipes, derived clips written once, the origin filter, on both databases."""

from __future__ import annotations

import pytest

from audiosoup_widgets.audio.recipes import (
    recipe_from_dict,
    recipe_from_yaml,
    recipe_key,
    recipe_to_yaml,
    variant_seed,
)
from audiosoup_widgets.errors import NotFoundError, RecipeError, ValidationError
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import sample_row, seed_synthetic

SPEC = {
    "seed": 7,
    "steps": [
        {"Gain": {"min_gain_db": -6, "max_gain_db": 6, "p": 1.0}},
        {"Shift": {"min_shift": -0.1, "max_shift": 0.1}},
    ],
}


@pytest.fixture
def ds(store: Store) -> tuple[Store, int, list[int]]:
    ds_id = seed_synthetic(store, dataset="d", n=4, labels=("a", "b"))
    seed_synthetic(store, dataset="e", n=2, labels=("a",))
    return store, ds_id, store.sample_ids(SampleQuery("d"))


def _derived(ds_id: int, parent: int, recipe_id: int, variant: int, **kw) -> dict:
    return sample_row(
        ds_id,
        f"_augmented/r{recipe_id}/{parent}_v{variant}.wav",
        parent_id=parent,
        recipe_id=recipe_id,
        aug_variant=variant,
        aug_seed=2**62 + variant,  # past 32 bits: the column is 64-bit
        **kw,
    )


def test_save_recipe_versions_and_returns_the_same_spec(ds):
    store, _, _ = ds
    first = store.save_recipe("d", " noisy ", SPEC, reviewer="ana")
    assert (first.name, first.version, first.dataset, first.created_by) == ("noisy", 1, "d", "ana")
    written = recipe_from_yaml(
        "seed: 7\nsteps:\n"
        "  - Gain: {min_gain_db: -6, max_gain_db: 6, p: 1.0}\n"
        "  - Shift: {min_shift: -0.1, max_shift: 0.1}\n"
    )
    assert first.spec == SPEC and first.key == recipe_key(written)
    # Read back (JSONB reorders keys on PostgreSQL): the same recipe and the same YAML.
    assert recipe_from_dict(store.get_recipe(first.id).spec) == written
    assert recipe_to_yaml(recipe_from_dict(store.get_recipe(first.id).spec)) == recipe_to_yaml(written)
    # The same recipe however written (defaults spelt out, floats): the stored version.
    same = {"seed": 7, "steps": [{"Gain": {}}, {"Shift": {"min_shift": -0.1, "max_shift": 0.1, "p": 1}}]}
    assert store.save_recipe("d", "noisy", same, reviewer="bo") == first
    assert store.save_recipe("d", "noisy", written, reviewer="bo") == first
    second = store.save_recipe("d", "noisy", {**SPEC, "seed": 8}, reviewer="bo")
    assert (second.version, second.created_by, second.spec["seed"]) == (2, "bo", 8)
    assert second.id != first.id
    # Back to the first spec: a third version (the latest differs), not the old row.
    third = store.save_recipe("d", "noisy", SPEC, reviewer="ana")
    assert third.version == 3 and third.key == first.key
    other = store.save_recipe("d", "clean", SPEC, reviewer="ana")
    assert other.version == 1
    assert store.save_recipe("e", "noisy", SPEC, reviewer="ana").version == 1  # per dataset

    assert [(r.name, r.version) for r in store.list_recipes("d")] == [
        ("clean", 1),
        ("noisy", 1),
        ("noisy", 2),
        ("noisy", 3),
    ]
    assert [(r.name, r.version) for r in store.list_recipes("d", latest_only=True)] == [
        ("clean", 1),
        ("noisy", 3),
    ]
    assert store.get_recipe(second.id) == second
    with pytest.raises(NotFoundError):
        store.get_recipe(999_999)
    with pytest.raises(NotFoundError):
        store.list_recipes("nope")


def test_save_recipe_refuses_bad_input_in_one_line(ds):
    store, _, _ = ds
    with pytest.raises(RecipeError, match=r"^step 1: unknown transform 'Echo'"):
        store.save_recipe("d", "x", {"seed": 1, "steps": [{"Echo": {}}]}, reviewer="ana")
    with pytest.raises(ValidationError, match="a recipe needs a name"):
        store.save_recipe("d", "  ", SPEC, reviewer="ana")
    with pytest.raises(ValidationError, match="control characters"):
        store.save_recipe("d", "a\nb", SPEC, reviewer="ana")
    with pytest.raises(ValidationError, match="enter your name"):
        store.save_recipe("d", "x", SPEC, reviewer="")
    with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
        store.save_recipe("nope", "x", SPEC, reviewer="ana")
    assert store.list_recipes("d") == []


def test_derived_clips_are_written_once_and_deleted_with_their_paths(ds):
    store, ds_id, ids = ds
    recipe = store.save_recipe("d", "noisy", SPEC, reviewer="ana")
    rows = [_derived(ds_id, p, recipe.id, v) for p in ids[:2] for v in range(2)]
    assert store.derived_done(recipe.id) == set()
    assert store.insert_derived(rows) == 4
    assert store.derived_done(recipe.id) == {(p, v) for p in ids[:2] for v in range(2)}
    # A rerun writes nothing, whether the path or only the (parent, recipe, variant) repeats.
    assert store.insert_derived(rows) == 0
    moved = [{**r, "path": r["path"].replace(".wav", "_again.wav")} for r in rows]
    assert store.insert_derived(moved) == 0
    assert store.count_samples(SampleQuery("d")) == 8

    derived_ids = store.sample_ids(SampleQuery("d", origin="derived"))
    assert len(derived_ids) == 4
    rec = store.get_sample(derived_ids[0])
    assert (rec.parent_id, rec.recipe_id) == (ids[0], recipe.id)
    assert store.get_sample(ids[0]).parent_id is None
    assert store.sample_ids(SampleQuery("d", origin="original")) == ids
    assert store.count_samples(SampleQuery("d", origin=None)) == 8
    assert store.count_samples(SampleQuery("d", origin="derived", labels=("a",))) == 0  # no label given
    with store.engine.connect() as conn:
        from sqlalchemy import text

        seeds = conn.execute(text("SELECT aug_seed FROM samples WHERE aug_seed IS NOT NULL")).scalars().all()
    assert sorted(seeds) == [2**62, 2**62, 2**62 + 1, 2**62 + 1]

    # Another recipe's variants are its own.
    other = store.save_recipe("d", "other", {**SPEC, "seed": 1}, reviewer="ana")
    assert store.insert_derived([_derived(ds_id, ids[0], other.id, 0)]) == 1
    assert store.derived_done(other.id) == {(ids[0], 0)}

    count, paths = store.delete_derived(recipe.id)
    assert count == 4 and sorted(paths) == sorted(r["path"] for r in rows)
    assert store.derived_done(recipe.id) == set()
    assert store.count_samples(SampleQuery("d")) == 5
    assert store.delete_derived(recipe.id) == (0, [])


def test_deleting_a_parent_or_recipe_cascades(ds):
    store, ds_id, ids = ds
    recipe = store.save_recipe("d", "noisy", SPEC, reviewer="ana")
    store.insert_derived([_derived(ds_id, ids[0], recipe.id, 0), _derived(ds_id, ids[1], recipe.id, 0)])
    # A clip derived from a derived clip goes with it, and its path is reported.
    child = store.sample_ids(SampleQuery("d", origin="derived"))[0]
    other = store.save_recipe("d", "other", {**SPEC, "seed": 2}, reviewer="ana")
    store.insert_derived([_derived(ds_id, child, other.id, 0)])
    count, paths = store.delete_derived(recipe.id)
    assert count == 3 and f"_augmented/r{other.id}/{child}_v0.wav" in paths
    assert store.count_samples(SampleQuery("d", origin="derived")) == 0

    store.insert_derived([_derived(ds_id, ids[2], recipe.id, 0)])
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM samples WHERE id = :id"), {"id": ids[2]})
    assert store.count_samples(SampleQuery("d", origin="derived")) == 0
    store.insert_derived([_derived(ds_id, ids[3], recipe.id, 0)])
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM aug_recipes WHERE id = :id"), {"id": recipe.id})
    assert store.count_samples(SampleQuery("d", origin="derived")) == 0
    assert store.count_samples(SampleQuery("d")) == 3


def test_insert_derived_checks_every_row_first(ds):
    store, ds_id, ids = ds
    recipe = store.save_recipe("d", "noisy", SPEC, reviewer="ana")
    good = _derived(ds_id, ids[0], recipe.id, 0)
    with pytest.raises(ValidationError, match=r"derived row 1 needs a whole number aug_seed, not None"):
        store.insert_derived([good, {**good, "aug_seed": None}])
    with pytest.raises(ValidationError, match="derived row 0 has a negative aug_variant"):
        store.insert_derived([{**good, "aug_variant": -1}])
    with pytest.raises(ValidationError, match="derived row 0 has unknown column 'colour'"):
        store.insert_derived([{**good, "colour": 1}])
    assert store.derived_done(recipe.id) == set()
    assert store.insert_derived([]) == 0


def test_origin_is_validated():
    with pytest.raises(ValidationError, match="unknown origin 'copies'; choose one of original, derived"):
        SampleQuery("d", origin="copies")
    assert "origin='derived'" in repr(SampleQuery("d", origin="derived"))


def test_a_derived_seed_fits_the_column(ds):
    store, ds_id, ids = ds
    record = store.save_recipe("d", "noisy", SPEC, reviewer="ana")
    recipe = recipe_from_yaml("seed: 7\nsteps: [{Gain: {}}]\n")
    seed = variant_seed(recipe, parent_key="x", variant=0)
    assert store.insert_derived([{**_derived(ds_id, ids[0], record.id, 0), "aug_seed": 2**63 - 1}]) == 1
    assert store.insert_derived([{**_derived(ds_id, ids[1], record.id, 0), "aug_seed": seed}]) == 1
