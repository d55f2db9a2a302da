"""Writing to PostgreSQL: emptying the tables, reserving ids, COPY (the indexes are
suspended for the load by miningwatch.bulk.indexes_suspended)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from django.db import connection

from inspections.models import Declaration, Employer, EmployerWord, Finding, Inspection

from .summary import GenerationError

_DATA_MODELS = (Finding, Inspection, Declaration, Employer)
# And the name words, which the employer table's triggers fill (and empty on TRUNCATE):
# their index too is rebuilt once, after the load.
_LOADED_MODELS = (*_DATA_MODELS, EmployerWord)


def _tables_prepare(*, replace: bool) -> None:
    """Refuse to mix generated data with existing data, or wipe it when asked to."""
    existing = Employer.objects.count()
    if existing and not replace:
        raise GenerationError(
            f"The database already holds {existing:,} employers; pass replace=True (--replace) "
            "to delete all employers, declarations, inspections and findings first."
        )
    if existing or replace:
        # Scores carry no foreign key to employers (see scoring.models.Score): name them.
        derived = [connection.ops.quote_name(name) for name in ("scoring_score", "scoring_scorecount")]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(_tables(_DATA_MODELS) + derived)} RESTART IDENTITY CASCADE")


def _tables(models: tuple[type, ...]) -> list[str]:
    return [connection.ops.quote_name(model._meta.db_table) for model in models]


def _tables_analyze() -> None:
    """Fresh statistics, so the first queries on the new data get sensible plans."""
    with connection.cursor() as cursor:
        for table in _tables(_LOADED_MODELS):
            cursor.execute(f"ANALYZE {table}")
        if not connection.in_atomic_block:
            # Marks the name words' pages all-visible, so that name searches are answered
            # from the index alone at once, not after autovacuum (VACUUM needs no transaction).
            cursor.execute(f"VACUUM {_tables((EmployerWord,))[0]}")


def _ids_reserve(model: type, count: int) -> np.ndarray:
    """Take `count` primary keys from the table's own sequence in one query.

    While we load, the table is locked (its indexes are being rebuilt), so nobody else
    draws from the sequence and the ids come out as one block: only its ends travel.
    """
    if count == 0:
        return np.array([], dtype=np.int64)
    sequence = "pg_get_serial_sequence(%s, %s)"
    params = [connection.ops.quote_name(model._meta.db_table), model._meta.pk.column, count]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min(id), max(id) FROM (SELECT nextval({sequence}) AS id FROM generate_series(1, %s)) s", params
        )
        low, high = cursor.fetchone()
        if high - low + 1 == count:
            return np.arange(low, high + 1, dtype=np.int64)
        cursor.execute(f"SELECT nextval({sequence}) FROM generate_series(1, %s)", params)  # not one block: list them
        return np.sort(np.fromiter((row[0] for row in cursor.fetchall()), dtype=np.int64, count=count))


def _copy(model: type, columns: list[str], payload: bytes | str, *, csv: bool) -> None:
    """Stream one buffer into the model's table with COPY FROM STDIN."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
    options = "(FORMAT csv)" if csv else "(FORMAT text)"
    buffer = io.BytesIO(payload.encode() if isinstance(payload, str) else payload)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH {options}", buffer, 1 << 20)


# --- Fixed-width text for COPY ---------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """Non-negative integers (scaled by 10**decimals for decimal columns) or datetime64[D] dates."""

    values: np.ndarray
    decimals: int = 0


def _fixed_width_text(columns: list[_Column]) -> bytes:
    """Rows of tab-separated, zero-padded numbers, built as one uint8 matrix.

    Formatting millions of numbers one by one in Python (or pandas.to_csv) costs more
    than the COPY itself; writing digits column-wise with numpy costs almost nothing.
    """
    widths = [_column_width(column) for column in columns]
    out = np.full((columns[0].values.size, sum(widths) + len(widths)), ord("\t"), dtype=np.uint8)
    position = 0
    for column, width in zip(columns, widths, strict=True):
        _column_write(out, position, column, width)
        position += width + 1
    out[:, -1] = ord("\n")
    return out.tobytes()


def _column_width(column: _Column) -> int:
    if column.values.dtype.kind == "M":
        return 10
    largest = int(column.values.max(initial=0)) // 10**column.decimals
    return len(str(largest)) + (column.decimals + 1 if column.decimals else 0)


def _column_write(out: np.ndarray, start: int, column: _Column, width: int) -> None:
    values = column.values
    if values.dtype.kind == "M":
        months = values.astype("datetime64[M]")
        _digits_write(out, start, months.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
        _digits_write(out, start + 5, months.astype(np.int64) % 12 + 1, 2)
        _digits_write(out, start + 8, (values - months).astype(np.int64) + 1, 2)
        out[:, [start + 4, start + 7]] = ord("-")
        return
    integers = values.astype(np.int64)
    if integers.size and integers.min() < 0:
        raise ValueError("fixed-width COPY columns hold non-negative numbers only")
    if column.decimals:
        whole = width - column.decimals - 1
        _digits_write(out, start, integers // 10**column.decimals, whole)
        out[:, start + whole] = ord(".")
        _digits_write(out, start + whole + 1, integers % 10**column.decimals, column.decimals)
    else:
        _digits_write(out, start, integers, width)


def _digits_write(out: np.ndarray, start: int, values: np.ndarray, width: int) -> None:
    rest = values.astype(np.int64)
    for offset in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, start + offset] = digit + ord("0")
