"""Declaration import: one row per employer (already stored) and quarter.

Rows are checked chunk by chunk, then written: new ones by COPY, the others by one UPDATE.
"""

from __future__ import annotations

from contextlib import nullcontext
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


class Employers(checks.SortedKeys):
    """Every employer's enterprise number (as int64) and id: one query."""

    @classmethod
    def read(cls, cursor: CursorWrapper) -> Employers:
        sql = f"SELECT enterprise_number, id FROM {Employer._meta.db_table}"
        frame = bulk.copy_out(cursor, sql, ["key", "id"], {"key": np.int64, "id": np.int64})
        return cls(frame["key"].to_numpy(np.int64), frame["id"].to_numpy(np.int64))

    def check(self, row_checks: RowChecks, column: str) -> np.ndarray:
        """Check the enterprise numbers of `column`: the employer ids (0 where none)."""
        numbers, valid, keys = checks.enterprise_numbers_check(row_checks.cells[column])
        row_checks.fail(column, ~valid, checks.enterprise_number_reason)
        ids = self.get(keys)
        reason = _("No employer with enterprise number {value} in the database: import the employers first.")
        row_checks.fail(column, valid & (ids == 0), reason, numbers)
        return ids


def declaration_import(*, path: Path, progress: Progress | None = None, max_errors: int = 0) -> ImportResult:
    """Create or update the quarterly declarations of a CSV file, all of them or none."""
    return csv_import(path, COLUMNS, _write, progress=progress, max_errors=max_errors)


def _write(cursor: CursorWrapper, layout: CsvLayout, problems: Problems) -> ImportResult:
    big = bulk.bulk_mode_wanted(cursor, _TABLE, layout.records)
    bulk.table_lock(cursor, _TABLE, exclusive=big)
    employers, seen = Employers.read(cursor), checks.SeenKeys()
    parts = [_chunk_check(row_checks, employers, seen) for row_checks in csv_chunks(layout, problems=problems)]
    if problems:
        raise FileRefused
    keys = np.concatenate([np.zeros(0, np.int64), *(keys for keys, _rows in parts)])
    rows = np.concatenate([np.zeros(0, object), *(rows for _keys, rows in parts)])
    stored = np.isin(keys, _stored_keys(cursor, keys))
    layout.progress("writing", 0, layout.records)
    with bulk.indexes_suspended(cursor, _TABLE) if big else nullcontext():
        bulk.copy_in(cursor, _TABLE, _DB_COLUMNS, _text(rows[~stored]))
        updated = bulk.rows_update(cursor, table=_TABLE, columns=_DB_COLUMNS, keys=_DB_COLUMNS[:2],
                                   compared=_DB_COLUMNS[2:], payload=_text(rows[stored]))  # fmt: skip
    existing = int(stored.sum())
    return ImportResult(rows_created=len(stored) - existing, rows_updated=updated, rows_unchanged=existing - updated)


def _chunk_check(row_checks: RowChecks, employers: Employers, seen: checks.SeenKeys) -> tuple[np.ndarray, np.ndarray]:
    """Check one chunk: the keys (employer id * _QUARTERS + quarter) and COPY text of its good rows."""
    parsed = checks.columns_check(SPEC, row_checks)
    ids = employers.check(row_checks, "enterprise_number")
    both = row_checks.good("fte", "headcount")
    above = np.zeros(len(both), dtype=bool)
    above[both] = parsed["fte"][both].astype(float) > parsed["headcount"][both].astype(float)
    row_checks.fail("fte", above, _("{value} full-time equivalents is more than the headcount."))
    good = row_checks.good()
    keys = np.zeros(len(good), dtype=np.int64)
    keys[good] = ids[good] * _QUARTERS + _quarter_numbers(parsed["quarter"][good])
    reason = _("This employer already has a declaration for this quarter on line {value}.")
    seen.repeats_fail(row_checks, "quarter", keys, good, reason)
    columns = [ids[good].astype(str).astype(object), parsed["quarter"][good]]
    for name in COLUMNS[2:]:  # counts as parsed ('007' -> '7'), decimals as written
        counted = SPEC[name] is _COUNT
        columns.append(parsed[name][good].astype(np.int64).astype(str) if counted else row_checks.cells[name][good])
    return keys[good], np.array(list(map("\t".join, zip(*columns, strict=True))), dtype=object)


def _quarter_numbers(starts: np.ndarray) -> np.ndarray:
    """'2024-07-01' -> 2024 * 4 + 2, worked out once per distinct quarter."""
    codes, uniques = pd.factorize(starts)
    numbers = np.array([int(start[:4]) * 4 + (int(start[5:7]) - 1) // 3 for start in uniques], dtype=np.int64)
    return numbers[codes]


def _stored_keys(cursor: CursorWrapper, keys: np.ndarray) -> np.ndarray:
    """The keys (as employer id * _QUARTERS + quarter) already in the table, of the employers of `keys`."""
    listed = ",".join(map(str, np.unique(keys // _QUARTERS).tolist()))  # integers only: safe to inline
    quarter = "extract(year FROM quarter)::int * 4 + (extract(month FROM quarter)::int - 1) / 3"
    sql = f"SELECT employer_id * {_QUARTERS} + {quarter} FROM"
    sql += f" {_TABLE} WHERE employer_id = ANY('{{{listed}}}'::bigint[])"
    return bulk.copy_out(cursor, sql, ["key"], {"key": np.int64})["key"].to_numpy(np.int64)


def _text(lines: np.ndarray) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8") if len(lines) else b""
