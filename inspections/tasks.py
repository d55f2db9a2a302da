"""Celery tasks: thin, named, take ids, safe to run twice (the service claims the row)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="inspections.data_import_run", acks_late=True)
def data_import_run(data_import_id: int) -> None:
    from inspections.services.imports import data_import_execute

    data_import_execute(data_import_id=data_import_id)
