"""The DataImport record behind every import: `manage.py import_csv` and the Celery task
both create one and run it through data_import_execute."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.utils import timezone

from inspections.models import DataImport
from miningwatch import stamps

from .common import ImportResult
from .declarations import declaration_import
from .employers import employer_import
from .inspections import inspection_import

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    DataImport.Kind.EMPLOYERS: employer_import,
    DataImport.Kind.DECLARATIONS: declaration_import,
    DataImport.Kind.INSPECTIONS: inspection_import,
}


def data_import_create(
    *, kind: str, path: Path, user: AbstractBaseUser | None = None, original_name: str = ""
) -> DataImport:
    """Record an import to run (status queued); the file must stay at `path` until it ran."""
    if kind not in IMPORTERS:
        raise ValueError(f"Unknown import kind {kind!r}; use one of: {', '.join(IMPORTERS)}.")
    return DataImport.objects.create(
        kind=kind,
        file_path=str(Path(path).resolve()),
        original_name=original_name or Path(path).name,
        created_by=user if user is not None and user.is_authenticated else None,
    )


def data_import_execute(*, data_import_id: int) -> None:
    """Run a queued import and record its outcome. Safe to call twice: only the caller
    that moves the row from queued to running (one conditional UPDATE) runs it."""
    claimed = DataImport.objects.filter(pk=data_import_id, status=DataImport.Status.QUEUED).update(
        status=DataImport.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.info("Data import %s is not queued (already taken or unknown); nothing to do.", data_import_id)
        return
    data_import = DataImport.objects.get(pk=data_import_id)
    try:
        result = IMPORTERS[data_import.kind](path=Path(data_import.file_path))
    except Exception as exc:
        # The import's own transaction is rolled back; the record must still say so,
        # or it would stay "running" for ever.
        logger.exception("Data import %s stopped on an unexpected error", data_import_id)
        _outcome_save(data_import, ImportResult(), failure=f"The import stopped on an unexpected error: {exc}")
        return
    _outcome_save(data_import, result)
    if result.ok:
        stamps.stamp_bump(stamps.INSPECTIONS)


def _outcome_save(data_import: DataImport, result: ImportResult, *, failure: str = "") -> None:
    outcome = {
        "rows_read": result.rows_read,
        "rows_created": result.rows_created,
        "rows_updated": result.rows_updated,
        "error_count": result.error_count,
        "errors": [problem.as_dict() for problem in result.errors],
        "message": failure or result.summary(),  # the model has no field for unchanged rows: the message says
        "status": DataImport.Status.SUCCEEDED if result.ok and not failure else DataImport.Status.FAILED,
        "finished_at": timezone.now(),
    }
    for name, value in outcome.items():
        setattr(data_import, name, value)
    data_import.save(update_fields=list(outcome))
