"""edit batches: a batch id on history rows (bulk relabel)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 13:50:00.000000

A nullable column and an index on ``sample_edits`` (the reason a bulk change records
came with 0004): an ``ALTER TABLE ... ADD COLUMN`` on both databases, so existing
history keeps its rows (with no batch).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column and create_index only: batch mode on SQLite alters in place.
    with op.batch_alter_table("sample_edits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_sample_edits_batch_id", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sample_edits_batch_id", table_name="sample_edits")
    # Not batch mode: on SQLite that would copy the table; SQLite (3.35 and later)
    # drops a column in place, as PostgreSQL does.
    op.drop_column("sample_edits", "batch_id")
