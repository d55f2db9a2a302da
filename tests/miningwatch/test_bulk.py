"""Suspending indexes for a bulk load: everything dropped comes back exactly as it was."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from miningwatch.bulk import indexes_suspended

pytestmark = pytest.mark.django_db

TABLES = ("inspections_inspection", "inspections_finding")


def _schema() -> set[tuple[str, str]]:
    """Every index and constraint of the tables, by name and definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = ANY(%s::regclass[]) UNION ALL "
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])",
            [list(TABLES), list(TABLES)],
        )
        return set(cursor.fetchall())


def test_indexes_and_constraints_of_several_tables_come_back_as_they_were() -> None:
    before = _schema()

    with transaction.atomic(), connection.cursor() as cursor, indexes_suspended(cursor, *TABLES):
        during = _schema()

    assert _schema() == before
    # Primary keys and check constraints stay during the load; every other index, the
    # unique constraints and the foreign keys (the one between the two tables too) go.
    dropped = before - during
    assert during <= before and len(dropped) >= 4
    assert all(
        "PRIMARY KEY" in definition or definition.startswith("CHECK") or "_pkey " in definition
        for _name, definition in during
    )
    assert any(definition.startswith("FOREIGN KEY") for _name, definition in dropped)


def test_a_failed_load_rolls_the_drops_back() -> None:
    before = _schema()

    with (
        pytest.raises(RuntimeError),
        transaction.atomic(),
        connection.cursor() as cursor,
        indexes_suspended(cursor, *TABLES),
    ):
        raise RuntimeError("the load failed")

    assert _schema() == before
