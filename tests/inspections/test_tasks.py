"""A real Celery worker process takes an import through the real broker (Redis)."""

from __future__ import annotations

import time

import pytest

from inspections.models import DataImport, Employer
from inspections.services.data_imports import data_import_queue
from tests.processes import celery_worker

EMPLOYERS_CSV = (
    "enterprise_number,nsso_number,name,legal_form,nace_code,joint_committee,postal_code,start_date,end_date\n"
    "0403170701,1000000001,Worker Test Bouw BV,BV,43.320,124,3000,2010-01-01,\n"
    "0202239951,1000000002,Nettoyage Worker SRL,BV,81.210,121,1000,2018-06-01,\n"
)


def _wait_until_finished(data_import: DataImport, timeout: float = 60) -> DataImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data_import.refresh_from_db()
        if data_import.finished:
            return data_import
        time.sleep(0.3)
    raise AssertionError(f"import {data_import.pk} still {data_import.status} after {timeout}s")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_process_runs_import_through_broker(tmp_path) -> None:
    path = tmp_path / "employers.csv"
    path.write_text(EMPLOYERS_CSV, encoding="utf-8")
    with celery_worker() as queue:
        data_import = data_import_queue(kind="employers", path=path, user=None, queue=queue)
        finished = _wait_until_finished(data_import)
    assert finished.status == DataImport.Status.SUCCEEDED, finished.errors
    assert finished.rows_created == 2
    assert set(Employer.objects.values_list("enterprise_number", flat=True)) == {"0403170701", "0202239951"}
    assert finished.started_at is not None and finished.finished_at >= finished.started_at


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_reports_refused_file_and_changes_nothing(tmp_path) -> None:
    path = tmp_path / "employers.csv"
    path.write_text(EMPLOYERS_CSV.replace("0403170701", "0403170702"), encoding="utf-8")
    with celery_worker() as queue:
        finished = _wait_until_finished(data_import_queue(kind="employers", path=path, user=None, queue=queue))
    assert finished.status == DataImport.Status.REFUSED
    assert finished.error_count == 1
    assert finished.errors[0]["line"] == 2
    assert not Employer.objects.exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_import_leaves_nothing_and_the_import_runs_again(tmp_path, settings) -> None:
    from django.contrib.auth.models import Group
    from django.core.files.uploadedfile import SimpleUploadedFile

    from inspections.roles import ANALYST
    from inspections.services.data_imports import (
        data_import_retry,
        data_imports_abandoned_fail,
        data_upload_create,
        progress_read,
    )
    from tests.factories import UserFactory
    from tests.inspections.import_support import EMPLOYER_COLUMNS, csv_text, employer_row
    from tests.processes import celery_worker_process

    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    analyst = UserFactory(username="analyst")
    analyst.groups.add(Group.objects.get(name=ANALYST))
    content = csv_text([employer_row(n) for n in range(500)], EMPLOYER_COLUMNS).encode()
    env = {"IMPORT_UPLOAD_DIR": str(settings.IMPORT_UPLOAD_DIR)}
    with celery_worker_process(app="tests.inspections.slow_import_worker", **env) as worker:
        data_import = data_upload_create(
            kind="employers", upload=SimpleUploadedFile("e.csv", content), user=analyst, queue=worker.queue
        )
        deadline = time.monotonic() + 60
        while not (progress_read(data_import.pk).get("phase") == "checking" and progress_read(data_import.pk)["done"]):
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.05)
        assert Employer.objects.count() == 0  # rows streamed so far are in its open transaction only
        worker.kill()
    deadline = time.monotonic() + 20
    while not data_imports_abandoned_fail():  # PostgreSQL ends the dead session, and its lock, soon
        assert time.monotonic() < deadline, "the killed worker's import was never marked failed"
        time.sleep(0.2)
    data_import.refresh_from_db()
    assert data_import.status == DataImport.Status.FAILED and data_import.retryable
    assert "The worker stopped during the import" in data_import.message
    assert Employer.objects.count() == 0
    with celery_worker(**env) as queue:
        retry = _wait_until_finished(data_import_retry(data_import=data_import, user=analyst, queue=queue))
    assert (retry.status, retry.rows_created, Employer.objects.count()) == (DataImport.Status.SUCCEEDED, 500, 500)
