"""Declaration import: one row per employer and quarter (key: enterprise_number, quarter).

The employer must already be in the database. Rows are checked chunk by chunk, then
written in one transaction: new ones by COPY, existing ones by one UPDATE.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from inspections.models import Declaration, Employer
from miningwatch.bulk import bulk_mode_wanted, copy_in, copy_out, indexes_suspended, rows_update, table_lock

from . import checks
from .common import FileRefused, ImportResult, Problems, RowChecks
from .reading import Chunk, csv_chunks, csv_layout_read

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

COLUMNS = (
    "enterprise_number",
    "quarter",
    "headcount",
    "fte",
    "part_time_share",
    "declared_hours",
    "gross_wages",
    "temporary_unemployment_days",
    "hires",
    "exits",
    "short_contracts",
    "posted_workers",
    "social_security_debt",
)
_COUNTS = (
    "headcount",
    "declared_hours",
    "temporary_unemployment_days",
    "hires",
    "exits",
    "short_contracts",
    "posted_workers",
)

_AMOUNTS = {
    "fte": checks.amount(digits=9, decimals=2),
    "part_time_share": checks.amount(digits=4, decimals=3, maximum=1),
    "gross_wages": checks.amount(digits=14, decimals=2),
    "social_security_debt": checks.amount(digits=14, decimals=2),
}
_TABLE = Declaration._meta.db_table
_DB_COLUMNS = ("employer_id", "quarter", *COLUMNS[2:])
_QUARTERS = 16_384  # more than the quarters of years 0-4095: room for a composite key


@dataclass
class Employers:
    """Every employer's enterprise number (as sorted int64) and id: one query."""

    keys: np.ndarray
    ids: np.ndarray

    @classmethod
    def read(cls, cursor: CursorWrapper) -> Employers:
        frame = copy_out(
            cursor,
            f"SELECT enterprise_number, id FROM {Employer._meta.db_table} ORDER BY enterprise_number",
            ["enterprise_number", "id"],
            {"enterprise_number": np.int64, "id": np.int64},
        )
        return cls(keys=frame["enterprise_number"].to_numpy(np.int64), ids=frame["id"].to_numpy(np.int64))

    def ids_of(self, keys: np.ndarray) -> np.ndarray:
        """Employer ids of enterprise-number keys; 0 where there is none."""
        if not len(self.keys):
            return np.zeros(len(keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.ids[at], 0)

    def check(self, row_checks: RowChecks, column: str, cells: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Check the enterprise numbers of `column`: (their int64 keys, employer ids; 0 if none)."""
        row_checks.fail(column, cells[column] == "", "A value is required.")
        numbers, valid, keys = checks.enterprise_numbers_check(cells[column])
        row_checks.fail(column, ~valid, checks.enterprise_number_reason)
        ids = self.ids_of(keys)
        row_checks.fail(
            column,
            valid & (ids == 0),
            lambda number: f"No employer with enterprise number {number} in the database: import the employers first.",
            numbers,
        )
        return keys, ids


@dataclass
class _Part:
    """One chunk's rows that passed their own checks, kept until the whole file did."""

    lines: np.ndarray
    keys: np.ndarray  # enterprise number * _QUARTERS + quarter: duplicates in the file
    ids: np.ndarray  # employer id * _QUARTERS + quarter: rows already in the database
    text: np.ndarray  # each row as a line of COPY text


def declaration_import(*, path: Path) -> ImportResult:
    """Create or update the quarterly declarations of a CSV file, all of them or none."""
    problems = Problems(limit=settings.IMPORT_MAX_ERRORS_SHOWN)
    try:
        layout = csv_layout_read(path=path, expected=COLUMNS, problems=problems)
    except FileRefused:
        return ImportResult.refused(problems, rows_read=0)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            bulk = bulk_mode_wanted(cursor, _TABLE, layout.records)
            table_lock(cursor, _TABLE, exclusive=bulk)
            employers = Employers.read(cursor)
            parts = [
                _chunk_check(chunk, row_checks, employers)
                for chunk, row_checks in csv_chunks(layout, problems=problems, max_chars=settings.IMPORT_MAX_CELL_CHARS)
            ]
            part = _parts_join(parts)
            _duplicates_check(part, problems)
            if problems:
                raise FileRefused
            stored = _stored(cursor, part.ids)
            with indexes_suspended(cursor, _TABLE) if bulk else nullcontext():
                copy_in(cursor, _TABLE, _DB_COLUMNS, _text(part.text[~stored]))
                updated = rows_update(
                    cursor,
                    table=_TABLE,
                    columns=_DB_COLUMNS,
                    keys=("employer_id", "quarter"),
                    compared=_DB_COLUMNS[2:],
                    payload=_text(part.text[stored]),
                )
    except FileRefused:
        return ImportResult.refused(problems, rows_read=layout.records)
    existing = int(stored.sum())
    return ImportResult(
        rows_read=layout.records,
        rows_created=len(stored) - existing,
        rows_updated=updated,
        rows_unchanged=existing - updated,
    )


def _chunk_check(chunk: Chunk, row_checks: RowChecks, employers: Employers) -> _Part:
    cells = chunk.cells
    keys, ids = employers.check(row_checks, "enterprise_number", cells)
    for column in COLUMNS[1:]:
        row_checks.fail(column, cells[column] == "", "A value is required.")
    quarter_ok, quarter = checks.parse_distinct(cells["quarter"], checks.quarter_start)
    row_checks.fail("quarter", ~quarter_ok, checks.reason_of(checks.quarter_start))
    parsed: dict[str, np.ndarray] = {}
    for column in _COUNTS:
        ok, parsed[column] = checks.parse_distinct(cells[column], checks.count)
        row_checks.fail(column, ~ok, checks.reason_of(checks.count))
    for column, parse in _AMOUNTS.items():
        ok, parsed[column] = checks.parse_distinct(cells[column], parse)
        row_checks.fail(column, ~ok, checks.reason_of(parse))
    both = row_checks.good("fte", "headcount")
    above = np.zeros(len(both), dtype=bool)
    above[both] = parsed["fte"][both].astype(float) > parsed["headcount"][both].astype(float)
    row_checks.fail("fte", above, "{value} full-time equivalents is more than the headcount.")
    good = row_checks.rows_good()
    number = np.zeros(len(good), dtype=np.int64)
    number[quarter_ok] = [_quarter_number(start) for start in quarter[quarter_ok]]
    columns = [ids.astype(str).astype(object), quarter]
    columns += [cells[column] if column in _AMOUNTS else _canonical(parsed[column]) for column in COLUMNS[2:]]
    text = np.array(list(map("\t".join, zip(*(c[good] for c in columns), strict=True))), dtype=object)
    return _Part(
        lines=chunk.lines[good],
        keys=keys[good] * _QUARTERS + number[good],
        ids=ids[good] * _QUARTERS + number[good],
        text=text,
    )


def _canonical(values: np.ndarray) -> np.ndarray:
    """Parsed counts back to text ('007' -> '7'); rows that failed hold None and are dropped."""
    return np.array([str(value) for value in values], dtype=object)


def _quarter_number(start: str) -> int:
    return int(start[:4]) * 4 + (int(start[5:7]) - 1) // 3


def _parts_join(parts: list[_Part]) -> _Part:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return _Part(lines=empty, keys=empty, ids=empty, text=np.zeros(0, dtype=object))
    return _Part(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("lines", "keys", "ids", "text")))


def _duplicates_check(part: _Part, problems: Problems) -> None:
    repeated, first = checks.duplicates(part.keys)
    problems.add(
        part.lines[repeated],
        "quarter",
        "This employer already has a declaration for this quarter on line {value}.",
        part.lines[first[repeated]],
    )


def _stored(cursor: CursorWrapper, ids: np.ndarray) -> np.ndarray:
    """Which rows (as employer id * _QUARTERS + quarter) are already in the table: one query."""
    employers = np.unique(ids // _QUARTERS)
    if not len(employers):
        return np.zeros(0, dtype=bool)
    listed = ",".join(map(str, employers.tolist()))  # integers only: safe to inline
    frame = copy_out(
        cursor,
        f"SELECT employer_id, (extract(year FROM quarter)::int * 4 + (extract(month FROM quarter)::int - 1) / 3) "
        f"FROM {_TABLE} WHERE employer_id = ANY('{{{listed}}}'::bigint[])",
        ["employer_id", "quarter"],
        {"employer_id": np.int64, "quarter": np.int64},
    )
    existing = frame["employer_id"].to_numpy(np.int64) * _QUARTERS + frame["quarter"].to_numpy(np.int64)
    return np.isin(ids, existing)


def _text(lines: np.ndarray) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8") if len(lines) else b""
