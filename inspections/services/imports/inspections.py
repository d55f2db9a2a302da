"""Inspection import: one row per finding (an inspection and one offence type checked).

Rows with the same reference describe one inspection and must agree on its columns.
Inspections are matched by reference, findings by (inspection, offence type); findings
already stored but absent from the file are kept.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inspections.models import Finding, Inspection, InspectionOrigin, InspectionStatus, OffenceType
from miningwatch import bulk

from . import checks
from .common import Column, ImportResult, RowChecks
from .employers import EmployerIds
from .reading import FileKind, copy_text

_OPTIONAL_DATE = Column(required=False, parse=checks.iso_date)
SPEC = {
    "reference": Column(
        max_chars=Inspection._meta.get_field("reference").max_length,
        too_long=gettext_lazy("At most %(max)s characters."),
    ),
    "enterprise_number": Column(),  # of an employer in the database: EmployerIds.check
    "origin": Column(
        codes=lambda: InspectionOrigin.values,
        unknown=gettext_lazy("'%(value)s' is not a known origin; use one of: %(options)s."),
    ),
    "status": Column(
        codes=lambda: InspectionStatus.values,
        unknown=gettext_lazy("'%(value)s' is not a known status; use one of: %(options)s."),
    ),
    "inspector": Column(
        required=False,
        codes=lambda: dict(get_user_model().objects.values_list("username", "pk")),
        fold=str,  # usernames are case-sensitive
        unknown=gettext_lazy("No user with the username '%(value)s'."),
    ),
    "planned_date": _OPTIONAL_DATE,
    "visit_date": _OPTIONAL_DATE,
    "offence_type": Column(
        codes=lambda: OffenceType.objects.values_list("code", flat=True),
        unknown=gettext_lazy("'%(value)s' is not a known offence type; use one of: %(options)s."),
    ),
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
_INSPECTIONS, _FINDINGS = Inspection._meta.db_table, Finding._meta.db_table
_INSPECTION_COLUMNS = ("reference", *_SHARED.values())
_FINDING_COLUMNS = ("inspection_id", "offence_type_id", "found", "workers_regularised", "contributions_recovered")


class Inspections(FileKind):
    """Create or update the inspections and findings of a CSV file, all of them or none."""

    spec = SPEC
    table = _INSPECTIONS

    def start(self) -> None:
        bulk.table_lock(self.cursor, _FINDINGS)
        self.employers = EmployerIds.read(self.cursor)

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        cells = rows.cells
        employer_ids = self.employers.check(rows, "enterprise_number")
        no_date = (cells["planned_date"] == "") & (cells["visit_date"] == "")
        rows.fail("planned_date", no_date, _("Give a planned date or a visit date (or both)."))
        completed = (read["status"] == InspectionStatus.COMPLETED) & (cells["visit_date"] == "")
        rows.fail("visit_date", completed, _("A completed inspection needs a visit date."))
        not_found = rows.good("found") & (read["found"] == "f")
        for column in ("workers_regularised", "contributions_recovered"):
            nonzero = checks.greater(read[column], np.zeros(len(not_found)), not_found & rows.good(column))
            rows.fail(column, nonzero, _("Nothing can be regularised or recovered when no offence was found."))
        stored = {name: cells[name] for name in ("enterprise_number", "inspector")}
        stored |= {"line": rows.lines, "key": cells["reference"], "reference": bulk.text_escaped(cells["reference"])}
        stored |= {name: read[name] for name in ("origin", "status", "found", *_FINDING_COLUMNS[3:])}
        stored |= {name: bulk.nullable(cells[name]) for name in ("planned_date", "visit_date")}
        stored["inspector_id"] = np.where(cells["inspector"] != "", read["inspector"], "\\N").astype(str)
        stored |= {"employer_id": employer_ids.astype(str), "offence_type_id": read["offence_type"]}
        return pd.DataFrame(stored)[rows.good()]

    def write(self, checked: Iterator[pd.DataFrame]) -> ImportResult:
        """Inspections first, then their findings. A finding counts as updated if it, or its
        inspection, changed."""
        rows = pd.concat(list(checked), ignore_index=True)
        self._agree_check(rows)
        self.writing()
        inspections = rows.drop_duplicates("key").assign(created_at=timezone.now().isoformat())
        changed = self._store(_INSPECTIONS, (*_INSPECTION_COLUMNS, "created_at"), inspections, keys=1).changed
        findings = rows.assign(inspection_id=rows["key"].map(self._ids_of(inspections["key"])))
        stored = self._store(_FINDINGS, _FINDING_COLUMNS, findings.astype({"inspection_id": str}), keys=2)
        inserted, findings_changed = set(stored.inserted), set(stored.changed)
        inspection_changed = findings["key"].isin([reference for (reference,) in changed])
        pairs = zip(findings["inspection_id"], findings["offence_type_id"], strict=True)
        updated = sum(
            pair not in inserted and (pair in findings_changed or moved)
            for pair, moved in zip(pairs, inspection_changed, strict=True)
        )
        return ImportResult.stored(len(findings), stored.created, updated)

    def _agree_check(self, rows: pd.DataFrame) -> None:
        """Rows of one reference agree on the inspection; an offence type once per reference."""
        first_line = rows.groupby("key", sort=False)["line"].transform("first").to_numpy()
        first_row = rows.drop_duplicates("key").set_index("key")
        reason = _("Differs from the same reference on line {value}; rows of one inspection must agree.")
        for column, compared in _SHARED.items():
            differs = rows[compared].to_numpy() != first_row[compared].reindex(rows["key"]).to_numpy()
            there = first_row[column].reindex(rows["key"]).to_numpy()[differs]
            shown = [
                f"{line} ('{'' if value == chr(92) + 'N' else value}')"
                for line, value in zip(first_line[differs], there, strict=True)
            ]
            self.problems.add(rows["line"].to_numpy()[differs], column, reason, np.array(shown, dtype=object))
        twice = rows.duplicated(["key", "offence_type_id"]).to_numpy()
        first_finding = rows.groupby(["key", "offence_type_id"], sort=False)["line"].transform("first").to_numpy()
        reason = _("This reference already has this offence type on line {value}.")
        self.problems.add(rows["line"].to_numpy()[twice], "offence_type", reason, first_finding[twice])

    def _store(self, table: str, columns: tuple[str, ...], rows: pd.DataFrame, *, keys: int) -> bulk.Applied:
        """Rows stored, keyed by the first `keys` columns: the keys of those inserted and changed."""
        with bulk.staged(self.cursor, table, columns) as stage:
            stage.send(copy_text(rows, columns), len(rows))
        return bulk.staged_apply(
            self.cursor, table=table, columns=columns, keys=columns[:keys], returning=columns[:keys]
        )

    def _ids_of(self, references: pd.Series) -> dict[str, int]:
        self.cursor.execute(
            f"SELECT reference, id FROM {_INSPECTIONS} WHERE reference = ANY(%s)", [references.tolist()]
        )
        return dict(self.cursor.fetchall())


inspection_import = Inspections.run
