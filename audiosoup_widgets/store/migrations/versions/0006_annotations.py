"""annotations: reviewers' votes, tags, flags, time regions, notes and their history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 16:30:00.000000

New tables only, each row tied to its sample (``ON DELETE CASCADE``), and one nullable
column on ``model_suspects``: each judged clip's class probabilities, which the
multi-annotator consensus needs (``ALTER TABLE ... ADD COLUMN`` on both databases;
suspects recorded before keep a NULL).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _sample_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["sample_id"], ["samples.id"], name=op.f(f"fk_{table}_sample_id_samples"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("model_suspects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probs", JSON_TYPE, nullable=True))

    op.create_table(
        "annotation_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _sample_fk("annotation_votes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_votes")),
        sa.UniqueConstraint("sample_id", "reviewer", name="uq_annotation_votes_sample_reviewer"),
    )
    op.create_index("ix_annotation_votes_sample_label", "annotation_votes", ["sample_id", "label"])

    for table, column in (("annotation_tags", "tag"), ("annotation_flags", "flag")):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("sample_id", sa.Integer(), nullable=False),
            sa.Column(column, sa.String(length=100), nullable=False),
            sa.Column("reviewer", sa.String(length=200), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            _sample_fk(table),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("sample_id", column, name=f"uq_{table}_sample_{column}"),
        )
        op.create_index(f"ix_{table}_{column}_sample", table, [column, "sample_id"])

    op.create_table(
        "annotation_regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        _sample_fk("annotation_regions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_regions")),
    )
    op.create_index(op.f("ix_annotation_regions_sample_id"), "annotation_regions", ["sample_id"])

    op.create_table(
        "annotation_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        _sample_fk("annotation_notes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_notes")),
    )
    op.create_index(op.f("ix_annotation_notes_sample_id"), "annotation_notes", ["sample_id"])

    op.create_table(
        "annotation_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("before", JSON_TYPE, nullable=True),
        sa.Column("after", JSON_TYPE, nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone", sa.Boolean(), nullable=False),
        sa.Column("undoes", sa.Integer(), nullable=True),
        _sample_fk("annotation_edits"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_edits")),
    )
    op.create_index(op.f("ix_annotation_edits_sample_id"), "annotation_edits", ["sample_id"])
    op.create_index("ix_annotation_edits_batch_id", "annotation_edits", ["batch_id"])


def downgrade() -> None:
    for table in (
        "annotation_edits",
        "annotation_notes",
        "annotation_regions",
        "annotation_flags",
        "annotation_tags",
        "annotation_votes",
    ):
        op.drop_table(table)  # its indexes go with it
    # Not batch mode (see 0005): SQLite 3.35+ drops a column in place.
    op.drop_column("model_suspects", "probs")
