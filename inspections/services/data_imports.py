"""Data imports as records: a file sent from the upload page (or given to `import_csv`) is
kept, queued, and imported by a worker through the all-or-nothing import services.

- The upload is checked at once for what needs no worker: size, emptiness, a file that is
  neither CSV nor an Excel workbook, a CSV header of another kind. Nothing is stored when
  it is refused, nor when the task queue cannot be reached.
- The worker holds a PostgreSQL advisory lock while it runs an import, so a record still
  "running" whose lock is free lost its worker (data_imports_abandoned_fail); its import's
  transaction died with the worker's connection, so nothing of it was written.
- Imports of one kind run one after the other, in the order they arrive: a second lock,
  per kind, is waited for.
- Progress (phase, rows done, rows in all) goes to the shared cache, outside the import's
  transaction, so that the page can show it.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from inspections.models import DataImport
from inspections.services.imports import ImportProblem, ImportResult, kinds
from inspections.services.imports.checks import FileRefused, Problems
from inspections.services.imports.reading import header_names
from inspections.services.spreadsheets import SpreadsheetRefused, is_zip, workbook_check, xlsx_to_csv
from miningwatch import stamps
from miningwatch.queueing import QUEUE_ERRORS, task_send_on_commit

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import AbstractBaseUser
    from django.core.files.uploadedfile import UploadedFile

logger = logging.getLogger("inspections.imports")

IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    DataImport.Kind.EMPLOYERS: kinds.employer_import,
    DataImport.Kind.DECLARATIONS: kinds.declaration_import,
    DataImport.Kind.INSPECTIONS: kinds.inspection_import,
}
COLUMNS = {
    DataImport.Kind.EMPLOYERS: kinds.EMPLOYER_COLUMNS,
    DataImport.Kind.DECLARATIONS: kinds.DECLARATION_COLUMNS,
    DataImport.Kind.INSPECTIONS: kinds.INSPECTION_COLUMNS,
}
_KIND_LOCK = {kind: 0x1D1_0000_0000 + i for i, kind in enumerate(DataImport.Kind.values)}
_PROGRESS_SECONDS = 24 * 60 * 60
_HEAD_BYTES = 8192


class UploadRefused(Exception):
    """The file cannot be imported, and nothing was stored; the message says why."""


# --- Recording and queueing ----------------------------------------------------------------


def data_import_create(
    *, kind: str, path: Path, user: AbstractBaseUser | None = None, original_name: str = "", **fields: object
) -> DataImport:
    """Record an import to run (status queued); the file must stay at `path` until it ran."""
    if kind not in IMPORTERS:
        raise ValueError(f"Unknown import kind {kind!r}; use one of: {', '.join(IMPORTERS)}.")
    return DataImport.objects.create(
        kind=kind,
        file_path=str(Path(path).resolve()),
        original_name=original_name or Path(path).name,
        created_by=user if user is not None and user.is_authenticated else None,
        language=fields.pop("language", None) or translation.get_language() or settings.LANGUAGE_CODE,
        **fields,
    )


def data_import_queue(*, kind: str, path: Path, user: AbstractBaseUser | None, queue: str | None = None) -> DataImport:
    """Record the import of a file already on the server and queue it once committed."""
    with transaction.atomic():
        data_import = data_import_create(kind=kind, path=path, user=user)
        _send(data_import, queue=queue)
    return data_import


def data_upload_create(
    *, kind: str, upload: UploadedFile, user: AbstractBaseUser, queue: str | None = None
) -> DataImport:
    """Keep a file sent from the upload page under a generated name and queue its import.

    Raises UploadRefused (nothing stored) for a file that cannot be imported, and one of
    QUEUE_ERRORS (nothing stored either) when the task queue cannot be reached."""
    if not user.has_perm("inspections.add_dataimport"):
        raise PermissionDenied
    if kind not in IMPORTERS:
        raise UploadRefused(_("Choose what the file holds: employers, declarations or inspections."))
    limit = settings.IMPORT_UPLOAD_MAX_MB
    if upload.size is not None and upload.size > limit * 1024 * 1024:
        raise UploadRefused(_("The file is larger than %(limit)d MB.") % {"limit": limit})
    path = settings.IMPORT_UPLOAD_DIR / uuid.uuid4().hex
    try:
        size, sha256 = _upload_store(upload, path)
        file_format = upload_check(path=path, kind=kind)
        with transaction.atomic():
            data_import = data_import_create(
                kind=kind, path=path, user=user, original_name=Path(upload.name or "upload").name[:255],
                file_format=file_format, file_size=size, file_sha256=sha256,
            )  # fmt: skip
            _send(data_import, queue=queue, undo=lambda: path.unlink(missing_ok=True))
    except BaseException:  # refused, queue down, disk full, anything: nothing stays behind
        path.unlink(missing_ok=True)
        raise
    return data_import


def data_import_retry(*, data_import: DataImport, user: AbstractBaseUser, queue: str | None = None) -> DataImport:
    """Run a failed import again, from the file it kept: a new record, the old one stays."""
    if not user.has_perm("inspections.add_dataimport"):
        raise PermissionDenied
    with transaction.atomic():
        failed = DataImport.objects.select_for_update().get(pk=data_import.pk)
        if not failed.retryable or not Path(failed.file_path).is_file():
            raise UploadRefused(_("Only a failed import whose file is still kept can run again: send the file again."))
        fields = ("kind", "original_name", "file_format", "file_size", "file_sha256")
        retry = data_import_create(
            path=Path(failed.file_path), user=user, retry_of=failed, **{name: getattr(failed, name) for name in fields}
        )
        kept = DataImport.objects.filter(pk=failed.pk)
        kept.update(file_path="")  # the retry owns the file now
        _send(retry, queue=queue, undo=lambda: kept.update(file_path=failed.file_path))
    return retry


def _send(data_import: DataImport, *, queue: str | None, undo: Callable[[], object] | None = None) -> None:
    from inspections.tasks import data_import_run

    def unsent() -> None:  # nothing stays behind when the queue cannot be reached
        DataImport.objects.filter(pk=data_import.pk).delete()
        if undo is not None:
            undo()

    task_send_on_commit(data_import_run, args=[data_import.pk], queue=queue, unsent=unsent)


# --- Checks at upload ---------------------------------------------------------------------------


def _upload_store(upload: UploadedFile, path: Path) -> tuple[int, str]:
    """Copy the upload to `path` (a generated name); its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:  # a full disk, a folder it may not write: not the sender's fault
        logger.error("An upload could not be stored in %s: %s", path.parent, exc)
        raise UploadRefused(_("The file could not be stored on the server (%(error)s): tell an administrator.")
                            % {"error": exc.strerror or exc}) from exc  # fmt: skip
    return size, digest.hexdigest()


def upload_check(*, path: Path, kind: str) -> str:
    """What needs no worker: the file's format ("csv" or "xlsx"), or UploadRefused."""
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if not head:
        raise UploadRefused(_("The file is empty."))
    if is_zip(head):
        try:
            workbook_check(path)
        except SpreadsheetRefused as exc:
            raise UploadRefused(str(exc)) from None
        return DataImport.Format.XLSX
    problem = columns_problem(path=path, kind=kind)
    if problem is not None:
        raise UploadRefused(problem)
    return DataImport.Format.CSV


def columns_problem(*, path: Path, kind: str) -> str | None:
    """Why a CSV file's header does not fit `kind`, in words (naming the kind it fits); None if it fits."""
    problems = Problems(limit=1)
    try:
        names = set(header_names(path=path, problems=problems))
    except FileRefused:
        return str(problems.first()[0].reason) if problems else _("The file cannot be read as CSV.")
    if names == set(COLUMNS[kind]):
        return None
    for other, columns in COLUMNS.items():
        if names == set(columns):
            return _("This is a file of %(other)s, not of %(kind)s: choose “%(other)s” as what the file holds.") % {
                "other": DataImport.Kind(other).label,
                "kind": DataImport.Kind(kind).label,
            }
    missing = sorted(set(COLUMNS[kind]) - names)
    unknown = sorted(names - set(COLUMNS[kind]))
    return _("The header does not have the columns of %(kind)s. Missing: %(missing)s. Unknown: %(unknown)s.") % {
        "kind": DataImport.Kind(kind).label,
        "missing": ", ".join(missing) or "-",
        "unknown": ", ".join(unknown) or "-",
    }


# --- Running -------------------------------------------------------------------------------------


def data_import_execute(*, data_import_id: int) -> bool:
    """Run a queued import and record its outcome. Safe to call twice: only the caller that
    moves the row from queued to running (one conditional UPDATE) runs it.

    False when an import of the same kind is running: this one stays queued, and the task
    tries again later (a worker does not wait, so imports never hold every worker)."""
    data_imports_abandoned_fail()
    data_import = DataImport.objects.filter(pk=data_import_id).first()
    if data_import is None:
        logger.info("Data import %s is unknown; nothing to do.", data_import_id)
        return True
    # Taken before the claim, so that a running import always has it; held: another worker has it.
    with _advisory_lock(data_import.advisory_key) as free, _advisory_lock(_KIND_LOCK[data_import.kind]) as first:
        if not free or data_import.status != DataImport.Status.QUEUED:
            return True
        if not first:
            progress_write(data_import.pk, "waiting", 0, 0)
            return False
        claimed = DataImport.objects.filter(pk=data_import_id, status=DataImport.Status.QUEUED).update(
            status=DataImport.Status.RUNNING, started_at=timezone.now()
        )
        if claimed:
            with translation.override(data_import.language or None):
                _run(data_import)
    return True


def _run(data_import: DataImport) -> None:
    uploaded = Path(data_import.file_path)
    converted = Path(data_import.file_path + ".csv") if data_import.file_format == DataImport.Format.XLSX else None
    try:
        with transaction.atomic():  # the rows and the record's outcome commit together, or neither
            result = _import(data_import, converted)
            _outcome_save(data_import, result)
    except Exception as exc:
        logger.exception("Data import %s stopped on an unexpected error", data_import.pk)
        result = ImportResult()
        _outcome_save(
            data_import, result, failure=_("The import stopped on an unexpected error: %(error)s") % {"error": exc}
        )
    finally:
        if converted is not None:
            converted.unlink(missing_ok=True)
    _finished(data_import, result, uploaded=uploaded)


def _import(data_import: DataImport, converted: Path | None) -> ImportResult:
    """The file's rows checked and written (in the caller's transaction), or why not."""
    path = Path(data_import.file_path)
    try:
        if converted is not None:
            progress_write(data_import.pk, "converting", 0, 0)
            xlsx_to_csv(path, converted)
            path = converted
    except SpreadsheetRefused as exc:
        return ImportResult(errors=[ImportProblem(line=0, column="", reason=str(exc))], error_count=1)
    problem = columns_problem(path=path, kind=data_import.kind)
    if problem is not None:
        return ImportResult(errors=[ImportProblem(line=1, column="", reason=problem)], error_count=1)
    report = _progress_reporter(data_import.pk)
    importer = IMPORTERS[data_import.kind]
    return importer(path=path, progress=report, max_errors=settings.IMPORT_REPORT_MAX_ERRORS)


def _outcome_save(data_import: DataImport, result: ImportResult, *, failure: str = "") -> None:
    if failure:
        status = DataImport.Status.FAILED
    else:
        status = DataImport.Status.SUCCEEDED if result.ok else DataImport.Status.REFUSED
    kept = status == DataImport.Status.FAILED  # a failed import keeps its file, to run again
    outcome = {
        "rows_read": result.rows_read,
        "rows_created": result.rows_created,
        "rows_updated": result.rows_updated,
        "rows_unchanged": result.rows_unchanged,
        "error_count": result.error_count,
        "errors": [asdict(problem) for problem in result.errors[: settings.IMPORT_MAX_ERRORS_SHOWN]],
        "report_path": str(_report_write(data_import, result)) if result.errors else "",
        "message": failure or result.summary(),
        "status": status,
        "finished_at": timezone.now(),
        "file_path": data_import.file_path if kept or not _is_upload(data_import.file_path) else "",
    }
    for name, value in outcome.items():
        setattr(data_import, name, value)
    data_import.save(update_fields=list(outcome))


def _finished(data_import: DataImport, result: ImportResult, *, uploaded: Path) -> None:
    """Once the outcome is stored: the kept file goes (unless it is kept to run again), the
    pages cached before the new data are stale, the progress says done."""
    if data_import.status != DataImport.Status.FAILED and _is_upload(str(uploaded)):
        uploaded.unlink(missing_ok=True)
    if data_import.status == DataImport.Status.SUCCEEDED and (result.rows_created or result.rows_updated):
        stamps.stamp_bump(stamps.INSPECTIONS)
    progress_write(data_import.pk, "done", result.rows_read, result.rows_read)


def _is_upload(path: str) -> bool:
    """A file the upload page stored (never a file `import_csv` was given)."""
    return bool(path) and Path(path).parent == settings.IMPORT_UPLOAD_DIR.resolve()


def _report_write(data_import: DataImport, result: ImportResult) -> Path:
    """Every problem found (up to IMPORT_REPORT_MAX_ERRORS) as CSV, in the uploader's language."""
    folder = settings.IMPORT_UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"report-{data_import.pk}-{uuid.uuid4().hex}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([_("line"), _("column"), _("reason")])
        writer.writerows((problem.line, problem.column, problem.reason) for problem in result.errors)
        if result.error_count > len(result.errors):
            more = result.error_count - len(result.errors)
            writer.writerow(["", "", _("… and %(count)d more problems, not listed.") % {"count": more}])
    return path


def data_imports_abandoned_fail() -> int:
    """Mark failed the imports still 'running' whose worker is gone (its advisory lock is free)."""
    failed = 0
    for data_import in DataImport.objects.filter(status=DataImport.Status.RUNNING).only("pk"):
        with _advisory_lock(data_import.advisory_key) as free:
            if free:
                message = _(
                    "The worker stopped during the import (it was restarted or ran out of memory): "
                    "nothing was imported. Run it again."
                )
                failed += DataImport.objects.filter(pk=data_import.pk, status=DataImport.Status.RUNNING).update(
                    status=DataImport.Status.FAILED, finished_at=timezone.now(), message=message
                )
    return failed


def data_imports_tidy(*, keep_days: int | None = None) -> int:
    """Delete the files the import records need no more; how many. Problem reports and the
    files of failed imports go after `keep_days` (settings.IMPORT_KEEP_DAYS); a file no
    record names (a lost worker's converted workbook) after a day."""
    now, folder = timezone.now(), settings.IMPORT_UPLOAD_DIR
    old = DataImport.objects.filter(finished_at__lt=now - timedelta(days=keep_days or settings.IMPORT_KEEP_DAYS))
    deleted = 0
    for pk, report, kept in old.exclude(report_path="", file_path="").values_list("pk", "report_path", "file_path"):
        for path in (report, kept):
            if _is_upload(path):
                Path(path).unlink(missing_ok=True)
                deleted += 1
        DataImport.objects.filter(pk=pk).update(report_path="", file_path="")
    named = {
        Path(p).resolve() for pair in DataImport.objects.values_list("file_path", "report_path") for p in pair if p
    }
    for path in folder.glob("*") if folder.exists() else []:
        if path.resolve() not in named and path.stat().st_mtime < (now - timedelta(days=1)).timestamp():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


@contextmanager
def _advisory_lock(key: int) -> Iterator[bool]:
    """A PostgreSQL advisory lock held by this database connection, taken only if free
    (never waited for); PostgreSQL releases it when the connection closes. Yields whether
    it was taken."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


# --- Progress ------------------------------------------------------------------------------------


def _progress_key(data_import_id: int) -> str:
    return f"data-import:{data_import_id}:progress"


def progress_write(data_import_id: int, phase: str, done: int, total: int) -> None:
    """Best effort: an import goes on when the cache cannot be reached."""
    with suppress(*QUEUE_ERRORS):
        cache.set(_progress_key(data_import_id), {"phase": phase, "done": done, "total": total}, _PROGRESS_SECONDS)


def progress_read(data_import_id: int) -> dict[str, object]:
    with suppress(*QUEUE_ERRORS):
        return cache.get(_progress_key(data_import_id)) or {}
    return {}


def rescore_asked_mark(data_import_id: int) -> None:
    """Someone asked for a rescore after this import: its page follows it until the runs exist."""
    with suppress(*QUEUE_ERRORS):
        cache.set(f"data-import:{data_import_id}:rescore", True, _PROGRESS_SECONDS)


def rescore_asked(data_import_id: int) -> bool:
    with suppress(*QUEUE_ERRORS):
        return bool(cache.get(f"data-import:{data_import_id}:rescore"))
    return False


def _progress_reporter(data_import_id: int) -> Callable[[str, int, int], None]:
    def report(phase: str, done: int, total: int) -> None:
        progress_write(data_import_id, phase, done, total)

    return report
