"""Shared set-up of the scoring tests: a statement counter, a generated data set, helpers.

Feature SQL runs through psycopg2's copy_expert on the raw cursor, which Django's
CaptureQueriesContext never sees; `sql_log` counts at the driver instead, so a test can
show that one statement serves every employer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg2.extensions
import pytest
from django.db import connection

from inspections.models import Declaration, Employer, Finding, Inspection
from inspections.services.generation import GenerationSummary, demo_data_generate
from scoring.models import ModelVersion, Score, ScoringRun
from tests.factories import DeclarationFactory

# The generated data end with 2026-Q3 (2026-09-30): score as of the day after.
AS_OF = dt.date(2026, 10, 1)
# Small and quick to train: a few hundred inspections per offence in the cleaning sector.
SECTOR = "cleaning"
OFFENCE = "part_time_abuse"
GENERATED_EMPLOYERS = 5000
GENERATED_SEED = 7
INSPECTION_RATE = 0.3


@pytest.fixture
def sql_log(db) -> Iterator[list[str]]:
    """Every statement sent to PostgreSQL while the test runs (execute and COPY alike)."""
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.cursor_factory
    log: list[str] = []

    class Counting(previous or psycopg2.extensions.cursor):  # type: ignore[misc]
        def execute(self, query, vars=None):
            log.append(query if isinstance(query, str) else str(query))
            return super().execute(query, vars)

        def executemany(self, query, vars_list):
            log.append(query if isinstance(query, str) else str(query))
            return super().executemany(query, vars_list)

        def copy_expert(self, sql, file, size=8192):
            log.append(sql)
            return super().copy_expert(sql, file, size)

    raw.cursor_factory = Counting
    try:
        yield log
    finally:
        raw.cursor_factory = previous


def statements_touching(log: list[str], table: str) -> list[str]:
    return [statement for statement in log if table in statement]


def truncate_all() -> None:
    models = (Score, ScoringRun, ModelVersion, Finding, Inspection, Declaration, Employer)
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


@contextmanager
def generated_data(django_db_blocker, **extra) -> Iterator[GenerationSummary]:
    """Committed synthetic data for a whole module (tests roll back their own changes), removed afterwards."""
    with django_db_blocker.unblock():
        summary = demo_data_generate(
            employers=GENERATED_EMPLOYERS, seed=GENERATED_SEED, inspection_rate=INSPECTION_RATE, replace=True, **extra
        )
        try:
            yield summary
        finally:
            truncate_all()


def quarters_back(as_of: dt.date, count: int) -> list[dt.date]:
    """The first days of the `count` quarters that ended by as_of, oldest first."""
    year, month = as_of.year, 3 * ((as_of.month - 1) // 3) + 1
    out = []
    for _ in range(count):
        month -= 3
        if month < 1:
            month += 12
            year -= 1
        out.append(dt.date(year, month, 1))
    return out[::-1]


def declarations_make(employer: Employer, quarters: list[dt.date], **fields) -> list[Declaration]:
    """One declaration per quarter; a field given as a list takes one value per quarter."""
    made = []
    for position, quarter in enumerate(quarters):
        values = {name: (value[position] if isinstance(value, list) else value) for name, value in fields.items()}
        made.append(DeclarationFactory(employer=employer, quarter=quarter, **values))
    return made


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
