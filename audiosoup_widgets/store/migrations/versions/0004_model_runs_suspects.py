"""model runs, their label suspects, suspect decisions, a reason on edits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:50:00.000000

New tables only, and one nullable column on ``sample_edits`` (``ALTER TABLE ... ADD
COLUMN`` on both databases: no table is copied, existing edits keep a NULL reason).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("sample_edits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))

    op.create_table(
        "model_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("params", JSON_TYPE, nullable=False),
        sa.Column("features", JSON_TYPE, nullable=False),
        sa.Column("scores", JSON_TYPE, nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_validation", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("test_scores", JSON_TYPE, nullable=True),
        sa.Column("test_scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("test_scored_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_model_runs_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_runs")),
    )
    with op.batch_alter_table("model_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_runs_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "model_suspects",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("suggested", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("is_issue", sa.Boolean(), nullable=False),
        sa.Column("top3", JSON_TYPE, nullable=False),
        sa.Column("nearest", JSON_TYPE, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["model_runs.id"],
            name=op.f("fk_model_suspects_run_id_model_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_model_suspects_sample_id_samples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "sample_id", name=op.f("pk_model_suspects")),
    )
    with op.batch_alter_table("model_suspects", schema=None) as batch_op:
        batch_op.create_index("ix_model_suspects_sample_id", ["sample_id"], unique=False)

    op.create_table(
        "suspect_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("pcm_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_suspect_decisions_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["model_runs.id"],
            name=op.f("fk_suspect_decisions_run_id_model_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_suspect_decisions_sample_id_samples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspect_decisions")),
    )
    with op.batch_alter_table("suspect_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_suspect_decisions_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_suspect_decisions_sample_id"), ["sample_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_suspect_decisions_sample_id"), table_name="suspect_decisions")
    op.drop_index(op.f("ix_suspect_decisions_dataset_id"), table_name="suspect_decisions")
    op.drop_table("suspect_decisions")
    op.drop_index("ix_model_suspects_sample_id", table_name="model_suspects")
    op.drop_table("model_suspects")
    op.drop_index(op.f("ix_model_runs_dataset_id"), table_name="model_runs")
    op.drop_table("model_runs")
    # Not batch mode (see 0002): SQLite 3.35+ drops a column in place.
    op.drop_column("sample_edits", "reason")
