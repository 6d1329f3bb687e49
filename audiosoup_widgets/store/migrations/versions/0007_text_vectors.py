"""text vectors: each sample's text embedded, per embedder, with the hash of its text

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 16:40:00.000000

A new table only (``text_vectors``), so existing rows are untouched; downgrading drops it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "text_vectors",
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("embedder", sa.String(length=200), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_text_vectors_sample_id_samples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sample_id", "embedder", name=op.f("pk_text_vectors")),
    )
    op.create_index("ix_text_vectors_embedder", "text_vectors", ["embedder", "sample_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_text_vectors_embedder", table_name="text_vectors")
    op.drop_table("text_vectors")
