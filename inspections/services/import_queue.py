"""Hand an import to the Celery workers (CI's round trip and the task tests use this)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction

from inspections.models import DataImport

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def data_import_queue(*, kind: str, path: Path, user: AbstractBaseUser | None, queue: str | None = None) -> DataImport:
    """Record the import and queue it once the record is committed."""
    from inspections.services.imports import data_import_create
    from inspections.tasks import data_import_run

    with transaction.atomic():
        data_import = data_import_create(kind=kind, path=path, user=user)
        options = {"queue": queue} if queue else {}
        transaction.on_commit(lambda: data_import_run.apply_async(args=[data_import.pk], **options))
    return data_import
