"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 20:16:11.395310
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("layout", sa.String(length=32), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_labels_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("dataset_id", "name", name="uq_labels_dataset_name"),
    )
    op.create_table(
        "load_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("layout", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("n_found", sa.Integer(), nullable=False),
        sa.Column("n_loaded", sa.Integer(), nullable=False),
        sa.Column("n_existing", sa.Integer(), nullable=False),
        sa.Column("n_skipped", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_load_runs_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_load_runs")),
    )
    op.create_table(
        "load_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["load_runs.id"], name=op.f("fk_load_failures_run_id_load_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_load_failures")),
    )
    with op.batch_alter_table("load_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_load_failures_run_id"), ["run_id"], unique=False)

    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("path_bytes", sa.LargeBinary(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("subtype", sa.String(length=32), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("frames", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=True),
        sa.Column("speaker", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column(
            "meta",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("peaks", sa.LargeBinary(), nullable=True),
        sa.Column("peak_abs", sa.Float(), nullable=True),
        sa.Column("rms_db", sa.Float(), nullable=True),
        sa.Column("load_run_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_samples_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["label_id"], ["labels.id"], name=op.f("fk_samples_label_id_labels"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["load_run_id"],
            ["load_runs.id"],
            name=op.f("fk_samples_load_run_id_load_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
        sa.UniqueConstraint("dataset_id", "path", name="uq_samples_dataset_path"),
    )
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.create_index("ix_samples_dataset_duration", ["dataset_id", "duration", "id"], unique=False)
        batch_op.create_index("ix_samples_dataset_id_id", ["dataset_id", "id"], unique=False)
        batch_op.create_index("ix_samples_dataset_label", ["dataset_id", "label_id", "id"], unique=False)
        batch_op.create_index("ix_samples_dataset_split", ["dataset_id", "split", "id"], unique=False)
        batch_op.create_index("ix_samples_hash", ["content_hash"], unique=False)

    op.create_table(
        "feature_summaries",
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("param_key", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_frames", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_feature_summaries_sample_id_samples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sample_id", "feature", "param_key", name=op.f("pk_feature_summaries")),
    )
    with op.batch_alter_table("feature_summaries", schema=None) as batch_op:
        batch_op.create_index("ix_feature_summaries_feature_key", ["feature", "param_key"], unique=False)

    op.create_table(
        "sample_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column(
            "old",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "new",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("undone", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["samples.id"], name=op.f("fk_sample_edits_sample_id_samples"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_edits")),
    )
    with op.batch_alter_table("sample_edits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_edits_sample_id"), ["sample_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("sample_edits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_edits_sample_id"))

    op.drop_table("sample_edits")
    with op.batch_alter_table("feature_summaries", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_summaries_feature_key")

    op.drop_table("feature_summaries")
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index("ix_samples_hash")
        batch_op.drop_index("ix_samples_dataset_split")
        batch_op.drop_index("ix_samples_dataset_label")
        batch_op.drop_index("ix_samples_dataset_id_id")
        batch_op.drop_index("ix_samples_dataset_duration")

    op.drop_table("samples")
    with op.batch_alter_table("load_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_load_failures_run_id"))

    op.drop_table("load_failures")
    op.drop_table("load_runs")
    op.drop_table("labels")
    op.drop_table("datasets")
