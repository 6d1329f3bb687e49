"""quality measures, QC runs and findings, 2-D projections

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:05:42.275543

Adding nullable columns is an ``ALTER TABLE ... ADD COLUMN`` on both databases:
no table is copied, so the upgrade is quick on a large store and every existing
sample keeps its row, with the new measures NULL (not measured yet).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: The measure columns added to ``samples``, in order.
QUALITY_COLUMNS = (
    ("peak_dbfs", sa.Float()),
    ("clip_ratio", sa.Float()),
    ("silence_ratio", sa.Float()),
    ("leading_silence", sa.Float()),
    ("trailing_silence", sa.Float()),
    ("dc_offset", sa.Float()),
    ("snr_db", sa.Float()),
    ("bandwidth_hz", sa.Float()),
    ("pcm_hash", sa.String(length=64)),
    ("quality_version", sa.Integer()),
)


def upgrade() -> None:
    # Only add_column and create_index: batch mode on SQLite then alters in place
    # rather than copying the table.
    with op.batch_alter_table("samples", schema=None) as batch_op:
        for name, type_ in QUALITY_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_index("ix_samples_dataset_pcm_hash", ["dataset_id", "pcm_hash"], unique=False)

    op.create_table(
        "qc_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("params", JSON_TYPE, nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("n_findings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_qc_runs_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_runs")),
    )
    with op.batch_alter_table("qc_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qc_runs_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "qc_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("sample_ids", JSON_TYPE, nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("detail", JSON_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_qc_findings_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["qc_runs.id"], name=op.f("fk_qc_findings_run_id_qc_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_findings")),
    )
    with op.batch_alter_table("qc_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qc_findings_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_qc_findings_run_id"), ["run_id"], unique=False)

    op.create_table(
        "projections",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("input_key", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_projections_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["samples.id"], name=op.f("fk_projections_sample_id_samples"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("dataset_id", "family", "method", "sample_id", name=op.f("pk_projections")),
    )
    with op.batch_alter_table("projections", schema=None) as batch_op:
        batch_op.create_index("ix_projections_sample_id", ["sample_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_projections_sample_id", table_name="projections")
    op.drop_table("projections")
    op.drop_index(op.f("ix_qc_findings_run_id"), table_name="qc_findings")
    op.drop_index(op.f("ix_qc_findings_dataset_id"), table_name="qc_findings")
    op.drop_table("qc_findings")
    op.drop_index(op.f("ix_qc_runs_dataset_id"), table_name="qc_runs")
    op.drop_table("qc_runs")
    op.drop_index("ix_samples_dataset_pcm_hash", table_name="samples")
    # Not batch mode: on SQLite that copies ``samples`` into a new table and drops the
    # old one, and with foreign keys on, dropping it deletes every edit and feature
    # summary through their ON DELETE CASCADE. SQLite (3.35 and later) drops a column
    # in place, as PostgreSQL does.
    for name, _type in reversed(QUALITY_COLUMNS):
        op.drop_column("samples", name)
