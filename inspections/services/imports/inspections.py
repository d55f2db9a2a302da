"""Inspection import: one row per finding (an inspection and one offence type checked).

Rows with the same reference describe one inspection and must agree on its columns.
Inspections are matched by reference, findings by (inspection, offence type); findings
already stored but absent from the file are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inspections.models import Finding, Inspection, InspectionOrigin, InspectionStatus, OffenceType
from miningwatch import bulk

from . import checks
from .common import Column, FileRefused, ImportResult, Problems, RowChecks
from .declarations import Employers
from .reading import CsvLayout, Progress, csv_chunks, csv_import

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

_REFERENCE_MAX = Inspection._meta.get_field("reference").max_length
_OPTIONAL_DATE = Column(required=False, parse=checks.iso_date)
_ORIGIN, _STATUS = (
    checks.choice(InspectionOrigin.values, gettext_lazy("'%(value)s' is not a known origin; use one of: %(options)s.")),
    checks.choice(InspectionStatus.values, gettext_lazy("'%(value)s' is not a known status; use one of: %(options)s.")),
)
SPEC = {
    "reference": Column(),
    "enterprise_number": Column(),  # of an employer in the database: Employers.check
    "origin": Column(parse=_ORIGIN),
    "status": Column(parse=_STATUS),
    "inspector": Column(required=False),  # a username, looked up
    "planned_date": _OPTIONAL_DATE,
    "visit_date": _OPTIONAL_DATE,
    "offence_type": Column(),  # one of the offence types in the database
    "found": Column(parse=checks.boolean),
    "workers_regularised": Column(required=False, parse=checks.count, default="0"),
    "contributions_recovered": Column(required=False, parse=checks.amount(digits=14, decimals=2), default="0"),
}
COLUMNS = tuple(SPEC)
# The columns that describe the inspection itself, equal on every row of a reference,
# and what is compared (as stored: the employer's and the inspector's ids).
_SHARED = {
    name: {"enterprise_number": "employer_id", "inspector": "inspector_id"}.get(name, name) for name in COLUMNS[1:7]
}
_INSPECTIONS = Inspection._meta.db_table
_FINDINGS = Finding._meta.db_table
_INSPECTION_COLUMNS = ("reference", *_SHARED.values())
_FINDING_COLUMNS = ("inspection_id", "offence_type_id", "found", "workers_regularised", "contributions_recovered")


def inspection_import(*, path: Path, progress: Progress | None = None, max_errors: int = 0) -> ImportResult:
    """Create or update the inspections and findings of a CSV file, all of them or none."""
    return csv_import(path, COLUMNS, _write, progress=progress, max_errors=max_errors)


def _write(cursor: CursorWrapper, layout: CsvLayout, problems: Problems) -> ImportResult:
    bulk.table_lock(cursor, _INSPECTIONS)
    bulk.table_lock(cursor, _FINDINGS)
    employers = Employers.read(cursor)
    users = dict(get_user_model().objects.values_list("username", "pk"))
    unknown = _("'%(value)s' is not a known offence type; use one of: %(options)s.")
    offences = checks.choice(OffenceType.objects.values_list("code", flat=True), unknown)
    frames = [_chunk_check(chunk, employers, users, offences) for chunk in csv_chunks(layout, problems=problems)]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["line", "reference"])
    _rows_agree_check(rows, problems)
    if problems:
        raise FileRefused
    layout.progress("writing", 0, layout.records)
    return _rows_write(cursor, rows)


def _chunk_check(
    row_checks: RowChecks, employers: Employers, users: dict[str, int], offences: Callable[[str], str]
) -> pd.DataFrame:
    """Check one chunk; return its good rows as the database will hold them."""
    cells = row_checks.cells
    parsed = checks.columns_check(SPEC, row_checks)
    reference_long = checks.lengths(cells["reference"]) > _REFERENCE_MAX
    row_checks.fail("reference", reference_long, _("At most %(max)s characters.") % {"max": _REFERENCE_MAX})
    employer_ids = employers.check(row_checks, "enterprise_number")
    offence_ok, offence = checks.parse_distinct(cells["offence_type"], offences)
    row_checks.fail("offence_type", ~offence_ok, checks.reason_of(offences))
    inspector_ok, inspector = checks.lookup(cells["inspector"], users)
    given = cells["inspector"] != ""
    row_checks.fail("inspector", given & ~inspector_ok, _("No user with the username '{value}'."))
    no_date = (cells["planned_date"] == "") & (cells["visit_date"] == "")
    row_checks.fail("planned_date", no_date, _("Give a planned date or a visit date (or both)."))
    completed = (parsed["status"] == InspectionStatus.COMPLETED) & (cells["visit_date"] == "")
    row_checks.fail("visit_date", completed, _("A completed inspection needs a visit date."))
    not_found = row_checks.good("found") & (parsed["found"] == False)  # noqa: E712 - elementwise
    for column in ("workers_regularised", "contributions_recovered"):
        nonzero = np.zeros(len(not_found), dtype=bool)
        judged = not_found & row_checks.good(column)
        nonzero[judged] = parsed[column][judged].astype(float) > 0
        row_checks.fail(column, nonzero, _("Nothing can be regularised or recovered when no offence was found."))
    rows = {
        "line": row_checks.lines,
        "reference": cells["reference"],
        "enterprise_number": cells["enterprise_number"],
        "employer_id": employer_ids.astype(str),
        "origin": parsed["origin"],
        "status": parsed["status"],
        "inspector": cells["inspector"],
        "inspector_id": np.where(given, inspector, "\\N").astype(str),
        "planned_date": bulk.nullable(cells["planned_date"]),
        "visit_date": bulk.nullable(cells["visit_date"]),
        "offence_type_id": offence,
        "found": np.where(parsed["found"] == True, "t", "f"),  # noqa: E712
        "workers_regularised": parsed["workers_regularised"].astype(str),
        "contributions_recovered": np.where(
            cells["contributions_recovered"] == "", "0", cells["contributions_recovered"]
        ),
    }
    return pd.DataFrame(rows)[row_checks.good()]


def _rows_agree_check(rows: pd.DataFrame, problems: Problems) -> None:
    """Rows of one reference agree on the inspection; an offence type once per reference."""
    if rows.empty:
        return
    first_line = rows.groupby("reference", sort=False)["line"].transform("first").to_numpy()
    first_row = rows.drop_duplicates("reference").set_index("reference")
    reason = _("Differs from the same reference on line {value}; rows of one inspection must agree.")
    for column, compared in _SHARED.items():
        differs = rows[compared].to_numpy() != first_row[compared].reindex(rows["reference"]).to_numpy()
        there = first_row[column].reindex(rows["reference"]).to_numpy()[differs]
        shown = [
            f"{line} ('{'' if value == chr(92) + 'N' else value}')"
            for line, value in zip(first_line[differs], there, strict=True)
        ]
        problems.add(rows["line"].to_numpy()[differs], column, reason, np.array(shown, dtype=object))
    twice = rows.duplicated(["reference", "offence_type_id"]).to_numpy()
    first_finding = rows.groupby(["reference", "offence_type_id"], sort=False)["line"].transform("first").to_numpy()
    reason = _("This reference already has this offence type on line {value}.")
    problems.add(rows["line"].to_numpy()[twice], "offence_type", reason, first_finding[twice])


def _rows_write(cursor: CursorWrapper, rows: pd.DataFrame) -> ImportResult:
    """Inspections first (new ones by COPY, the others by one UPDATE), then findings."""
    inspections = rows.drop_duplicates("reference").assign(created_at=timezone.now().isoformat())
    new = ~inspections["reference"].isin(list(_ids_of(cursor, inspections["reference"])))
    columns = (*_INSPECTION_COLUMNS, "created_at")
    bulk.copy_in(cursor, _INSPECTIONS, columns, _text(inspections[new], columns))
    changed = _update(cursor, _INSPECTIONS, _INSPECTION_COLUMNS, inspections[~new], keys=1, returning=("id",))
    ids = _ids_of(cursor, inspections["reference"])
    findings = rows.assign(inspection_id=rows["reference"].map(ids).astype(str))
    key = findings["inspection_id"] + " " + findings["offence_type_id"]  # the id, all digits, first: unambiguous
    sql = f"SELECT inspection_id, offence_type_id FROM {_FINDINGS} WHERE inspection_id = ANY(%s)"
    cursor.execute(sql, [list(ids.values())])
    exists = key.isin([f"{pk} {code}" for pk, code in cursor.fetchall()]).to_numpy()
    bulk.copy_in(cursor, _FINDINGS, _FINDING_COLUMNS, _text(findings[~exists], _FINDING_COLUMNS))
    touched = _update(cursor, _FINDINGS, _FINDING_COLUMNS, findings[exists], keys=2, returning=_FINDING_COLUMNS[:2])
    touched = key.isin([f"{pk} {code}" for pk, code in touched])
    touched |= findings["inspection_id"].isin([str(pk) for (pk,) in changed])
    updated, existing = int((exists & touched.to_numpy()).sum()), int(exists.sum())
    return ImportResult(rows_created=len(exists) - existing, rows_updated=updated, rows_unchanged=existing - updated)


def _update(
    cursor: CursorWrapper, table: str, columns: tuple[str, ...], frame: pd.DataFrame, *, keys: int,
    returning: tuple[str, ...],
) -> list[tuple]:  # fmt: skip
    """Update the rows of `frame` that differ from what is stored, keyed by the first `keys`
    columns; `returning` of those updated."""
    payload, compared = _text(frame, columns), columns[keys:]
    return bulk.rows_update_returning(cursor, table=table, columns=columns, keys=columns[:keys],
                                      compared=compared, payload=payload, returning=returning)  # fmt: skip


def _ids_of(cursor: CursorWrapper, references: pd.Series) -> dict[str, int]:
    cursor.execute(f"SELECT reference, id FROM {_INSPECTIONS} WHERE reference = ANY(%s)", [references.tolist()])
    return dict(cursor.fetchall())


def _text(frame: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    """Rows as COPY text (a reference may hold a backslash: escaped)."""
    values = [frame[column].to_numpy(dtype=object) for column in columns]
    return bulk.copy_text(
        [
            bulk.text_escaped(value) if name == "reference" else value
            for name, value in zip(columns, values, strict=True)
        ]
    )
