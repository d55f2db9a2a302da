"""Inspection import: one row per finding (an inspection and one offence type checked).

Rows with the same reference describe one inspection and must agree on its columns.
Inspections are matched by reference, findings by (inspection, offence type); findings
already stored but absent from the file are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from inspections.models import Finding, Inspection, InspectionOrigin, InspectionStatus, OffenceType
from miningwatch.bulk import copy_in, nullable, rows_update_returning, table_lock, text_escaped

from . import checks
from .common import FileRefused, ImportResult, Problems, RowChecks
from .declarations import Employers
from .reading import Chunk, csv_chunks, csv_layout_read

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

COLUMNS = (
    "reference",
    "enterprise_number",
    "origin",
    "status",
    "inspector",
    "planned_date",
    "visit_date",
    "offence_type",
    "found",
    "workers_regularised",
    "contributions_recovered",
)
# The columns that describe the inspection itself, equal on every row of a reference:
# (column reported, column compared, column shown).
_SHARED = (
    ("enterprise_number", "employer_id", "enterprise_number"),
    ("origin", "origin", "origin"),
    ("status", "status", "status"),
    ("inspector", "inspector_id", "inspector"),
    ("planned_date", "planned_date", "planned_date"),
    ("visit_date", "visit_date", "visit_date"),
)

_INSPECTIONS = Inspection._meta.db_table
_FINDINGS = Finding._meta.db_table
_INSPECTION_COLUMNS = ("reference", "employer_id", "origin", "status", "inspector_id", "planned_date", "visit_date")
_FINDING_COLUMNS = ("inspection_id", "offence_type_id", "found", "workers_regularised", "contributions_recovered")
_REFERENCE_MAX = Inspection._meta.get_field("reference").max_length
_parse_origin = checks.choice(InspectionOrigin.values, "origin")
_parse_status = checks.choice(InspectionStatus.values, "status")
_parse_amount = checks.amount(digits=14, decimals=2)


def inspection_import(*, path: Path) -> ImportResult:
    """Create or update the inspections and findings of a CSV file, all of them or none."""
    problems = Problems(limit=settings.IMPORT_MAX_ERRORS_SHOWN)
    try:
        layout = csv_layout_read(path=path, expected=COLUMNS, problems=problems)
    except FileRefused:
        return ImportResult.refused(problems, rows_read=0)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            table_lock(cursor, _INSPECTIONS)
            table_lock(cursor, _FINDINGS)
            employers = Employers.read(cursor)
            users = dict(get_user_model().objects.values_list("username", "pk"))
            offences = list(OffenceType.objects.values_list("code", flat=True))
            chunks = csv_chunks(layout, problems=problems, max_chars=settings.IMPORT_MAX_CELL_CHARS)
            frames = [_chunk_check(chunk, row_checks, employers, users, offences) for chunk, row_checks in chunks]
            rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["line"])
            _rows_agree_check(rows, problems)
            if problems:
                raise FileRefused
            result = _rows_write(cursor, rows)
    except FileRefused:
        return ImportResult.refused(problems, rows_read=layout.records)
    result.rows_read = layout.records
    return result


def _chunk_check(
    chunk: Chunk, row_checks: RowChecks, employers: Employers, users: dict[str, int], offences: list[str]
) -> pd.DataFrame:
    """Check one chunk; return its good rows as the database will hold them."""
    cells = chunk.cells
    for column in ("reference", "origin", "status", "offence_type", "found"):
        row_checks.fail(column, cells[column] == "", "A value is required.")
    row_checks.fail(
        "reference", checks.lengths(cells["reference"]) > _REFERENCE_MAX, f"At most {_REFERENCE_MAX} characters."
    )
    _, employer_ids = employers.check(row_checks, "enterprise_number", cells)
    parsed = {}
    parse_offence = checks.choice(offences, "offence type")
    for column, parse in (
        ("origin", _parse_origin),
        ("status", _parse_status),
        ("offence_type", parse_offence),
        ("found", checks.boolean),
    ):
        ok, parsed[column] = checks.parse_distinct(cells[column], parse)
        row_checks.fail(column, ~ok, checks.reason_of(parse))
    inspector_ok, inspector = checks.lookup(cells["inspector"], users)
    given = cells["inspector"] != ""
    row_checks.fail("inspector", given & ~inspector_ok, "No user with the username '{value}'.")
    _dates_check(cells, parsed, row_checks)
    _recovered_check(cells, parsed, row_checks)
    good = row_checks.rows_good()
    inspector_ids = np.where(given, inspector, "\\N")
    found = np.where(parsed["found"] == True, "t", "f")  # noqa: E712 - elementwise on an object array
    return pd.DataFrame(
        {
            "line": chunk.lines,
            "reference": cells["reference"],
            "enterprise_number": cells["enterprise_number"],
            "employer_id": employer_ids.astype(str),
            "origin": parsed["origin"],
            "status": parsed["status"],
            "inspector": cells["inspector"],
            "inspector_id": inspector_ids.astype(str),
            "planned_date": nullable(cells["planned_date"]),
            "visit_date": nullable(cells["visit_date"]),
            "offence_type_id": parsed["offence_type"],
            "found": found,
            "workers_regularised": parsed["workers_regularised"].astype(str),
            "contributions_recovered": np.where(
                cells["contributions_recovered"] == "", "0", cells["contributions_recovered"]
            ),
        }
    )[good]


def _dates_check(cells: dict[str, np.ndarray], parsed: dict[str, np.ndarray], row_checks: RowChecks) -> None:
    for column in ("planned_date", "visit_date"):
        given = cells[column] != ""
        ok, _ = checks.parse_distinct(cells[column], checks.iso_date)
        row_checks.fail(column, given & ~ok, checks.reason_of(checks.iso_date))
    no_date = (cells["planned_date"] == "") & (cells["visit_date"] == "")
    row_checks.fail("planned_date", no_date, "Give a planned date or a visit date (or both).")
    completed = parsed["status"] == InspectionStatus.COMPLETED
    row_checks.fail("visit_date", completed & (cells["visit_date"] == ""), "A completed inspection needs a visit date.")


def _recovered_check(cells: dict[str, np.ndarray], parsed: dict[str, np.ndarray], row_checks: RowChecks) -> None:
    """Non-negative amounts, and nothing regularised or recovered unless an offence was found."""
    workers = np.where(cells["workers_regularised"] == "", "0", cells["workers_regularised"])
    ok, parsed["workers_regularised"] = checks.parse_distinct(workers, checks.count)
    row_checks.fail("workers_regularised", ~ok, checks.reason_of(checks.count))
    amounts = np.where(cells["contributions_recovered"] == "", "0", cells["contributions_recovered"])
    amount_ok, recovered = checks.parse_distinct(amounts, _parse_amount)
    row_checks.fail("contributions_recovered", ~amount_ok, checks.reason_of(_parse_amount))
    not_found = row_checks.good("found") & (parsed["found"] == False)  # noqa: E712
    for column, values in (
        ("workers_regularised", parsed["workers_regularised"]),
        ("contributions_recovered", recovered),
    ):
        nonzero = np.zeros(len(values), dtype=bool)
        judged = not_found & row_checks.good(column)
        nonzero[judged] = values[judged].astype(float) > 0
        row_checks.fail(column, nonzero, "Nothing can be regularised or recovered when no offence was found.")


def _rows_agree_check(rows: pd.DataFrame, problems: Problems) -> None:
    """Rows of one reference agree on the inspection; an offence type once per reference."""
    if rows.empty:
        return
    first = rows.groupby("reference", sort=False)["line"].transform("first").to_numpy()
    first_row = rows.drop_duplicates("reference").set_index("reference")
    for column, compared, shown_column in _SHARED:
        expected = first_row[compared].reindex(rows["reference"]).to_numpy()
        differs = rows[compared].to_numpy() != expected
        there = first_row[shown_column].reindex(rows["reference"]).to_numpy()[differs]
        shown = np.array(
            [
                f"{line} ('{'' if value == chr(92) + 'N' else value}')"
                for line, value in zip(first[differs], there, strict=True)
            ]
        )
        problems.add(
            rows["line"].to_numpy()[differs],
            column,
            "Differs from the same reference on line {value}; rows of one inspection must agree.",
            shown,
        )
    twice = rows.duplicated(["reference", "offence_type_id"]).to_numpy()
    if twice.any():
        first_finding = rows.groupby(["reference", "offence_type_id"], sort=False)["line"].transform("first")
        problems.add(
            rows["line"].to_numpy()[twice],
            "offence_type",
            "This reference already has this offence type on line {value}.",
            first_finding.to_numpy()[twice],
        )


def _rows_write(cursor: CursorWrapper, rows: pd.DataFrame) -> ImportResult:
    """Inspections first (new ones by COPY, the others by one UPDATE), then findings."""
    inspections = rows.drop_duplicates("reference")
    stored = _ids_of(cursor, inspections["reference"])
    new = ~inspections["reference"].isin(list(stored))
    now = timezone.now().isoformat()
    fresh = inspections[new]
    copy_in(cursor, _INSPECTIONS, (*_INSPECTION_COLUMNS, "created_at"), _text(fresh, _INSPECTION_COLUMNS, now))
    changed = rows_update_returning(
        cursor,
        table=_INSPECTIONS,
        columns=_INSPECTION_COLUMNS,
        keys=("reference",),
        compared=_INSPECTION_COLUMNS[1:],
        payload=_text(inspections[~new], _INSPECTION_COLUMNS),
        returning=("id",),
    )
    ids = _ids_of(cursor, inspections["reference"])
    findings = rows.assign(inspection_id=rows["reference"].map(ids).astype(str))
    known = _findings_stored(cursor, list(ids.values()))
    exists = pd.MultiIndex.from_frame(findings[["inspection_id", "offence_type_id"]]).isin(known)
    copy_in(cursor, _FINDINGS, _FINDING_COLUMNS, _text(findings[~exists], _FINDING_COLUMNS))
    updated = rows_update_returning(
        cursor,
        table=_FINDINGS,
        columns=_FINDING_COLUMNS,
        keys=("inspection_id", "offence_type_id"),
        compared=_FINDING_COLUMNS[2:],
        payload=_text(findings[exists], _FINDING_COLUMNS),
        returning=("inspection_id", "offence_type_id"),
    )
    touched_inspections = {str(pk) for (pk,) in changed}
    touched_findings = {(str(pk), code) for pk, code in updated}
    keys = list(zip(findings["inspection_id"], findings["offence_type_id"], strict=True))
    changed_rows = np.array(
        [exists[i] and (key in touched_findings or key[0] in touched_inspections) for i, key in enumerate(keys)],
        dtype=bool,
    )
    return ImportResult(
        rows_created=int((~exists).sum()),
        rows_updated=int(changed_rows.sum()),
        rows_unchanged=int(exists.sum() - changed_rows.sum()),
    )


def _ids_of(cursor: CursorWrapper, references: pd.Series) -> dict[str, int]:
    cursor.execute(f"SELECT reference, id FROM {_INSPECTIONS} WHERE reference = ANY(%s)", [references.tolist()])
    return dict(cursor.fetchall())


def _findings_stored(cursor: CursorWrapper, inspection_ids: list[int]) -> pd.MultiIndex:
    cursor.execute(
        f"SELECT inspection_id::text, offence_type_id FROM {_FINDINGS} WHERE inspection_id = ANY(%s)", [inspection_ids]
    )
    found = cursor.fetchall()
    return pd.MultiIndex.from_tuples(found) if found else pd.MultiIndex.from_tuples([], names=[None, None])


def _text(frame: pd.DataFrame, columns: tuple[str, ...], now: str | None = None) -> bytes:
    if frame.empty:
        return b""
    values = [frame[column].to_numpy(dtype=object) for column in columns]
    if columns[0] == "reference":
        values[0] = text_escaped(values[0])
    if now is not None:
        values.append(np.full(len(frame), now, dtype=object))
    return ("\n".join(map("\t".join, zip(*values, strict=True))) + "\n").encode("utf-8")
