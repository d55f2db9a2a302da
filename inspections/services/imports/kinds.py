"""The three kinds of import file: their columns, checks and storage (docs/data-format.md)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _  # lazy: worded in the reader's language

from inspections import models
from miningwatch import bulk

from . import checks, reading
from .checks import Column, FileRefused, ImportResult, Problems, RowChecks

logger = logging.getLogger("inspections.imports")
_MODELS = (models.Employer, models.EmployerWord, models.Declaration, models.Inspection, models.Finding)
_EMPLOYERS, _WORDS, _DECLARATIONS, _INSPECTIONS, _FINDINGS = (model._meta.db_table for model in _MODELS)


class FileKind:
    """A kind of import file: its columns (`spec`), a chunk's checks (`check`), its storage (`write`)."""

    spec: ClassVar[dict[str, Column]]
    table: ClassVar[str]  # locked for the import, and written
    columns: ClassVar[tuple[str, ...]]  # as stored, those that find a stored row first
    key_columns: ClassVar[int] = 1  # how many of `columns` find a stored row
    suspended: ClassVar[tuple[str, ...]] = ()  # tables whose indexes a big file suspends (bulk.bulk_mode_wanted)

    def __init__(self, cursor: CursorWrapper, file: reading.CsvFile) -> None:
        self.cursor, self.file, self.problems = cursor, file, file.problems
        self.big = bool(self.suspended) and bulk.bulk_mode_wanted(cursor, self.table, file.lines)
        bulk.table_lock(cursor, self.table, exclusive=self.big)
        self.parsers = {name: column.parser() for name, column in self.spec.items()}
        self.start()

    @classmethod
    def run(cls, *, path: Path, progress: reading.Progress | None = None, max_errors: int = 0) -> ImportResult:
        """Check the file and store its rows in one transaction: a problem anywhere leaves nothing
        stored. All problems are counted, the first `max_errors` worded (0: the setting)."""
        problems = Problems(limit=max_errors or settings.IMPORT_MAX_ERRORS_SHOWN)
        file, start = None, time.perf_counter()
        try:
            file = reading.csv_open(path=path, expected=tuple(cls.spec), problems=problems)
            file.progress = progress or file.progress
            file.progress("checking", 0, file.lines)
            with transaction.atomic(), connection.cursor() as cursor:
                kind = cls(cursor, file)
                chunks = reading.csv_chunks(file)
                result = kind.write(kind.check(rows, rows.columns_check(cls.spec, kind.parsers)) for rows in chunks)
        except FileRefused:
            result = ImportResult(errors=problems.first(), error_count=problems.count)
        result.rows_read = file.records if file else 0
        logger.info("Import of %s: %s in %.2f s", path, result.summary(), time.perf_counter() - start)
        return result

    def start(self) -> None:
        """Read what the checks compare rows with, once an import."""

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        """A chunk's checks beyond its columns' own (`read`): its good rows as they are stored."""
        raise NotImplementedError

    def write(self, checked: Iterator[pd.DataFrame]) -> ImportResult:
        """Stage rows as they are checked (PostgreSQL copies one chunk while Python checks the next),
        then update the stored rows that differ, insert the others; into an empty table, copy."""
        self.cursor.execute(f"SELECT EXISTS (SELECT FROM {bulk.quote(self.table)})")
        direct = not self.cursor.fetchone()[0]
        with bulk.indexes_suspended(self.cursor, *self.suspended) if self.big else nullcontext():
            with bulk.staged(self.cursor, self.table, self.columns, direct=direct) as stage:
                for rows in checked:
                    if self.problems:
                        stage.abort()  # keep checking, to report every problem, but write nothing
                    else:
                        stage.send(_copy_text(rows, self.columns), len(rows))
            self.writing()
            if direct:
                return ImportResult.stored(stage.rows, stage.rows, 0)
            keys = self.columns[: self.key_columns]
            applied = bulk.staged_apply(self.cursor, table=self.table, columns=self.columns, keys=keys)
        return ImportResult.stored(stage.rows, applied.created, applied.updated)

    def writing(self) -> None:
        """Every row is checked: refuse the file if any is wrong, else go on to write."""
        if self.problems:
            raise FileRefused
        self.file.progress("writing", 0, self.file.records)


class EmployerIds(checks.KeyIndex):
    """Every employer's id by enterprise number (as int64), for the kinds that name employers."""

    def __init__(self, cursor: CursorWrapper) -> None:
        sql = f"SELECT enterprise_number, id FROM {_EMPLOYERS}"
        frame = bulk.copy_out(cursor, sql, ["key", "id"], {"key": np.int64, "id": np.int64})
        super().__init__(frame["key"].to_numpy(np.int64), frame["id"].to_numpy(np.int64))

    def check(self, rows: RowChecks, column: str) -> np.ndarray:
        """Check the enterprise numbers of `column`: the employer ids (0 where none)."""
        numbers, valid, keys = rows.enterprise_numbers_check(column)
        reason = _("No employer with enterprise number {value} in the database: import the employers first.")
        ids = self.get(keys)
        rows.fail(column, valid & (ids == 0), reason, numbers)
        return ids


# Employers: one row per employer, keyed by enterprise number.
_JOINT_COMMITTEE = _("'%(value)s' is not a joint committee (e.g. 124 or 302.01).")
EMPLOYER_SPEC = {
    "enterprise_number": Column(),  # checked with numpy: RowChecks.enterprise_numbers_check
    "nsso_number": Column(required=False),  # 9 or 10 digits: checks.digit_keys
    "name": Column(max_chars=models.Employer._meta.get_field("name").max_length),
    "legal_form": Column(
        codes=lambda: models.LegalForm.values,
        fold=str.upper,
        unknown=_("'%(value)s' is not a known legal form; use one of: %(options)s."),
    ),
    "nace_code": Column(  # stored with its sector
        codes=lambda: dict(models.NaceCode.objects.values_list("code", "sector_id")),
        fold=str,  # the code is stored as written: exactly
        unknown=_("'%(value)s' is not a known NACE-BEL code (written like 43.320)."),
    ),
    "joint_committee": Column(parse=checks.pattern(r"[0-9]{3}(\.[0-9]{2})?", _JOINT_COMMITTEE)),
    "postal_code": Column(  # stored with its sub-region
        codes=lambda: dict(models.PostalCode.objects.values_list("code", "subregion_id")),
        fold=str,
        unknown=_("'%(value)s' is not a known Belgian postal code."),
    ),
    "start_date": Column(parse=checks.iso_date),
    "end_date": Column(required=False, parse=checks.iso_date),
}
EMPLOYER_COLUMNS = tuple(EMPLOYER_SPEC)


class Employers(FileKind):
    """Create or update the employers of a CSV file, all of them or none."""

    spec, table, suspended = EMPLOYER_SPEC, _EMPLOYERS, (_EMPLOYERS, _WORDS)  # the words: filled by a trigger
    columns = ("enterprise_number", "nsso_number", "name", "legal_form", "nace_id", "joint_committee")
    columns += ("postal_code_id", "sector_id", "subregion_id", "start_date", "end_date", "updated_at")

    def start(self) -> None:
        sql = f"SELECT enterprise_number, nsso_number FROM {self.table} WHERE nsso_number IS NOT NULL"
        stored = bulk.copy_out(self.cursor, sql, ["key", "nsso"], {"key": np.int64, "nsso": object})
        nsso_ok, nsso = checks.digit_keys(stored["nsso"].to_numpy(dtype=object), (9, 10))
        self.nsso_owners = checks.KeyIndex(nsso[nsso_ok], stored["key"].to_numpy(np.int64)[nsso_ok])
        self.seen, self.seen_nsso = checks.SeenKeys(), checks.SeenKeys()  # in this file
        self.now = timezone.now().isoformat()

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        cells = rows.cells
        numbers = self._numbers_check(rows)
        dated = rows.good("start_date", "end_date") & (cells["end_date"] != "")
        before = checks.greater(read["start_date"], read["end_date"], dated, str)
        rows.fail("end_date", before, _("The end date {value} is before the start date."))
        stored = [numbers, bulk.nullable(cells["nsso_number"]), bulk.text_escaped(cells["name"]), read["legal_form"]]
        stored += [cells["nace_code"], cells["joint_committee"], cells["postal_code"], read["nace_code"]]
        stored += [read["postal_code"], cells["start_date"], bulk.nullable(cells["end_date"])]
        stored += [bulk.constant(self.now, len(numbers))]
        return pd.DataFrame(dict(zip(self.columns, stored, strict=True)))[rows.good()]

    def _numbers_check(self, rows: RowChecks) -> np.ndarray:
        """Valid numbers, once in the file, social-security ones not another employer's: the normalised."""
        numbers, valid, keys = rows.enterprise_numbers_check("enterprise_number")
        nsso_ok, nsso = checks.digit_keys(rows.cells["nsso_number"], (9, 10))
        reason = _("'{value}' is not a social-security employer number (9 or 10 digits).")
        rows.fail("nsso_number", ~nsso_ok & (rows.cells["nsso_number"] != ""), reason)
        reason = _("The same enterprise number is already on line {value}.")
        self.seen.repeats_fail(rows, "enterprise_number", keys, valid, reason)
        reason = _("The same social-security number is already on line {value}.")
        given = nsso_ok & rows.good("nsso_number")
        self.seen_nsso.repeats_fail(rows, "nsso_number", nsso, given, reason)
        holder = self.nsso_owners.get(nsso)
        rows.fail("nsso_number", given & valid & (holder != 0) & (holder != keys), _nsso_owner, holder)
        return numbers


def _nsso_owner(key: object) -> str:
    return _("This social-security number already belongs to employer %(number)s.") % {"number": f"{int(key):010d}"}


# Declarations: one row per employer (already stored) and quarter.
_COUNT = Column(parse=checks.count)
_EUROS = Column(parse=checks.amount(digits=14, decimals=2))
# Every column is stored under its own name (enterprise_number as employer_id), as read.
DECLARATION_SPEC = {
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
DECLARATION_COLUMNS = tuple(DECLARATION_SPEC)
# A declaration's key: employer id * _DAYS + the days from _EPOCH to its quarter's first day
# (the years 1800-2199 span fewer than _DAYS days).
_DAYS, _EPOCH = 2**18, "1800-01-01"


class Declarations(FileKind):
    """Create or update the quarterly declarations of a CSV file, all of them or none."""

    spec, table, key_columns = DECLARATION_SPEC, _DECLARATIONS, 2
    columns = ("employer_id", *DECLARATION_COLUMNS[1:])
    suspended = (_DECLARATIONS,)

    def start(self) -> None:
        self.employers, self.seen = EmployerIds(self.cursor), checks.SeenKeys()

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        ids = self.employers.check(rows, "enterprise_number")
        above = checks.greater(read["fte"], read["headcount"], rows.good("fte", "headcount"))
        rows.fail("fte", above, _("{value} full-time equivalents is more than the headcount."))
        good = rows.good()
        quarters = np.where(good, read["quarter"], _EPOCH).astype("datetime64[D]")
        keys = ids * _DAYS + (quarters - np.datetime64(_EPOCH)).astype(np.int64)
        reason = _("This employer already has a declaration for this quarter on line {value}.")
        self.seen.repeats_fail(rows, "quarter", keys, good, reason)
        stored = {"employer_id": ids.astype(str), **{name: read[name] for name in self.columns[1:]}}
        return pd.DataFrame(stored)[rows.good()]


# Inspections: one row per finding (an inspection and one offence type checked).
_OPTIONAL_DATE = Column(required=False, parse=checks.iso_date)
INSPECTION_SPEC = {
    "reference": Column(max_chars=models.Inspection._meta.get_field("reference").max_length),
    "enterprise_number": Column(),  # of an employer in the database: EmployerIds.check
    "origin": Column(
        codes=lambda: models.InspectionOrigin.values,
        unknown=_("'%(value)s' is not a known origin; use one of: %(options)s."),
    ),
    "status": Column(
        codes=lambda: models.InspectionStatus.values,
        unknown=_("'%(value)s' is not a known status; use one of: %(options)s."),
    ),
    "inspector": Column(
        required=False,
        codes=lambda: dict(get_user_model().objects.values_list("username", "pk")),
        fold=str,  # usernames are case-sensitive
        unknown=_("No user with the username '%(value)s'."),
    ),
    "planned_date": _OPTIONAL_DATE,
    "visit_date": _OPTIONAL_DATE,
    "offence_type": Column(
        codes=lambda: models.OffenceType.objects.values_list("code", flat=True),
        unknown=_("'%(value)s' is not a known offence type; use one of: %(options)s."),
    ),
    "found": Column(parse=checks.boolean),
    "workers_regularised": Column(required=False, parse=checks.count),  # empty: 0
    "contributions_recovered": Column(required=False, parse=checks.amount(digits=14, decimals=2)),
}
INSPECTION_COLUMNS = tuple(INSPECTION_SPEC)
# The columns that describe the inspection itself, equal on every row of a reference,
# and what is compared (as stored: the employer's and the inspector's ids).
_SHARED = {
    name: {"enterprise_number": "employer_id", "inspector": "inspector_id"}.get(name, name)
    for name in INSPECTION_COLUMNS[1:7]
}
_FINDING_COLUMNS = ("inspection_id", "offence_type_id", "found", "workers_regularised", "contributions_recovered")


class Inspections(FileKind):
    """Create or update the inspections and findings of a CSV file, all of them or none: rows of a
    reference agree on its inspection; findings stored but not in the file are kept."""

    spec, table = INSPECTION_SPEC, _INSPECTIONS

    def start(self) -> None:
        bulk.table_lock(self.cursor, _FINDINGS)
        self.employers = EmployerIds(self.cursor)

    def check(self, rows: RowChecks, read: dict[str, np.ndarray]) -> pd.DataFrame:
        cells = rows.cells
        employer_ids = self.employers.check(rows, "enterprise_number")
        no_date = (cells["planned_date"] == "") & (cells["visit_date"] == "")
        rows.fail("planned_date", no_date, _("Give a planned date or a visit date (or both)."))
        completed = (read["status"] == models.InspectionStatus.COMPLETED) & (cells["visit_date"] == "")
        rows.fail("visit_date", completed, _("A completed inspection needs a visit date."))
        not_found = rows.good("found") & (read["found"] == "f")
        for column in ("workers_regularised", "contributions_recovered"):
            nonzero = checks.greater(read[column], np.zeros(len(not_found)), not_found & rows.good(column))
            rows.fail(column, nonzero, _("Nothing can be regularised or recovered when no offence was found."))
        stored = {name: cells[name] for name in ("enterprise_number", "inspector")}
        stored |= {"line": rows.lines, "key": cells["reference"], "reference": bulk.text_escaped(cells["reference"])}
        stored |= {name: read[name] for name in ("origin", "status", "found", *_FINDING_COLUMNS[3:])}
        stored |= {name: bulk.nullable(cells[name]) for name in ("planned_date", "visit_date")}
        stored["inspector_id"] = np.where(cells["inspector"] != "", read["inspector"], bulk.NULL).astype(str)
        stored |= {"employer_id": employer_ids.astype(str), "offence_type_id": read["offence_type"]}
        return pd.DataFrame(stored)[rows.good()]

    def write(self, checked: Iterator[pd.DataFrame]) -> ImportResult:
        """Inspections, then findings: one counts as updated if it, or its inspection, changed."""
        rows = pd.concat(list(checked), ignore_index=True)
        self._agree_check(rows)
        self.writing()
        inspections = rows.drop_duplicates("key").assign(created_at=timezone.now().isoformat())
        changed = self._store(_INSPECTIONS, ("reference", *_SHARED.values(), "created_at"), inspections, keys=1)
        references = [inspections["key"].tolist()]
        self.cursor.execute(f"SELECT reference, id FROM {_INSPECTIONS} WHERE reference = ANY(%s)", references)
        findings = rows.assign(inspection_id=rows["key"].map(dict(self.cursor.fetchall())))
        stored = self._store(_FINDINGS, _FINDING_COLUMNS, findings.astype({"inspection_id": str}), keys=2)
        moved = findings["key"].isin([reference for (reference,) in changed.changed]).to_numpy()
        pairs = pd.Series(list(zip(findings["inspection_id"], findings["offence_type_id"], strict=True)))
        updated = ~pairs.isin(stored.inserted).to_numpy() & (pairs.isin(stored.changed).to_numpy() | moved)
        return ImportResult.stored(len(findings), stored.created, int(updated.sum()))

    def _agree_check(self, rows: pd.DataFrame) -> None:
        """Rows of one reference agree on the inspection; an offence type once per reference."""
        first_line = rows.groupby("key", sort=False)["line"].transform("first").to_numpy()
        first_row = rows.drop_duplicates("key").set_index("key")
        reason = _("Differs from the same reference on line {value}; rows of one inspection must agree.")
        for column, compared in _SHARED.items():
            differs = rows[compared].to_numpy() != first_row[compared].reindex(rows["key"]).to_numpy()
            there = first_row[column].reindex(rows["key"]).to_numpy()[differs]
            there[there == bulk.NULL] = ""
            shown = [f"{line} ('{value}')" for line, value in zip(first_line[differs], there, strict=True)]
            self.problems.add(rows["line"].to_numpy()[differs], column, reason, np.array(shown, dtype=object))
        twice = rows.duplicated(["key", "offence_type_id"]).to_numpy()
        first_finding = rows.groupby(["key", "offence_type_id"], sort=False)["line"].transform("first").to_numpy()
        reason = _("This reference already has this offence type on line {value}.")
        self.problems.add(rows["line"].to_numpy()[twice], "offence_type", reason, first_finding[twice])

    def _store(self, table: str, columns: tuple[str, ...], rows: pd.DataFrame, *, keys: int) -> bulk.Applied:
        """Store rows keyed by their first `keys` columns: the keys of those inserted and changed."""
        with bulk.staged(self.cursor, table, columns) as stage:
            stage.send(_copy_text(rows, columns), len(rows))
        return bulk.staged_apply(
            self.cursor, table=table, columns=columns, keys=columns[:keys], returning=columns[:keys]
        )


def _copy_text(rows: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    return bulk.copy_text([rows[column].to_numpy(dtype=object) for column in columns])


employer_import, declaration_import, inspection_import = Employers.run, Declarations.run, Inspections.run
