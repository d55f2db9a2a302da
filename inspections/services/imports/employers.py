"""Employer import: one row per employer, keyed by enterprise number.

The file is checked and written in one pass: while Python checks chunk n+1,
PostgreSQL stores chunk n (CopyStream). Everything happens in one transaction, so a
problem found in the last row still leaves the database as it was.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from inspections.models import Employer, EmployerWord, LegalForm, NaceCode, PostalCode
from miningwatch.bulk import (
    CopyStream,
    bulk_mode_wanted,
    constant,
    copy_out,
    copy_sql,
    copy_text,
    indexes_suspended,
    nullable,
    rows_update,
    table_lock,
    text_escaped,
)

from . import checks
from .common import FileRefused, ImportResult, Problems, RowChecks, Stopwatch
from .reading import Chunk, CsvLayout, csv_chunks, csv_layout_read

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

COLUMNS = (
    "enterprise_number",
    "nsso_number",
    "name",
    "legal_form",
    "nace_code",
    "joint_committee",
    "postal_code",
    "start_date",
    "end_date",
)
_REQUIRED = ("enterprise_number", "name", "legal_form", "nace_code", "joint_committee", "postal_code", "start_date")
_TABLE = Employer._meta.db_table
_WORDS = EmployerWord._meta.db_table  # filled by the employer table's triggers
_DB_COLUMNS = (
    "enterprise_number",
    "nsso_number",
    "name",
    "legal_form",
    "nace_id",
    "joint_committee",
    "postal_code_id",
    "sector_id",
    "subregion_id",
    "start_date",
    "end_date",
    "updated_at",
)

_COMPARED = _DB_COLUMNS[1:-1]  # updated_at changes only when something else does
_NAME_MAX = Employer._meta.get_field("name").max_length
_parse_legal_form = checks.choice(LegalForm.values, "legal form", fold=str.upper)
_parse_joint_committee = checks.pattern(
    r"[0-9]{3}(\.[0-9]{2})?", "'{value}' is not a joint committee (e.g. 124 or 302.01)."
)


@dataclass
class _Known:
    """What the database and the earlier chunks already hold."""

    nace_sector: dict[str, str]
    postal_subregion: dict[str, str]
    keys: np.ndarray  # enterprise numbers in the table, as sorted int64
    nsso_keys: np.ndarray  # social-security numbers in the table (checks.digit_keys), sorted
    nsso_owners: np.ndarray  # the enterprise number holding each of them
    seen: checks.SeenKeys = field(default_factory=checks.SeenKeys)  # in this file
    seen_nsso: checks.SeenKeys = field(default_factory=checks.SeenKeys)


def employer_import(*, path: Path) -> ImportResult:
    """Create or update the employers of a CSV file, all of them or none."""
    watch = Stopwatch(f"employer import of {path.name}")
    result = _import(path, watch)
    watch.log(result)
    return result


def _import(path: Path, watch: Stopwatch) -> ImportResult:
    problems = Problems(limit=settings.IMPORT_MAX_ERRORS_SHOWN)
    try:
        with watch.phase("layout"):
            layout = csv_layout_read(path=path, expected=COLUMNS, problems=problems)
    except FileRefused:
        return ImportResult.refused(problems, rows_read=0)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            with watch.phase("lock and read"):
                bulk = bulk_mode_wanted(cursor, _TABLE, layout.records)
                table_lock(cursor, _TABLE, exclusive=bulk)
                known = _known_read(cursor)
            with employer_indexes_suspended(cursor, watch) if bulk else nullcontext():
                with watch.phase("check and copy"):
                    created, changed = _rows_stream(cursor, layout, known, problems)
                if problems:
                    raise FileRefused
                with watch.phase("update"):
                    updated = rows_update(
                        cursor, table=_TABLE, columns=_DB_COLUMNS, keys=("enterprise_number",), compared=_COMPARED,
                        payload=b"".join(changed),
                    )  # fmt: skip
    except FileRefused:
        return ImportResult.refused(problems, rows_read=layout.records)
    existing = layout.records - created
    return ImportResult(
        rows_read=layout.records, rows_created=created, rows_updated=updated, rows_unchanged=existing - updated
    )


@contextmanager
def employer_indexes_suspended(cursor: CursorWrapper, watch: Stopwatch | None = None) -> Iterator[None]:
    """A bulk load's: the employer table's indexes and those of its name words (also what
    bench/bench_import.py suspends for its floor)."""
    with indexes_suspended(cursor, _TABLE, _WORDS, watch=watch):
        yield


def _known_read(cursor: CursorWrapper) -> _Known:
    """Reference codes and the employers already stored: one query each."""
    keys, nsso_ok, nsso = _employers_read(cursor)
    order = np.argsort(nsso[nsso_ok])
    return _Known(
        nace_sector=dict(NaceCode.objects.values_list("code", "sector_id")),
        postal_subregion=dict(PostalCode.objects.values_list("code", "subregion_id")),
        keys=np.sort(keys),
        nsso_keys=nsso[nsso_ok][order],
        nsso_owners=keys[nsso_ok][order],
    )


def _employers_read(cursor: CursorWrapper) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enterprise numbers and social-security numbers (as checks.digit_keys) of the table.

    Asked as fixed-width lines (10 + 10 characters) so numpy can read a million of them
    at once; if some stored value is not plain digits, pandas reads them instead.
    """
    buffer = io.BytesIO()
    cursor.cursor.copy_expert(
        f"COPY (SELECT enterprise_number || rpad(coalesce(nsso_number, ''), 10, '-') FROM {_TABLE}) TO STDOUT", buffer
    )
    raw = np.frombuffer(buffer.getbuffer(), dtype=np.uint8)
    if len(raw) % 21 == 0 and (raw[20::21] == 10).all():
        lines = raw.reshape(-1, 21)
        digits = (lines[:, :20] - np.uint8(48)).astype(np.int64)
        keys = digits[:, :10] @ (10 ** np.arange(9, -1, -1, dtype=np.int64))
        is_digit = digits[:, 10:20] <= 9
        width = is_digit.sum(axis=1)
        ten = digits[:, 10:20] @ (10 ** np.arange(9, -1, -1, dtype=np.int64))
        nine = digits[:, 10:19] @ (10 ** np.arange(8, -1, -1, dtype=np.int64))
        nsso_ok = ((width == 10) & is_digit.all(axis=1)) | ((width == 9) & is_digit[:, :9].all(axis=1))
        nsso = np.where(width == 10, ten + 10 * 10**12, nine + 9 * 10**12)
        return keys, nsso_ok, np.where(nsso_ok, nsso, 0)
    frame = copy_out(
        cursor,
        f"SELECT enterprise_number, coalesce(nsso_number, '') FROM {_TABLE}",
        ["enterprise_number", "nsso"],
        {"enterprise_number": np.int64, "nsso": object},
    )
    nsso_ok, nsso = checks.digit_keys(frame["nsso"].to_numpy(dtype=object), (9, 10))
    return frame["enterprise_number"].to_numpy(dtype=np.int64), nsso_ok, nsso


def _rows_stream(
    cursor: CursorWrapper, layout: CsvLayout, known: _Known, problems: Problems
) -> tuple[int, list[bytes]]:
    """Check every chunk; COPY the new rows as they come, keep the others for the UPDATE."""
    changed: list[bytes] = []
    now = timezone.now().isoformat()
    with CopyStream(cursor, copy_sql(_TABLE, _DB_COLUMNS)) as stream:
        for chunk, row_checks in csv_chunks(layout, problems=problems, max_chars=settings.IMPORT_MAX_CELL_CHARS):
            rows, keys = _chunk_check(chunk, row_checks, known)
            if problems:
                stream.abort()  # keep checking, to report every problem, but write nothing
                continue
            new = ~_present(known.keys, keys)
            stream.send(_render(rows, new, now), int(new.sum()))
            changed.append(_render(rows, ~new, now))
    return stream.rows, changed


def _present(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    return _position(sorted_keys, keys) >= 0


def _position(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in `sorted_keys`, -1 where absent."""
    if not len(sorted_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[at] == keys, at, -1)


def _chunk_check(chunk: Chunk, row_checks: RowChecks, known: _Known) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Check one chunk; return the database columns of its rows and their keys."""
    cells = chunk.cells
    for column in _REQUIRED:
        row_checks.fail(column, cells[column] == "", "A value is required.")
    numbers, valid, keys = checks.enterprise_numbers_check(cells["enterprise_number"])
    row_checks.fail("enterprise_number", ~valid, checks.enterprise_number_reason)
    nsso = cells["nsso_number"]
    nsso_ok, nsso_keys = checks.digit_keys(nsso, (9, 10))
    reason = "'{value}' is not a social-security employer number (9 or 10 digits)."
    row_checks.fail("nsso_number", ~nsso_ok & (nsso != ""), reason)
    if chunk.longest > _NAME_MAX:
        too_long = checks.lengths(cells["name"]) > _NAME_MAX
        row_checks.fail("name", too_long, f"The name is longer than {_NAME_MAX} characters.")
    legal_ok, legal_form = checks.parse_distinct(cells["legal_form"], _parse_legal_form)
    row_checks.fail("legal_form", ~legal_ok, checks.reason_of(_parse_legal_form))
    committee_ok, _ = checks.parse_distinct(cells["joint_committee"], _parse_joint_committee)
    row_checks.fail("joint_committee", ~committee_ok, checks.reason_of(_parse_joint_committee))
    nace_ok, sector = checks.lookup(cells["nace_code"], known.nace_sector)
    row_checks.fail("nace_code", ~nace_ok, "'{value}' is not a known NACE-BEL code (written like 43.320).")
    postal_ok, subregion = checks.lookup(cells["postal_code"], known.postal_subregion)
    row_checks.fail("postal_code", ~postal_ok, "'{value}' is not a known Belgian postal code.")
    _dates_check(cells, row_checks)
    _duplicates_check(chunk, row_checks, known, keys, valid, nsso_keys, nsso_ok)
    rows = {
        "enterprise_number": numbers,
        "nsso_number": nullable(nsso),
        "name": text_escaped(cells["name"]),
        "legal_form": legal_form,
        "nace_id": cells["nace_code"],
        "joint_committee": cells["joint_committee"],
        "postal_code_id": cells["postal_code"],
        "sector_id": sector,
        "subregion_id": subregion,
        "start_date": cells["start_date"],
        "end_date": nullable(cells["end_date"]),
    }
    return rows, keys


def _dates_check(cells: dict[str, np.ndarray], row_checks: RowChecks) -> None:
    start_ok, start = checks.parse_distinct(cells["start_date"], checks.iso_date)
    row_checks.fail("start_date", ~start_ok, checks.reason_of(checks.iso_date))
    given = cells["end_date"] != ""
    end_ok, end = checks.parse_distinct(cells["end_date"], checks.iso_date)
    row_checks.fail("end_date", given & ~end_ok, checks.reason_of(checks.iso_date))
    both = row_checks.good("start_date", "end_date") & given & start_ok & end_ok
    before = np.zeros(len(given), dtype=bool)
    before[both] = end[both].astype(np.int64) < start[both].astype(np.int64)
    row_checks.fail("end_date", before, "The end date {value} is before the start date.")


def _duplicates_check(
    chunk: Chunk,
    row_checks: RowChecks,
    known: _Known,
    keys: np.ndarray,
    valid: np.ndarray,
    nsso_keys: np.ndarray,
    nsso_ok: np.ndarray,
) -> None:
    """An enterprise number or social-security number twice in the file, or a
    social-security number that already belongs to another employer."""
    first = np.zeros(len(keys), dtype=np.int64)
    first[valid] = known.seen.first_lines(keys[valid], chunk.lines[valid])
    repeated = valid & (first != chunk.lines)
    row_checks.fail("enterprise_number", repeated, "The same enterprise number is already on line {value}.", first)
    given = nsso_ok & row_checks.good("nsso_number")
    if not given.any():
        return
    nsso_first = np.zeros(len(keys), dtype=np.int64)
    nsso_first[given] = known.seen_nsso.first_lines(nsso_keys[given], chunk.lines[given])
    reason = "The same social-security number is already on line {value}."
    row_checks.fail("nsso_number", given & (nsso_first != chunk.lines), reason, nsso_first)
    at = _position(known.nsso_keys, nsso_keys)
    holder = np.zeros(len(keys), dtype=np.int64)
    holder[at >= 0] = known.nsso_owners[at[at >= 0]]
    taken = given & valid & (holder != 0) & (holder != keys)
    row_checks.fail(
        "nsso_number",
        taken,
        lambda owner: f"This social-security number already belongs to employer {int(owner):010d}.",
        holder,
    )


def _render(rows: dict[str, np.ndarray], mask: np.ndarray, now: str) -> bytes:
    count = int(mask.sum())
    if not count:
        return b""
    columns = [rows[name][mask] for name in _DB_COLUMNS[:-1]]
    return copy_text([*columns, constant(now, count)])
