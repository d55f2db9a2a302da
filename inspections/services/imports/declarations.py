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
import pandas as pd
from django.utils.translation import gettext as _

from inspections.models import Declaration, Employer
from miningwatch import bulk

from . import checks
from .common import Column, FileRefused, ImportResult, Problems, RowChecks
from .reading import CsvLayout, Progress, csv_chunks, csv_import

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

_COUNT = Column(parse=checks.count)
_EUROS = Column(parse=checks.amount(digits=14, decimals=2))
# Every column is stored under its own name (enterprise_number as employer_id).
SPEC = {
    "enterprise_number": Column(),  # of an employer in the database: Employers.check
    "quarter": Column(parse=checks.quarter_start),
    "headcount": _COUNT,
    "fte": Column(parse=checks.amount(digits=9, decimals=2)),
    "part_time_share": Column(parse=checks.amount(digits=4, decimals=3, maximum=1)),
    "declared_hours": _COUNT,
    "gross_wages": _EUROS,
    "temporary_unemployment_days": _COUNT,
    "hires": _COUNT,
    "exits": _COUNT,
    "short_contracts": _COUNT,
    "posted_workers": _COUNT,
    "social_security_debt": _EUROS,
}
COLUMNS = tuple(SPEC)
_TABLE = Declaration._meta.db_table
_DB_COLUMNS = ("employer_id", *COLUMNS[1:])
_QUARTERS = 16_384  # more than the quarters of years 0-4095: room for a composite key


@dataclass
class Employers:
    """Every employer's enterprise number (as sorted int64) and id: one query."""

    keys: np.ndarray
    ids: np.ndarray

    @classmethod
    def read(cls, cursor: CursorWrapper) -> Employers:
        sql = f"SELECT enterprise_number, id FROM {Employer._meta.db_table} ORDER BY enterprise_number"
        frame = bulk.copy_out(cursor, sql, ["key", "id"], {"key": np.int64, "id": np.int64})
        return cls(keys=frame["key"].to_numpy(np.int64), ids=frame["id"].to_numpy(np.int64))

    def check(self, row_checks: RowChecks, column: str) -> np.ndarray:
        """Check the enterprise numbers of `column`: the employer ids (0 where none)."""
        numbers, valid, keys = checks.enterprise_numbers_check(row_checks.cells[column])
        row_checks.fail(column, ~valid, checks.enterprise_number_reason)
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        ids = np.where(self.keys[at] == keys, self.ids[at], 0) if len(self.keys) else np.zeros(len(keys), np.int64)
        reason = _("No employer with enterprise number {value} in the database: import the employers first.")
        row_checks.fail(column, valid & (ids == 0), reason, numbers)
        return ids


def declaration_import(*, path: Path, progress: Progress | None = None, max_errors: int = 0) -> ImportResult:
    """Create or update the quarterly declarations of a CSV file, all of them or none."""
    return csv_import(path, COLUMNS, _write, progress=progress, max_errors=max_errors)


def _write(cursor: CursorWrapper, layout: CsvLayout, problems: Problems) -> ImportResult:
    big = bulk.bulk_mode_wanted(cursor, _TABLE, layout.records)
    bulk.table_lock(cursor, _TABLE, exclusive=big)
    employers = Employers.read(cursor)
    parts = [_chunk_check(row_checks, employers) for row_checks in csv_chunks(layout, problems=problems)]
    parts.append((np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object)))
    lines, keys, text = (np.concatenate([part[i] for part in parts]) for i in range(3))
    first = checks.SeenKeys().first_lines(keys, lines)
    reason = _("This employer already has a declaration for this quarter on line {value}.")
    problems.add(lines[first != lines], "quarter", reason, first[first != lines])
    if problems:
        raise FileRefused
    stored = _stored(cursor, keys)
    layout.progress("writing", 0, layout.records)
    with bulk.indexes_suspended(cursor, _TABLE) if big else nullcontext():
        bulk.copy_in(cursor, _TABLE, _DB_COLUMNS, _text(text[~stored]))
        keys, payload = ("employer_id", "quarter"), _text(text[stored])
        updated = bulk.rows_update(
            cursor, table=_TABLE, columns=_DB_COLUMNS, keys=keys, compared=_DB_COLUMNS[2:], payload=payload
        )
    existing = int(stored.sum())
    return ImportResult(rows_created=len(stored) - existing, rows_updated=updated, rows_unchanged=existing - updated)


def _chunk_check(row_checks: RowChecks, employers: Employers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check one chunk: the lines, keys (employer id * _QUARTERS + quarter) and COPY text of its good rows."""
    parsed = checks.columns_check(SPEC, row_checks)
    ids = employers.check(row_checks, "enterprise_number")
    both = row_checks.good("fte", "headcount")
    above = np.zeros(len(both), dtype=bool)
    above[both] = parsed["fte"][both].astype(float) > parsed["headcount"][both].astype(float)
    row_checks.fail("fte", above, _("{value} full-time equivalents is more than the headcount."))
    good = row_checks.good()
    quarter = parsed["quarter"][good]
    columns = [ids[good].astype(str).astype(object), quarter]
    columns += [_stored_text(name, row_checks, parsed, good) for name in COLUMNS[2:]]
    text = np.array(list(map("\t".join, zip(*columns, strict=True))), dtype=object)
    return row_checks.lines[good], ids[good] * _QUARTERS + _quarter_numbers(quarter), text


def _stored_text(name: str, row_checks: RowChecks, parsed: dict[str, np.ndarray], good: np.ndarray) -> np.ndarray:
    """A column as COPY text: counts as parsed ('007' -> '7'), decimals as written."""
    if SPEC[name].parse is checks.count:
        return parsed[name][good].astype(np.int64).astype(str).astype(object)
    return row_checks.cells[name][good]


def _quarter_numbers(starts: np.ndarray) -> np.ndarray:
    """'2024-07-01' -> 2024 * 4 + 2: quarters as integers, worked out once per distinct quarter."""
    codes, uniques = pd.factorize(starts)
    numbers = np.array([int(start[:4]) * 4 + (int(start[5:7]) - 1) // 3 for start in uniques], dtype=np.int64)
    return numbers[codes]


def _stored(cursor: CursorWrapper, keys: np.ndarray) -> np.ndarray:
    """Which rows (as employer id * _QUARTERS + quarter) are already in the table: one query."""
    employers = np.unique(keys // _QUARTERS)
    if not len(employers):
        return np.zeros(0, dtype=bool)
    listed = ",".join(map(str, employers.tolist()))  # integers only: safe to inline
    quarter = "extract(year FROM quarter)::int * 4 + (extract(month FROM quarter)::int - 1) / 3"
    sql = f"SELECT employer_id, {quarter} FROM {_TABLE} WHERE employer_id = ANY('{{{listed}}}'::bigint[])"
    frame = bulk.copy_out(cursor, sql, ["employer_id", "quarter"], {"employer_id": np.int64, "quarter": np.int64})
    existing = frame["employer_id"].to_numpy(np.int64) * _QUARTERS + frame["quarter"].to_numpy(np.int64)
    return np.isin(keys, existing)


def _text(lines: np.ndarray) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8") if len(lines) else b""
