"""Employer import: one row per employer, keyed by enterprise number."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inspections.models import Employer, EmployerWord, LegalForm, NaceCode, PostalCode
from miningwatch import bulk

from . import checks
from .common import Column, RowChecks
from .reading import FileKind

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

SPEC = {
    "enterprise_number": Column(),  # checked with numpy: checks.enterprise_numbers_check
    "nsso_number": Column(required=False),  # 9 or 10 digits: checks.digit_keys
    "name": Column(
        max_chars=Employer._meta.get_field("name").max_length,
        too_long=gettext_lazy("The name is longer than %(max)s characters."),
    ),
    "legal_form": Column(
        codes=lambda: LegalForm.values,
        fold=str.upper,
        unknown=gettext_lazy("'%(value)s' is not a known legal form; use one of: %(options)s."),
    ),
    "nace_code": Column(  # stored with its sector
        codes=lambda: dict(NaceCode.objects.values_list("code", "sector_id")),
        fold=str,  # the code is stored as written: exactly
        unknown=gettext_lazy("'%(value)s' is not a known NACE-BEL code (written like 43.320)."),
    ),
    "joint_committee": Column(
        parse=checks.pattern(
            r"[0-9]{3}(\.[0-9]{2})?", gettext_lazy("'%(value)s' is not a joint committee (e.g. 124 or 302.01).")
        )
    ),
    "postal_code": Column(  # stored with its sub-region
        codes=lambda: dict(PostalCode.objects.values_list("code", "subregion_id")),
        fold=str,
        unknown=gettext_lazy("'%(value)s' is not a known Belgian postal code."),
    ),
    "start_date": Column(parse=checks.iso_date),
    "end_date": Column(required=False, parse=checks.iso_date),
}
COLUMNS = tuple(SPEC)
_DB_COLUMNS = (
    *("enterprise_number", "nsso_number", "name", "legal_form", "nace_id", "joint_committee", "postal_code_id"),
    *("sector_id", "subregion_id", "start_date", "end_date", "updated_at"),
)


class Employers(FileKind):
    """Create or update the employers of a CSV file, all of them or none."""

    spec, table, columns = SPEC, Employer._meta.db_table, _DB_COLUMNS
    suspended = (Employer._meta.db_table, EmployerWord._meta.db_table)  # the words: filled by a trigger

    def start(self) -> None:
        sql = f"SELECT enterprise_number, nsso_number FROM {self.table} WHERE nsso_number IS NOT NULL"
        stored = bulk.copy_out(self.cursor, sql, ["key", "nsso"], {"key": np.int64, "nsso": object})
        nsso_ok, nsso = checks.digit_keys(stored["nsso"].to_numpy(dtype=object), (9, 10))
        self.nsso_owners = checks.SortedKeys(nsso[nsso_ok], stored["key"].to_numpy(np.int64)[nsso_ok])
        self.seen, self.seen_nsso = checks.SeenKeys(), checks.SeenKeys()  # in this file
        self.now = timezone.now().isoformat()

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        cells = rows.cells
        numbers, valid, keys = checks.enterprise_numbers_check(cells["enterprise_number"])
        rows.fail("enterprise_number", ~valid, checks.enterprise_number_reason)
        nsso_ok, nsso = checks.digit_keys(cells["nsso_number"], (9, 10))
        reason = _("'{value}' is not a social-security employer number (9 or 10 digits).")
        rows.fail("nsso_number", ~nsso_ok & (cells["nsso_number"] != ""), reason)
        dated = rows.good("start_date", "end_date") & (cells["end_date"] != "")
        before = checks.greater(read["start_date"], read["end_date"], dated, str)
        rows.fail("end_date", before, _("The end date {value} is before the start date."))
        self._repeats_check(rows, keys, valid, nsso, nsso_ok & rows.good("nsso_number"))
        stored = [numbers, bulk.nullable(cells["nsso_number"]), bulk.text_escaped(cells["name"]), read["legal_form"]]
        stored += [cells["nace_code"], cells["joint_committee"], cells["postal_code"], read["nace_code"]]
        stored += [read["postal_code"], cells["start_date"], bulk.nullable(cells["end_date"])]
        stored += [bulk.constant(self.now, len(keys))]
        return pd.DataFrame(dict(zip(_DB_COLUMNS, stored, strict=True)))[rows.good()]

    def _repeats_check(
        self, rows: RowChecks, keys: np.ndarray, valid: np.ndarray, nsso: np.ndarray, given: np.ndarray
    ) -> None:
        """An enterprise number or social-security number twice in the file, or a
        social-security number that already belongs to another employer."""
        reason = _("The same enterprise number is already on line {value}.")
        self.seen.repeats_fail(rows, "enterprise_number", keys, valid, reason)
        reason = _("The same social-security number is already on line {value}.")
        self.seen_nsso.repeats_fail(rows, "nsso_number", nsso, given, reason)
        holder = self.nsso_owners.get(nsso)
        rows.fail("nsso_number", given & valid & (holder != 0) & (holder != keys), _nsso_owner, holder)


class EmployerIds(checks.SortedKeys):
    """Every employer's enterprise number (as int64) and id, for the kinds that name employers."""

    @classmethod
    def read(cls, cursor: CursorWrapper) -> EmployerIds:
        sql = f"SELECT enterprise_number, id FROM {Employer._meta.db_table}"
        frame = bulk.copy_out(cursor, sql, ["key", "id"], {"key": np.int64, "id": np.int64})
        return cls(frame["key"].to_numpy(np.int64), frame["id"].to_numpy(np.int64))

    def check(self, rows: RowChecks, column: str) -> np.ndarray:
        """Check the enterprise numbers of `column`: the employer ids (0 where none)."""
        numbers, valid, keys = checks.enterprise_numbers_check(rows.cells[column])
        rows.fail(column, ~valid, checks.enterprise_number_reason)
        ids = self.get(keys)
        reason = _("No employer with enterprise number {value} in the database: import the employers first.")
        rows.fail(column, valid & (ids == 0), reason, numbers)
        return ids


employer_import = Employers.run


def _nsso_owner(key: object) -> str:
    return _("This social-security number already belongs to employer %(number)s.") % {"number": f"{int(key):010d}"}
