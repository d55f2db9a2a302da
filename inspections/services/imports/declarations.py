"""Declaration import: one row per employer (already stored) and quarter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

from inspections.models import Declaration

from . import checks
from .common import Column, RowChecks
from .employers import EmployerIds
from .reading import FileKind

_COUNT = Column(parse=checks.count)
_EUROS = Column(parse=checks.amount(digits=14, decimals=2))
# Every column is stored under its own name (enterprise_number as employer_id), as read.
SPEC = {
    "enterprise_number": Column(),  # of an employer in the database: EmployerIds.check
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
_DB_COLUMNS = ("employer_id", *COLUMNS[1:])
# A declaration's key: employer id * _DAYS + the days from _EPOCH to its quarter's first day
# (the years 1800-2199 span fewer than _DAYS days).
_DAYS, _EPOCH = 2**18, "1800-01-01"


class Declarations(FileKind):
    """Create or update the quarterly declarations of a CSV file, all of them or none."""

    spec, table, columns, key_columns = SPEC, Declaration._meta.db_table, _DB_COLUMNS, 2
    suspended = (Declaration._meta.db_table,)

    def start(self) -> None:
        self.employers, self.seen = EmployerIds.read(self.cursor), checks.SeenKeys()

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        ids = self.employers.check(rows, "enterprise_number")
        above = checks.greater(read["fte"], read["headcount"], rows.good("fte", "headcount"))
        rows.fail("fte", above, _("{value} full-time equivalents is more than the headcount."))
        good = rows.good()
        days = (read["quarter"][good].astype("datetime64[D]") - np.datetime64(_EPOCH)).astype(np.int64)
        keys = np.zeros(len(good), dtype=np.int64)
        keys[good] = ids[good] * _DAYS + days
        reason = _("This employer already has a declaration for this quarter on line {value}.")
        self.seen.repeats_fail(rows, "quarter", keys, good, reason)
        stored = {"employer_id": ids.astype(str), **{name: read[name] for name in COLUMNS[1:]}}
        return pd.DataFrame(stored)[rows.good()]


declaration_import = Declarations.run
