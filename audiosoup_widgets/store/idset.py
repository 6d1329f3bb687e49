"""Sample-id sets as filters: validation, and one bound parameter however many ids.

A selection in the grid, a lasso on a map and a QC finding all become a set of
sample ids, up to :data:`MAX_IDS` of them; :func:`ids_condition` turns one into a
WHERE condition that binds the whole set as a single parameter on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Sized
from typing import Any, cast

import numpy as np
from sqlalchemy import ColumnElement, Integer, Text, any_, bindparam, false, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY

from ..errors import ValidationError
from .models import Sample

#: Most sample ids one filter may carry (a selection, a map lasso, a QC finding).
MAX_IDS = 1_000_000
#: Sample ids are 32-bit integers (``samples.id`` is INTEGER on both databases).
_ID_RANGE = 2**31


def validate_ids(ids: Iterable[Any]) -> tuple[int, ...]:
    """Return sample ids as a tuple of ints, or raise :class:`ValidationError`.

    Parameters
    ----------
    ids : iterable of int
        Python or NumPy integers (not booleans), or a 1-D NumPy integer array.
    """
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise ValidationError("sample ids must be a flat list of integers")
        out: tuple[int, ...] = tuple(ids.tolist())
    elif isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise ValidationError("sample ids must be a list of integers")
    else:
        if isinstance(ids, Sized) and len(ids) > MAX_IDS:
            raise ValidationError(f"at most {MAX_IDS:,} sample ids in one filter")
        out = tuple(ids)
        if not all(type(v) is int for v in out):
            if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in out):
                raise ValidationError("sample ids must be integers")
            out = tuple(int(v) for v in out)
    if len(out) > MAX_IDS:
        raise ValidationError(f"at most {MAX_IDS:,} sample ids in one filter")
    if out and (min(out) < -_ID_RANGE or max(out) >= _ID_RANGE):
        raise ValidationError("sample id out of range")
    return out


def ids_condition(
    dialect: str,
    ids: Sequence[int],
    *,
    csv: str | None = None,
    column: ColumnElement[int] | None = None,
) -> ColumnElement[bool]:
    """Return ``samples.id`` (or ``column``) in ``ids`` as one bound parameter, however many ids.

    PostgreSQL compares with ``= ANY`` of one array (its text form cast to
    ``integer[]``, the column's own type: parsed once, and the planner can hash it
    and scan the table rather than probe the index once per id); SQLite, which caps the
    number of bound variables, reads the ids from one JSON array with
    ``json_each``. An empty ``ids`` matches nothing.

    Parameters
    ----------
    dialect : str
        ``"postgresql"`` or ``"sqlite"``.
    ids : sequence of int
        Validated ids (see :func:`validate_ids`).
    csv : str, optional
        ``ids`` already joined with commas (saves the join when reused).
    column : column, optional
        Another integer column holding sample ids (``sample_edits.sample_id``).
    """
    if not ids:
        return false()
    joined = csv if csv is not None else ",".join(map(str, ids))
    col: Any = Sample.id if column is None else column
    if dialect == "postgresql":
        param = bindparam("id_set", "{" + joined + "}", type_=Text, unique=True)
        return cast("ColumnElement[bool]", col == any_(sql_cast(param, ARRAY(Integer))))
    table = func.json_each(bindparam("id_set", "[" + joined + "]", type_=Text, unique=True)).table_valued(
        "value"
    )
    return cast("ColumnElement[bool]", col.in_(select(table.c.value)))


__all__ = ["MAX_IDS", "ids_condition", "validate_ids"]
