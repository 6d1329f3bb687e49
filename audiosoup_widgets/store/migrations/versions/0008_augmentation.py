"""augmentation: recipes, and derived clips pointing at their parent and recipe

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 17:30:00.000000

A new table (``aug_recipes``) and four nullable columns on ``samples`` (``parent_id``,
``recipe_id``, ``aug_variant``, ``aug_seed``), added in place on both databases (``ALTER
TABLE ... ADD COLUMN``, never a table copy): every existing sample keeps its row as an
original clip (all four NULL). A unique index on (parent, recipe, variant) keeps a rerun
from writing a variant twice.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The new foreign-key columns of ``samples`` and the tables they point at (constants).
_FOREIGN_KEYS = (("parent_id", "samples"), ("recipe_id", "aug_recipes"))

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "aug_recipes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", JSON_TYPE, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_aug_recipes_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aug_recipes")),
        sa.UniqueConstraint("dataset_id", "name", "version", name="uq_aug_recipes_dataset_name_version"),
    )
    # Not batch mode: on SQLite a column with a foreign key makes batch mode copy
    # ``samples`` into a new table, and dropping the old one (foreign keys on) deletes
    # every row that cascades from it. SQLite adds a column with an inline REFERENCES in
    # place; PostgreSQL adds the column, then the constraint.
    if op.get_bind().dialect.name == "sqlite":
        for name, table in _FOREIGN_KEYS:
            op.execute(
                f"ALTER TABLE samples ADD COLUMN {name} INTEGER CONSTRAINT fk_samples_{name}_{table} "
                f"REFERENCES {table} (id) ON DELETE CASCADE"
            )
    else:
        for name, table in _FOREIGN_KEYS:
            op.add_column("samples", sa.Column(name, sa.Integer(), nullable=True))
            op.create_foreign_key(
                f"fk_samples_{name}_{table}", "samples", table, [name], ["id"], ondelete="CASCADE"
            )
    op.add_column("samples", sa.Column("aug_variant", sa.Integer(), nullable=True))
    op.add_column("samples", sa.Column("aug_seed", sa.BigInteger(), nullable=True))
    op.create_index(
        "uq_samples_parent_recipe_variant", "samples", ["parent_id", "recipe_id", "aug_variant"], unique=True
    )
    op.create_index("ix_samples_recipe_id", "samples", ["recipe_id"], unique=False)


def downgrade() -> None:
    # Derived clips go first: without their columns they would look like originals.
    op.execute("DELETE FROM samples WHERE parent_id IS NOT NULL OR recipe_id IS NOT NULL")
    op.drop_index("ix_samples_recipe_id", table_name="samples")
    op.drop_index("uq_samples_parent_recipe_variant", table_name="samples")
    # Not batch mode: on SQLite that copies ``samples`` and, with foreign keys on, dropping
    # the old table deletes every row that cascades from it (see 0002).
    if op.get_bind().dialect.name == "postgresql":
        for name, table in reversed(_FOREIGN_KEYS):
            op.drop_constraint(f"fk_samples_{name}_{table}", "samples", type_="foreignkey")
    for name in ("aug_seed", "aug_variant", "recipe_id", "parent_id"):
        op.drop_column("samples", name)
    op.drop_table("aug_recipes")
