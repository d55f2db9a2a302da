"""Celery tasks: thin, named, take ids, safe to run twice (the service claims the row).

The hard time limit is many times a 1,000,000-row import (docs/benchmarks.md): an import
killed by it rolls back whole (one transaction) and is marked failed once its lock is free
(data_imports_abandoned_fail)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

WAIT_SECONDS = 15  # before trying again an import whose kind is being imported


@shared_task(name="inspections.data_import_run", bind=True, acks_late=True, time_limit=2 * 60 * 60, max_retries=None)
def data_import_run(self: Any, data_import_id: int) -> None:
    from inspections.services.data_imports import data_import_execute

    if not data_import_execute(data_import_id=data_import_id):
        raise self.retry(countdown=WAIT_SECONDS)
