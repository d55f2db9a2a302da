"""Recorded imports: uploads checked at once, kept, queued, run one kind at a time,
marked failed when their worker is lost, and run again from the kept file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import psycopg2
import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils.timezone import now as django_now
from kombu.exceptions import OperationalError
from openpyxl import Workbook

from inspections import tasks
from inspections.models import DataImport, Declaration, Employer
from inspections.roles import ANALYST, INSPECTOR
from inspections.services import data_imports
from inspections.services.data_imports import (
    UploadRefused,
    data_import_create,
    data_import_execute,
    data_import_retry,
    data_imports_abandoned_fail,
    data_upload_create,
    progress_read,
)
from tests.factories import UserFactory

from .import_support import (
    DECLARATION_COLUMNS,
    EMPLOYER_COLUMNS,
    csv_text,
    csv_write,
    declaration_row,
    employer_row,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    return settings.IMPORT_UPLOAD_DIR


def _member(role: str, name: str):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def analyst():
    return _member(ANALYST, "analyst")


@pytest.fixture
def queued(monkeypatch):
    """Tasks sent to the queue, not run (the tests run them with data_import_execute)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.data_import_run, "apply_async", lambda args, **options: sent.append(args[0]))
    return sent


def _employers_file(tmp_path, count=3, **options):
    return csv_write(tmp_path / "employers.csv", [employer_row(n) for n in range(count)], EMPLOYER_COLUMNS, **options)


def _upload(content: bytes, name: str = "employers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def _employers_bytes(count=3, **values) -> bytes:
    return csv_text([employer_row(n, **values) for n in range(count)], EMPLOYER_COLUMNS).encode()


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Upload as the page does, the task sent once the transaction commits."""

    def upload(kind: str, content: bytes, user, *, name: str = "file.csv") -> DataImport:
        with django_capture_on_commit_callbacks(execute=True):
            return data_upload_create(kind=kind, upload=_upload(content, name), user=user)

    return upload


def _stored_files(upload_dir: Path) -> list[Path]:
    return sorted(upload_dir.iterdir()) if upload_dir.exists() else []


def _run(data_import: DataImport) -> DataImport:
    data_import_execute(data_import_id=data_import.pk)
    data_import.refresh_from_db()
    return data_import


# --- Records and the command ---------------------------------------------------------------------


def test_data_import_execute_records_the_outcome_and_runs_once(tmp_path):
    data_import = data_import_create(kind="employers", path=_employers_file(tmp_path))
    assert data_import.status == DataImport.Status.QUEUED
    data_import = _run(data_import)
    assert data_import.status == DataImport.Status.SUCCEEDED
    assert (data_import.rows_read, data_import.rows_created, data_import.error_count) == (3, 3, 0)
    assert "3 created, 0 updated, 0 unchanged" in data_import.message
    assert data_import.started_at <= data_import.finished_at
    finished = data_import.finished_at
    data_import = _run(data_import)  # a second delivery of the task
    assert (data_import.finished_at, Employer.objects.count()) == (finished, 3)
    assert progress_read(data_import.pk) == {"phase": "done", "done": 3, "total": 3}


def test_data_import_execute_leaves_a_row_a_live_worker_holds(tmp_path):
    data_import = data_import_create(kind="employers", path=_employers_file(tmp_path))
    DataImport.objects.filter(pk=data_import.pk).update(status=DataImport.Status.RUNNING)
    with _lock_held_elsewhere(data_import.advisory_key):
        data_import = _run(data_import)
    assert data_import.status == DataImport.Status.RUNNING
    assert Employer.objects.count() == 0


def test_a_running_import_whose_worker_is_gone_is_marked_failed(tmp_path):
    data_import = data_import_create(kind="employers", path=_employers_file(tmp_path))
    DataImport.objects.filter(pk=data_import.pk).update(status=DataImport.Status.RUNNING)
    assert data_imports_abandoned_fail() == 1
    data_import.refresh_from_db()
    assert data_import.status == DataImport.Status.FAILED
    assert data_import.message.startswith("The worker stopped during the import")
    assert data_imports_abandoned_fail() == 0


def test_data_import_execute_records_a_refused_file(tmp_path):
    path = csv_write(tmp_path / "bad.csv", [employer_row(1, postal_code="0000")], EMPLOYER_COLUMNS)
    data_import = _run(data_import_create(kind="employers", path=path))
    assert data_import.status == DataImport.Status.REFUSED
    assert data_import.error_count == 1
    assert data_import.errors == [
        {"line": 2, "column": "postal_code", "reason": "'0000' is not a known Belgian postal code."}
    ]
    assert path.exists()  # a file import_csv was given is never deleted


def test_command_prints_a_summary(tmp_path):
    out = io.StringIO()
    call_command("import_csv", "employers", str(_employers_file(tmp_path)), stdout=out)
    assert "3 row(s) read: 3 created, 0 updated, 0 unchanged." in out.getvalue()
    assert DataImport.objects.get().status == DataImport.Status.SUCCEEDED


def test_command_lists_the_problems_and_exits_with_status_1(tmp_path):
    rows = [employer_row(n, nace_code="99.999") for n in range(150)]
    path = csv_write(tmp_path / "bad.csv", rows, EMPLOYER_COLUMNS)
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_csv", "employers", str(path), stderr=err)
    assert refused.value.returncode == 1
    assert "150 error(s)" in str(refused.value)
    lines = err.getvalue().splitlines()
    assert lines[0] == "line 2, column nace_code: '99.999' is not a known NACE-BEL code (written like 43.320)."
    assert len(lines) == 101 and lines[-1] == "... and 50 more."
    assert Employer.objects.count() == 0


def test_data_import_execute_records_a_missing_file(tmp_path):
    data_import = _run(data_import_create(kind="declarations", path=tmp_path / "gone.csv"))
    assert data_import.status == DataImport.Status.REFUSED
    assert data_import.errors[0]["reason"].startswith("The file cannot be read")


def test_data_import_execute_records_an_unexpected_error(tmp_path, monkeypatch):
    def broken(**arguments):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(data_imports.IMPORTERS, "employers", broken)
    data_import = _run(data_import_create(kind="employers", path=_employers_file(tmp_path)))
    assert data_import.status == DataImport.Status.FAILED
    assert data_import.message == "The import stopped on an unexpected error: disk on fire"
    assert data_import.finished_at is not None


def test_data_import_create_refuses_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="Unknown import kind 'payslips'"):
        data_import_create(kind="payslips", path=tmp_path / "x.csv")


# --- Uploads -----------------------------------------------------------------------------------


def test_an_upload_is_kept_under_a_generated_name_and_queued(send, analyst, upload_dir, queued):
    content = _employers_bytes()
    data_import = send("employers", content, analyst, name="../../etc/employers.csv")
    assert queued == [data_import.pk]
    (stored,) = _stored_files(upload_dir)
    assert stored.read_bytes() == content and stored.name != "employers.csv"
    assert data_import.original_name == "employers.csv"
    assert (data_import.file_size, data_import.file_format) == (len(content), "csv")
    assert data_import.file_sha256 == __import__("hashlib").sha256(content).hexdigest()
    assert data_import.created_by == analyst
    data_import = _run(data_import)
    assert (data_import.status, data_import.rows_created) == (DataImport.Status.SUCCEEDED, 3)
    assert _stored_files(upload_dir) == []  # imported: the file is needed no more
    assert data_import.file_path == ""


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.csv", "it looks like a PNG image"),
        (b"\x00\x01\x02binary\x00" * 20, "data.csv", "it holds binary data"),
        (b"%PDF-1.7\n...", "report.csv", "it looks like a PDF document"),
        (b"PK\x03\x04" + b"\x00" * 40, "damaged.xlsx", "a damaged ZIP archive"),
        (b"\xff\xfeh\x00e\x00", "utf16.csv", "UTF-16"),
        (
            b"just some words\nand more\n",
            "notes.csv",
            "Missing: end_date, enterprise_number.* Unknown: just some words",
        ),
    ],
)
def test_uploads_that_cannot_be_imported_are_refused_and_nothing_is_stored(
    send, analyst, upload_dir, queued, content, name, message
):
    with pytest.raises(UploadRefused, match=message):
        send("employers", content, analyst, name=name)
    assert (_stored_files(upload_dir), DataImport.objects.count(), queued) == ([], 0, [])


def test_a_zip_that_is_not_a_workbook_is_refused(send, analyst, upload_dir, queued):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("employers.csv", _employers_bytes())
    with pytest.raises(UploadRefused, match=r"This is a ZIP archive, not a CSV file or an Excel workbook"):
        send("employers", buffer.getvalue(), analyst, name="employers.zip")
    assert (_stored_files(upload_dir), DataImport.objects.count()) == ([], 0)


def test_a_file_over_the_size_limit_is_refused(send, analyst, upload_dir, queued, settings):
    settings.IMPORT_UPLOAD_MAX_MB = 1
    with pytest.raises(UploadRefused, match="The file is larger than 1 MB"):
        send("employers", b"x" * (1024 * 1024 + 1), analyst)
    assert (_stored_files(upload_dir), DataImport.objects.count()) == ([], 0)


def test_the_wrong_kind_is_named(send, analyst, upload_dir, queued):
    declarations = csv_text([declaration_row(1)], DECLARATION_COLUMNS).encode()
    with pytest.raises(UploadRefused, match="This is a file of Declarations, not of Employers: choose “Declarations”"):
        send("employers", declarations, analyst)
    with pytest.raises(UploadRefused, match="Missing: end_date. Unknown: finish"):
        send("employers", _employers_bytes().replace(b"end_date", b"finish"), analyst)
    assert (_stored_files(upload_dir), DataImport.objects.count()) == ([], 0)


def test_an_unknown_kind_is_refused(send, analyst, queued):
    with pytest.raises(UploadRefused, match="Choose what the file holds"):
        send("payslips", _employers_bytes(), analyst)


def test_an_inspector_may_not_upload(send, queued):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        send("employers", _employers_bytes(), _member(INSPECTOR, "inspector"))


def test_when_the_queue_cannot_be_reached_nothing_is_stored(send, analyst, upload_dir, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.data_import_run, "apply_async", unreachable)
    with pytest.raises(OperationalError):
        send("employers", _employers_bytes(), analyst)
    assert (_stored_files(upload_dir), DataImport.objects.count()) == ([], 0)


def test_an_identical_file_again_reports_unchanged_and_writes_nothing(send, analyst, queued):
    content = _employers_bytes()
    assert _run(send("employers", content, analyst)).rows_created == 3
    before = _row_versions()
    again = _run(send("employers", content, analyst))
    assert (again.status, again.rows_created, again.rows_updated, again.rows_unchanged) == ("succeeded", 0, 0, 3)
    assert _row_versions() == before  # no row rewritten


def _row_versions() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT enterprise_number, xmin::text FROM inspections_employer ORDER BY 1")
        return cursor.fetchall()


def test_the_report_lists_every_problem_beyond_those_shown(send, analyst, queued, settings):
    settings.IMPORT_MAX_ERRORS_SHOWN = 5
    data_import = _run(send("employers", _employers_bytes(count=12, postal_code="0000"), analyst))
    assert (data_import.status, data_import.error_count, len(data_import.errors)) == ("refused", 12, 5)
    rows = list(csv.reader(io.StringIO(Path(data_import.report_path).read_text(encoding="utf-8"))))
    assert rows[0] == ["line", "column", "reason"]
    assert [row[0] for row in rows[1:]] == [str(line) for line in range(2, 14)]
    assert rows[1][1:] == ["postal_code", "'0000' is not a known Belgian postal code."]
    assert Employer.objects.count() == 0


def test_the_report_says_how_many_more_beyond_its_limit(send, analyst, queued, settings):
    settings.IMPORT_REPORT_MAX_ERRORS = 4
    data_import = _run(send("employers", _employers_bytes(count=10, postal_code="0000"), analyst))
    rows = list(csv.reader(io.StringIO(Path(data_import.report_path).read_text(encoding="utf-8"))))
    assert len(rows) == 1 + 4 + 1 and rows[-1][2] == "… and 6 more problems, not listed."


# --- Workbooks ---------------------------------------------------------------------------------


def _workbook(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_workbook_is_imported_through_the_same_checks(send, analyst, upload_dir, queued):
    import datetime as dt

    header = list(EMPLOYER_COLUMNS)
    good = employer_row(1)
    values = [good[name] for name in header]
    values[header.index("start_date")] = dt.datetime(2015, 3, 1)  # a date cell
    values[header.index("joint_committee")] = 124  # a number cell
    bad = [employer_row(2)[name] for name in header]
    bad[header.index("postal_code")] = "0000"
    data_import = send("employers", _workbook([header, values, [None] * len(header), bad]), analyst, name="e.xlsx")
    assert data_import.file_format == "xlsx"
    refused = _run(data_import)
    assert refused.status == DataImport.Status.REFUSED
    # The line numbers are the sheet's rows: the empty row 3 kept its place.
    assert refused.errors == [
        {"line": 4, "column": "postal_code", "reason": "'0000' is not a known Belgian postal code."}
    ]
    fixed = send("employers", _workbook([header, values, bad[:6] + ["3000"] + bad[7:]]), analyst, name="e.xlsx")
    fixed = _run(fixed)
    assert (fixed.status, fixed.rows_created) == (DataImport.Status.SUCCEEDED, 2)
    assert str(Employer.objects.get(enterprise_number=good["enterprise_number"]).start_date) == "2015-03-01"
    assert _stored_files(upload_dir) == [Path(refused.report_path)]  # the workbooks and their CSV are gone


def test_a_workbook_of_the_wrong_kind_is_refused_by_the_worker(send, analyst, queued):
    declarations = [list(DECLARATION_COLUMNS), [declaration_row(1)[name] for name in DECLARATION_COLUMNS]]
    data_import = _run(send("employers", _workbook(declarations), analyst, name="d.xlsx"))
    assert data_import.status == DataImport.Status.REFUSED
    assert "This is a file of Declarations, not of Employers" in data_import.errors[0]["reason"]
    assert not Employer.objects.exists() and not Declaration.objects.exists()


# --- One kind at a time; retry -------------------------------------------------------------------


class _lock_held_elsewhere:
    """An advisory lock held by another database session (another worker)."""

    def __init__(self, key: int) -> None:
        self.key = key

    def __enter__(self):
        self.other = psycopg2.connect(**connection.get_connection_params())  # the test database, wherever it is
        self.other.autocommit = True
        self.other.cursor().execute("SELECT pg_advisory_lock(%s)", [self.key])
        return self

    def __exit__(self, *exc):
        self.other.close()


def test_an_import_waits_for_the_one_of_its_kind_before_it(tmp_path):
    data_import = data_import_create(kind="employers", path=_employers_file(tmp_path))
    with _lock_held_elsewhere(data_imports._KIND_LOCK["employers"]):
        assert data_import_execute(data_import_id=data_import.pk) is False  # the task tries again later
        data_import.refresh_from_db()
        assert (data_import.status, progress_read(data_import.pk)["phase"]) == ("queued", "waiting")
        assert Employer.objects.count() == 0
    assert data_import_execute(data_import_id=data_import.pk) is True
    data_import.refresh_from_db()
    assert (data_import.status, Employer.objects.count()) == (DataImport.Status.SUCCEEDED, 3)


def test_the_task_tries_again_while_its_kind_is_being_imported(monkeypatch):
    class TryAgain(Exception):
        pass

    def retry(**options):
        raise TryAgain(options)

    monkeypatch.setattr(tasks.data_import_run, "retry", retry)
    monkeypatch.setattr(data_imports, "data_import_execute", lambda *, data_import_id: False)
    with pytest.raises(TryAgain, match="'countdown': 15"):
        tasks.data_import_run(1)
    monkeypatch.setattr(data_imports, "data_import_execute", lambda *, data_import_id: True)
    assert tasks.data_import_run(1) is None


def test_a_failed_import_runs_again_from_its_file(send, analyst, upload_dir, queued, monkeypatch):
    def broken(**arguments):
        raise RuntimeError("worker lost")

    data_import = send("employers", _employers_bytes(), analyst)
    with monkeypatch.context() as patched:
        patched.setitem(data_imports.IMPORTERS, "employers", broken)
        failed = _run(data_import)
    assert failed.status == DataImport.Status.FAILED and failed.retryable
    assert len(_stored_files(upload_dir)) == 1  # kept, to run again
    retry = _run(data_import_retry(data_import=failed, user=analyst))
    assert (retry.status, retry.rows_created, retry.retry_of_id) == (DataImport.Status.SUCCEEDED, 3, failed.pk)
    failed.refresh_from_db()
    assert not failed.retryable
    with pytest.raises(UploadRefused, match="Only a failed import"):
        data_import_retry(data_import=failed, user=analyst)
    with pytest.raises(UploadRefused, match="Only a failed import"):
        data_import_retry(data_import=retry, user=analyst)


def test_a_retry_the_queue_cannot_take_leaves_the_failed_import_as_it_was(
    send, analyst, upload_dir, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**arguments):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(tasks.data_import_run, "apply_async", lambda *args, **kwargs: None)
    with monkeypatch.context() as patched:
        patched.setitem(data_imports.IMPORTERS, "employers", broken)
        failed = _run(send("employers", _employers_bytes(), analyst))

    def unreachable(*args, **kwargs):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(tasks.data_import_run, "apply_async", unreachable)
    with pytest.raises(OperationalError), django_capture_on_commit_callbacks(execute=True):
        data_import_retry(data_import=failed, user=analyst)
    failed.refresh_from_db()
    assert failed.retryable and DataImport.objects.count() == 1
    assert len(_stored_files(upload_dir)) == 1


def test_workbooks_are_parsed_with_defusedxml(send, analyst, queued):
    import zipfile

    from openpyxl import xml

    assert xml.DEFUSEDXML
    # A sheet whose XML declares an entity that expands a billion times: refused, not expanded.
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(_workbook([list(EMPLOYER_COLUMNS)]))) as source,
        zipfile.ZipFile(buffer, "w") as bomb,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
                    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
                )
                data = f"<!DOCTYPE worksheet [{entities}]>".encode() + data.replace(b"<v>", b"<v>&i;", 1)
            bomb.writestr(item, data)
    data_import = _run(send("employers", buffer.getvalue(), analyst, name="bomb.xlsx"))
    assert data_import.status == DataImport.Status.REFUSED
    assert data_import.errors[0]["reason"].startswith("The workbook cannot be read")  # EntitiesForbidden inside


def test_a_zip_that_zipfile_cannot_open_is_refused_and_leaves_nothing(send, analyst, upload_dir, queued):
    data = bytearray(_workbook([list(EMPLOYER_COLUMNS)]))
    central = data.find(b"PK\x01\x02")
    data[central + 6] = 0x70  # "version needed to extract": one zipfile does not implement
    with pytest.raises(UploadRefused, match="a damaged ZIP archive"):
        send("employers", bytes(data), analyst, name="x.xlsx")
    assert (_stored_files(upload_dir), DataImport.objects.count()) == ([], 0)


def test_a_workbook_that_unpacks_far_beyond_its_size_is_refused(send, analyst, queued):
    import zipfile

    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(_workbook([list(EMPLOYER_COLUMNS)]))) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for item in source.infolist():
            bomb.writestr(item.filename, source.read(item))
        bomb.writestr("xl/sharedStrings.xml", b"<sst>" + b"<si><t>a</t></si>" * 2_000_000 + b"</sst>")
    with pytest.raises(UploadRefused, match="The workbook unpacks to far more than its size"):
        send("employers", buffer.getvalue(), analyst, name="bomb.xlsx")


def test_a_disk_error_while_storing_says_so_and_leaves_nothing(send, analyst, upload_dir, queued, monkeypatch):
    def chunks(self, chunk_size=None):
        yield b"enterprise_number"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SimpleUploadedFile, "chunks", chunks)
    with pytest.raises(UploadRefused, match=r"could not be stored on the server \(No space left on device\)"):
        send("employers", _employers_bytes(), analyst)
    assert (_stored_files(upload_dir), DataImport.objects.count()) == ([], 0)


def test_rows_and_outcome_commit_together(send, analyst, queued, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data_imports, "_report_write", full_disk)
    monkeypatch.setattr(data_imports, "IMPORTERS", {**data_imports.IMPORTERS})
    original = data_imports.IMPORTERS["employers"]

    def with_a_problem(**arguments):  # the rows are written, then the report cannot be
        result = original(**arguments)
        result.errors, result.error_count = [data_imports.ImportProblem(line=2, column="", reason="x")], 0
        return result

    monkeypatch.setitem(data_imports.IMPORTERS, "employers", with_a_problem)
    data_import = _run(send("employers", _employers_bytes(), analyst))
    assert data_import.status == DataImport.Status.FAILED
    assert Employer.objects.count() == 0  # the rows went with the outcome that could not be saved
    assert data_import.retryable


def test_tidying_deletes_what_no_record_needs_any_more(send, analyst, upload_dir, queued, monkeypatch):
    import datetime as dt
    import os

    refused = _run(send("employers", _employers_bytes(postal_code="0000"), analyst))
    fresh = _run(send("employers", _employers_bytes(postal_code="0000"), analyst))

    def broken(**arguments):
        raise RuntimeError("worker lost")

    with monkeypatch.context() as patched:
        patched.setitem(data_imports.IMPORTERS, "employers", broken)
        failed = _run(send("employers", _employers_bytes(), analyst))
    long_ago = django_now() - dt.timedelta(days=91)
    DataImport.objects.filter(pk__in=[refused.pk, failed.pk]).update(finished_at=long_ago)
    stray = upload_dir / "0123abcd.csv"  # a lost worker's converted workbook
    stray.write_text("x")
    os.utime(stray, (long_ago.timestamp(), long_ago.timestamp()))
    assert data_imports.data_imports_tidy() == 3
    assert sorted(_stored_files(upload_dir)) == [Path(fresh.report_path)]
    refused.refresh_from_db()
    failed.refresh_from_db()
    assert (refused.report_path, failed.file_path, failed.retryable) == ("", "", False)
    assert refused.error_count == 3  # the record itself stays
