"""Employer import: one row per employer, keyed by enterprise number.

While Python checks chunk n+1, PostgreSQL stores chunk n (bulk.CopyStream), in the
import's one transaction: a problem in the last row still leaves the table as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inspections.models import Employer, EmployerWord, LegalForm, NaceCode, PostalCode
from miningwatch import bulk

from . import checks
from .common import Column, FileRefused, ImportResult, Problems, RowChecks
from .reading import CsvLayout, Progress, csv_chunks, csv_import

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

_LEGAL_FORM = checks.choice(
    LegalForm.values, gettext_lazy("'%(value)s' is not a known legal form; use one of: %(options)s."), fold=str.upper
)
_JOINT_COMMITTEE = checks.pattern(
    r"[0-9]{3}(\.[0-9]{2})?", gettext_lazy("'%(value)s' is not a joint committee (e.g. 124 or 302.01).")
)
SPEC = {
    "enterprise_number": Column(),  # checked with numpy: checks.enterprise_numbers_check
    "nsso_number": Column(required=False),  # 9 or 10 digits: checks.digit_keys
    "name": Column(),
    "legal_form": Column(parse=_LEGAL_FORM),
    "nace_code": Column(),  # looked up, with its sector
    "joint_committee": Column(parse=_JOINT_COMMITTEE),
    "postal_code": Column(),  # looked up, with its sub-region
    "start_date": Column(parse=checks.iso_date),
    "end_date": Column(required=False, parse=checks.iso_date),
}
COLUMNS = tuple(SPEC)
_NAME_MAX = Employer._meta.get_field("name").max_length
_TABLE = Employer._meta.db_table
_DB_COLUMNS = (
    *("enterprise_number", "nsso_number", "name", "legal_form", "nace_id", "joint_committee", "postal_code_id"),
    *("sector_id", "subregion_id", "start_date", "end_date", "updated_at"),
)


@dataclass
class _Known:
    """What the database and the earlier chunks already hold."""

    nace_sector: dict[str, str]
    postal_subregion: dict[str, str]
    stored: checks.SortedKeys  # enterprise numbers in the table (each its own value)
    nsso_owners: checks.SortedKeys  # social-security numbers in the table (checks.digit_keys): whose
    seen: checks.SeenKeys = field(default_factory=checks.SeenKeys)  # enterprise numbers in this file
    seen_nsso: checks.SeenKeys = field(default_factory=checks.SeenKeys)


def employer_import(*, path: Path, progress: Progress | None = None, max_errors: int = 0) -> ImportResult:
    """Create or update the employers of a CSV file, all of them or none."""
    return csv_import(path, COLUMNS, _write, progress=progress, max_errors=max_errors)


def _write(cursor: CursorWrapper, layout: CsvLayout, problems: Problems) -> ImportResult:
    big = bulk.bulk_mode_wanted(cursor, _TABLE, layout.records)
    bulk.table_lock(cursor, _TABLE, exclusive=big)
    known = _known_read(cursor)
    with employer_indexes_suspended(cursor) if big else nullcontext():
        created, changed = _rows_stream(cursor, layout, known, problems)
        if problems:
            raise FileRefused
        layout.progress("writing", 0, layout.records)
        # updated_at changes only when something else does
        updated = bulk.rows_update(cursor, table=_TABLE, columns=_DB_COLUMNS, keys=_DB_COLUMNS[:1],
                                   compared=_DB_COLUMNS[1:-1], payload=b"".join(changed))  # fmt: skip
    return ImportResult(rows_created=created, rows_updated=updated, rows_unchanged=layout.records - created - updated)


@contextmanager
def employer_indexes_suspended(cursor: CursorWrapper) -> Iterator[None]:
    """A bulk load's: the indexes of the employer table and of its name words (filled by its
    triggers); also what bench/bench_import.py suspends for its floor."""
    with bulk.indexes_suspended(cursor, _TABLE, EmployerWord._meta.db_table):
        yield


def _known_read(cursor: CursorWrapper) -> _Known:
    """Reference codes and the employers already stored: one query each."""
    sql = f"SELECT enterprise_number, coalesce(nsso_number, '') FROM {_TABLE}"
    frame = bulk.copy_out(cursor, sql, ["key", "nsso"], {"key": np.int64, "nsso": object})
    keys = frame["key"].to_numpy(dtype=np.int64)
    nsso_ok, nsso = checks.digit_keys(frame["nsso"].to_numpy(dtype=object), (9, 10))
    return _Known(
        nace_sector=dict(NaceCode.objects.values_list("code", "sector_id")),
        postal_subregion=dict(PostalCode.objects.values_list("code", "subregion_id")),
        stored=checks.SortedKeys(keys, keys),
        nsso_owners=checks.SortedKeys(nsso[nsso_ok], keys[nsso_ok]),
    )


def _rows_stream(
    cursor: CursorWrapper, layout: CsvLayout, known: _Known, problems: Problems
) -> tuple[int, list[bytes]]:
    """Check every chunk; COPY the new rows as they come, keep the others for the UPDATE."""
    changed: list[bytes] = []
    now = timezone.now().isoformat()
    with bulk.CopyStream(cursor, bulk.copy_sql(_TABLE, _DB_COLUMNS)) as stream:
        for row_checks in csv_chunks(layout, problems=problems):
            rows, keys = _chunk_check(row_checks, known)
            if problems:
                stream.abort()  # keep checking, to report every problem, but write nothing
                continue
            new = known.stored.get(keys) == 0
            stream.send(_render(rows, new, now), int(new.sum()))
            changed.append(_render(rows, ~new, now))
    return stream.rows, changed


def _chunk_check(row_checks: RowChecks, known: _Known) -> tuple[list[np.ndarray], np.ndarray]:
    """Check one chunk: the database columns of its rows (less updated_at) and their keys."""
    cells = row_checks.cells
    parsed = checks.columns_check(SPEC, row_checks)
    numbers, valid, keys = checks.enterprise_numbers_check(cells["enterprise_number"])
    row_checks.fail("enterprise_number", ~valid, checks.enterprise_number_reason)
    nsso_ok, nsso_keys = checks.digit_keys(cells["nsso_number"], (9, 10))
    reason = _("'{value}' is not a social-security employer number (9 or 10 digits).")
    row_checks.fail("nsso_number", ~nsso_ok & (cells["nsso_number"] != ""), reason)
    too_long = checks.lengths(cells["name"]) > _NAME_MAX
    row_checks.fail("name", too_long, _("The name is longer than %(max)s characters.") % {"max": _NAME_MAX})
    nace_ok, sector = checks.lookup(cells["nace_code"], known.nace_sector)
    row_checks.fail("nace_code", ~nace_ok, _("'{value}' is not a known NACE-BEL code (written like 43.320)."))
    postal_ok, subregion = checks.lookup(cells["postal_code"], known.postal_subregion)
    row_checks.fail("postal_code", ~postal_ok, _("'{value}' is not a known Belgian postal code."))
    both = row_checks.good("start_date", "end_date") & (cells["end_date"] != "")
    before = np.zeros(len(both), dtype=bool)
    before[both] = parsed["end_date"][both].astype(np.int64) < parsed["start_date"][both].astype(np.int64)
    row_checks.fail("end_date", before, _("The end date {value} is before the start date."))
    _duplicates_check(row_checks, known, keys, valid, nsso_keys, nsso_ok & row_checks.good("nsso_number"))
    stored = [numbers, bulk.nullable(cells["nsso_number"]), bulk.text_escaped(cells["name"]), parsed["legal_form"]]
    stored += [cells["nace_code"], cells["joint_committee"], cells["postal_code"], sector, subregion]
    return [*stored, cells["start_date"], bulk.nullable(cells["end_date"])], keys


def _duplicates_check(
    row_checks: RowChecks, known: _Known, keys: np.ndarray, valid: np.ndarray, nsso: np.ndarray, given: np.ndarray
) -> None:
    """An enterprise number or social-security number twice in the file, or a
    social-security number that already belongs to another employer."""
    reason = _("The same enterprise number is already on line {value}.")
    known.seen.repeats_fail(row_checks, "enterprise_number", keys, valid, reason)
    reason = _("The same social-security number is already on line {value}.")
    known.seen_nsso.repeats_fail(row_checks, "nsso_number", nsso, given, reason)
    holder = known.nsso_owners.get(nsso)
    row_checks.fail("nsso_number", given & valid & (holder != 0) & (holder != keys), _nsso_owner, holder)


def _nsso_owner(key: object) -> str:
    return _("This social-security number already belongs to employer %(number)s.") % {"number": f"{int(key):010d}"}


def _render(rows: list[np.ndarray], mask: np.ndarray, now: str) -> bytes:
    count = int(mask.sum())
    return bulk.copy_text([*(column[mask] for column in rows), bulk.constant(now, count)]) if count else b""
