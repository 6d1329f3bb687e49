"""summary vectors: each sample's summary values in one float32 row, with shared layouts

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-12 09:30:00.000000

Reading a dataset's summaries as one row per (sample, feature) cost seconds for
100,000 samples; one row per sample, every value side by side, reads in one binary
COPY. The values move from ``feature_summaries.data`` into ``summary_vectors`` (the
rows of ``feature_summaries`` stay, with their status and counts), sample by sample
in batches, and the ``data`` column is dropped in place (``ALTER TABLE ... DROP
COLUMN`` on both databases, no table copy). Downgrading puts the values back.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from audiosoup_widgets.store.vectors import join_parts, layout_key, split_vector

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: Samples moved per batch.
BATCH = 2000

_states = sa.table(
    "feature_summaries",
    sa.column("sample_id", sa.Integer()),
    sa.column("feature", sa.String()),
    sa.column("param_key", sa.String()),
    sa.column("n_rows", sa.Integer()),
    sa.column("data", sa.LargeBinary()),
)
_layouts = sa.table(
    "summary_layouts",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("entries", JSON_TYPE),
)
_vectors = sa.table(
    "summary_vectors",
    sa.column("sample_id", sa.Integer()),
    sa.column("layout_id", sa.Integer()),
    sa.column("data", sa.LargeBinary()),
)


def upgrade() -> None:
    op.create_table(
        "summary_layouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("entries", JSON_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_layouts")),
        sa.UniqueConstraint("key", name=op.f("uq_summary_layouts_key")),
    )
    op.create_table(
        "summary_vectors",
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("layout_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["layout_id"], ["summary_layouts.id"], name=op.f("fk_summary_vectors_layout_id_summary_layouts")
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_summary_vectors_sample_id_samples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sample_id", name=op.f("pk_summary_vectors")),
    )
    with op.batch_alter_table("summary_vectors", schema=None) as batch_op:
        batch_op.create_index("ix_summary_vectors_layout_id", ["layout_id"], unique=False)
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        # Out of line and uncompressed once large (float noise does not compress):
        # no compression attempt on write, and substring() reads only the bytes it needs.
        op.execute("ALTER TABLE summary_vectors ALTER COLUMN data SET STORAGE EXTERNAL")
    _backfill(conn)
    # Not batch mode: on SQLite that would copy the table; SQLite 3.35+ drops in place.
    op.drop_column("feature_summaries", "data")


def _backfill(conn: sa.Connection) -> None:
    """Write one vector per sample from its summary rows that hold values."""
    ids = (
        conn.execute(
            sa.select(_states.c.sample_id)
            .where(_states.c.n_rows > 0)
            .distinct()
            .order_by(_states.c.sample_id)
        )
        .scalars()
        .all()
    )
    layout_ids: dict[str, int] = {}
    for start in range(0, len(ids), BATCH):
        lo, hi = ids[start], ids[min(start + BATCH, len(ids)) - 1]
        rows = conn.execute(
            sa.select(_states.c.sample_id, _states.c.feature, _states.c.param_key, _states.c.data).where(
                _states.c.n_rows > 0, _states.c.sample_id.between(lo, hi)
            )
        ).all()
        parts: dict[int, dict[tuple[str, str], bytes]] = {}
        for sid, feature, key, data in rows:
            parts.setdefault(sid, {})[(feature, key)] = bytes(data)
        out = []
        for sid, p in parts.items():
            entries, data = join_parts(p)
            key = layout_key(entries)
            if key not in layout_ids:
                conn.execute(sa.insert(_layouts).values(key=key, entries=[list(e) for e in entries]))
                layout_ids[key] = conn.execute(
                    sa.select(_layouts.c.id).where(_layouts.c.key == key)
                ).scalar_one()
            out.append({"sample_id": sid, "layout_id": layout_ids[key], "data": data})
        if out:
            conn.execute(sa.insert(_vectors), out)


def downgrade() -> None:
    with op.batch_alter_table("feature_summaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=False, server_default=sa.text("''")))
    conn = op.get_bind()
    ids = conn.execute(sa.select(_vectors.c.sample_id).order_by(_vectors.c.sample_id)).scalars().all()
    for start in range(0, len(ids), BATCH):
        lo, hi = ids[start], ids[min(start + BATCH, len(ids)) - 1]
        rows = conn.execute(
            sa.select(_vectors.c.sample_id, _layouts.c.entries, _vectors.c.data)
            .join(_layouts, _layouts.c.id == _vectors.c.layout_id)
            .where(_vectors.c.sample_id.between(lo, hi))
        ).all()
        updates = [
            {"sid": sid, "f": feature, "k": key, "d": data}
            for sid, entries, vector in rows
            for (feature, key), data in split_vector(entries, bytes(vector)).items()
        ]
        if updates:
            conn.execute(
                sa.update(_states)
                .where(
                    _states.c.sample_id == sa.bindparam("sid"),
                    _states.c.feature == sa.bindparam("f"),
                    _states.c.param_key == sa.bindparam("k"),
                )
                .values(data=sa.bindparam("d")),
                updates,
            )
    op.drop_index("ix_summary_vectors_layout_id", table_name="summary_vectors")
    op.drop_table("summary_vectors")
    op.drop_table("summary_layouts")
