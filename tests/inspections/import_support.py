"""Helpers of the import tests: writing CSV files and fingerprinting the database."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.db import connection

from inspections.services.imports import ImportResult
from inspections.services.imports.kinds import DECLARATION_COLUMNS, EMPLOYER_COLUMNS, INSPECTION_COLUMNS

__all__ = [
    "DECLARATION_COLUMNS",
    "EMPLOYER_COLUMNS",
    "INSPECTION_COLUMNS",
    "csv_text",
    "csv_write",
    "db_state",
    "declaration_row",
    "employer_row",
    "enterprise_number",
    "inspection_row",
    "problems",
]

_TABLES = ("inspections_employer", "inspections_declaration", "inspections_inspection", "inspections_finding")


def enterprise_number(n: int) -> str:
    """The n-th valid KBO/BCE number of these tests (apart from the factories' ones)."""
    base = 7_000_000 + n
    return f"{base:08d}{97 - base % 97:02d}"


def employer_row(n: int, **values: str) -> dict[str, str]:
    row = {
        "enterprise_number": enterprise_number(n),
        "nsso_number": f"{500000000 + n}",
        "name": f"Bouwbedrijf {n} BV",
        "legal_form": "BV",
        "nace_code": "43.320",
        "joint_committee": "124",
        "postal_code": "3000",
        "start_date": "2015-03-01",
        "end_date": "",
    }
    return row | values


def declaration_row(n: int, **values: str) -> dict[str, str]:
    row = {
        "enterprise_number": enterprise_number(n),
        "quarter": "2024-Q3",
        "headcount": "10",
        "fte": "8.5",
        "part_time_share": "0.3",
        "declared_hours": "4200",
        "gross_wages": "120000.00",
        "temporary_unemployment_days": "0",
        "hires": "1",
        "exits": "2",
        "short_contracts": "0",
        "posted_workers": "0",
        "social_security_debt": "0",
    }
    return row | values


def inspection_row(reference: str, n: int, offence: str = "undeclared_work", **values: str) -> dict[str, str]:
    row = {
        "reference": reference,
        "enterprise_number": enterprise_number(n),
        "origin": "random_control",
        "status": "completed",
        "inspector": "",
        "planned_date": "2024-03-01",
        "visit_date": "2024-03-05",
        "offence_type": offence,
        "found": "true",
        "workers_regularised": "2",
        "contributions_recovered": "1500.00",
    }
    return row | values


def csv_text(rows: Iterable[dict[str, str]], columns: Sequence[str], *, delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def csv_write(
    path: Path,
    rows: Iterable[dict[str, str]],
    columns: Sequence[str],
    *,
    delimiter: str = ",",
    bom: bool = False,
    newline: str = "\n",
) -> Path:
    text = csv_text(rows, columns, delimiter=delimiter).replace("\n", newline)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def db_state() -> dict[str, tuple[int, str]]:
    """Row count and an md5 of every row's content, per imported table."""
    state = {}
    with connection.cursor() as cursor:
        for table in _TABLES:
            cursor.execute(f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') FROM {table} t")
            state[table] = cursor.fetchone()
    return state


def problems(result: ImportResult) -> list[tuple[int, str, str]]:
    return [(problem.line, problem.column, problem.reason) for problem in result.errors]
