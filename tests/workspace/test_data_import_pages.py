"""The data import pages: send a file, follow it, read and download its problems, run a
failed one again, rescore after it. The worker's part runs here with data_import_execute."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from kombu.exceptions import OperationalError

from inspections import tasks
from inspections.models import DataImport, Employer
from inspections.roles import ANALYST, INSPECTOR, TASK_FORCE
from inspections.services import data_imports
from inspections.services.data_imports import data_import_execute, progress_write
from scoring import tasks as scoring_tasks
from tests.factories import UserFactory
from tests.inspections.import_support import EMPLOYER_COLUMNS, csv_text, employer_row
from tests.workspace.support import text

pytestmark = pytest.mark.django_db
PAGE = reverse("workspace:data_imports")


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    return settings.IMPORT_UPLOAD_DIR


@pytest.fixture
def sent(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(tasks.data_import_run, "apply_async", lambda args, **options: ids.append(args[0]))
    return ids


def _browser(client, role: str, name: str):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def _employers(count=3, **values) -> bytes:
    return csv_text([employer_row(n, **values) for n in range(count)], EMPLOYER_COLUMNS).encode()


def _post(browser, content: bytes, kind="employers", name="employers.csv", **extra):
    upload = SimpleUploadedFile(name, content)
    return browser.post(PAGE, {"kind": kind, "file": upload}, **extra)


def _upload_and_run(browser, django_capture_on_commit_callbacks, content: bytes, **options) -> DataImport:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(browser, content, **options)
    assert response.status_code == 302, text(response.content.decode())
    data_import = DataImport.objects.latest("pk")
    assert response["Location"] == reverse("workspace:data_import", args=[data_import.pk])
    data_import_execute(data_import_id=data_import.pk)
    data_import.refresh_from_db()
    return data_import


def test_who_sees_the_pages(client):
    assert _browser(client, INSPECTOR, "inspector").get(PAGE).status_code == 403
    assert "Data imports" not in text(client.get(reverse("home")).content.decode())
    page = text(_browser(client, ANALYST, "analyst").get(PAGE).content.decode())
    assert "Data imports" in page and "Send" in page and "No file has been imported yet." in page
    assert _browser(client, TASK_FORCE, "lead").get(PAGE).status_code == 200


def test_an_upload_is_followed_then_shows_its_counts(client, sent, django_capture_on_commit_callbacks):
    browser = _browser(client, ANALYST, "analyst")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(browser, _employers())
    data_import = DataImport.objects.get()
    assert sent == [data_import.pk]
    detail = reverse("workspace:data_import", args=[data_import.pk])
    assert "Queued: waiting for a worker" in text(browser.get(detail).content.decode())
    DataImport.objects.filter(pk=data_import.pk).update(status=DataImport.Status.RUNNING)
    progress_write(data_import.pk, "checking", 1, 3)
    with _worker_alive(data_import):
        state = browser.get(detail, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in state and "1 of 3 rows checked" in text(state) and 'value="0.333333"' in state
    DataImport.objects.filter(pk=data_import.pk).update(status=DataImport.Status.QUEUED)
    data_import_execute(data_import_id=data_import.pk)
    state = browser.get(detail, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in state
    assert "Imported. 3 rows read: 3 created, 0 changed, 0 unchanged." in text(state)
    assert "Rescore now" in text(state)
    history = text(browser.get(PAGE).content.decode())
    assert "employers.csv" in history and "Imported" in history and "analyst" in history
    assert response.status_code == 302


class _worker_alive:
    """The import's advisory lock held elsewhere, as by a live worker."""

    def __init__(self, data_import: DataImport) -> None:
        from tests.inspections.test_data_imports import _lock_held_elsewhere

        self.lock = _lock_held_elsewhere(data_import.advisory_key)

    def __enter__(self):
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


def test_a_refused_file_shows_and_offers_every_problem(client, sent, django_capture_on_commit_callbacks, settings):
    settings.IMPORT_MAX_ERRORS_SHOWN = 2
    browser = _browser(client, ANALYST, "analyst")
    refused = _upload_and_run(browser, django_capture_on_commit_callbacks, _employers(count=3, postal_code="0000"))
    page = text(browser.get(reverse("workspace:data_import", args=[refused.pk])).content.decode())
    assert "Refused: nothing was imported. 3 problems were found." in page
    assert "is not a known Belgian postal code." in page
    assert "The first 2 are shown; the download lists them all." in page
    report = browser.get(reverse("workspace:data_import_report", args=[refused.pk]))
    assert report["Content-Disposition"] == f'attachment; filename="import-{refused.pk}-problems.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert [row[:2] for row in rows] == [
        ["line", "column"],
        ["2", "postal_code"],
        ["3", "postal_code"],
        ["4", "postal_code"],
    ]
    assert not Employer.objects.exists()


def test_a_report_that_does_not_exist_is_a_404(client, sent, django_capture_on_commit_callbacks, tmp_path):
    browser = _browser(client, ANALYST, "analyst")
    done = _upload_and_run(browser, django_capture_on_commit_callbacks, _employers())
    assert browser.get(reverse("workspace:data_import_report", args=[done.pk])).status_code == 404
    outside = tmp_path / "secret.csv"
    outside.write_text("not yours")
    DataImport.objects.filter(pk=done.pk).update(report_path=str(outside))
    assert browser.get(reverse("workspace:data_import_report", args=[done.pk])).status_code == 404


@pytest.mark.parametrize(
    ("content", "name", "kind", "message"),
    [
        (b"", "empty.csv", "employers", "The submitted file is empty."),
        (b"PK\x03\x04" + b"\x00" * 60, "data.zip", "employers", "a damaged ZIP archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "logo.csv", "employers", "it looks like a PNG image"),
        (None, "employers.csv", "declarations", "This is a file of Employers, not of Declarations"),
        (None, "employers.csv", "payslips", "Select a valid choice."),
    ],
)
def test_bad_uploads_get_a_message_and_store_nothing(client, sent, upload_dir, content, name, kind, message):
    browser = _browser(client, ANALYST, "analyst")
    response = _post(browser, _employers() if content is None else content, kind=kind, name=name)
    assert response.status_code == 400
    assert message in text(response.content.decode())
    assert (DataImport.objects.count(), sent) == (0, [])
    assert not upload_dir.exists() or not list(upload_dir.iterdir())


def test_a_file_over_the_limit_is_refused_before_it_is_read(client, sent, settings):
    settings.IMPORT_UPLOAD_MAX_MB = 1
    browser = _browser(client, ANALYST, "analyst")
    response = _post(browser, b"x" * (2 * 1024 * 1024 + 10))
    assert response.status_code == 400
    assert "The file is larger than 1 MB." in text(response.content.decode())
    assert DataImport.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_without_the_queue_the_page_says_so_and_stores_nothing(client, upload_dir, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.data_import_run, "apply_async", unreachable)
    response = _post(_browser(client, ANALYST, "analyst"), _employers())
    assert response.status_code == 400
    assert "The task queue cannot be reached: nothing was stored or queued." in text(response.content.decode())
    assert DataImport.objects.count() == 0 and not list(upload_dir.iterdir())


def test_a_failed_import_runs_again_from_the_page(client, sent, django_capture_on_commit_callbacks, monkeypatch):
    def broken(**arguments):
        raise RuntimeError("worker lost")

    browser = _browser(client, ANALYST, "analyst")
    with monkeypatch.context() as patched:
        patched.setitem(data_imports.IMPORTERS, "employers", broken)
        failed = _upload_and_run(browser, django_capture_on_commit_callbacks, _employers())
    page = text(browser.get(reverse("workspace:data_import", args=[failed.pk])).content.decode())
    assert "Failed: nothing was imported. The import stopped on an unexpected error: worker lost" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(reverse("workspace:data_import_again", args=[failed.pk]))
    retry = DataImport.objects.latest("pk")
    assert response["Location"] == reverse("workspace:data_import", args=[retry.pk])
    assert sent[-1] == retry.pk and retry.retry_of_id == failed.pk
    data_import_execute(data_import_id=retry.pk)
    assert Employer.objects.count() == 3
    again = browser.post(reverse("workspace:data_import_again", args=[failed.pk]), follow=True)
    assert "Only a failed import whose file is still kept can run again" in text(again.content.decode())
    assert DataImport.objects.count() == 2


def test_rescore_now_queues_the_rescore_for_analysts_only(
    client, sent, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[dict] = []
    monkeypatch.setattr(scoring_tasks.rescore_all, "apply_async", lambda **options: queued.append(options))
    browser = _browser(client, ANALYST, "analyst")
    done = _upload_and_run(browser, django_capture_on_commit_callbacks, _employers())
    url = reverse("workspace:data_import_rescore", args=[done.pk])
    with django_capture_on_commit_callbacks(execute=True):
        page = text(browser.post(url, follow=True).content.decode())
    assert "The rescore is queued" in page and len(queued) == 1
    lead = _browser(client, TASK_FORCE, "lead")
    assert "Rescore now" not in text(lead.get(reverse("workspace:data_import", args=[done.pk])).content.decode())
    assert lead.post(url).status_code == 403 and len(queued) == 1


def test_an_inspector_cannot_post_an_upload(client, sent):
    response = _post(_browser(client, INSPECTOR, "inspector"), _employers())
    assert response.status_code == 403 and DataImport.objects.count() == 0


def test_the_history_page_reads_in_a_fixed_number_of_queries(
    client, sent, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    browser = _browser(client, ANALYST, "analyst")
    for _ in range(3):
        _upload_and_run(browser, django_capture_on_commit_callbacks, _employers())
    with django_assert_max_num_queries(8):
        assert browser.get(PAGE).status_code == 200


def test_the_admin_shows_imports_read_only(admin_client, sent, django_capture_on_commit_callbacks, client):
    browser = _browser(client, ANALYST, "analyst")
    done = _upload_and_run(browser, django_capture_on_commit_callbacks, _employers())
    assert admin_client.get(reverse("admin:inspections_dataimport_add")).status_code == 403
    assert admin_client.get(reverse("admin:inspections_dataimport_change", args=[done.pk])).status_code == 200
    admin_client.post(reverse("admin:inspections_dataimport_change", args=[done.pk]), {"status": "failed"})
    assert admin_client.post(reverse("admin:inspections_dataimport_delete", args=[done.pk])).status_code == 403
    done.refresh_from_db()
    assert done.status == DataImport.Status.SUCCEEDED


@pytest.mark.parametrize(
    ("language", "header", "reason", "result"),
    [
        (
            "nl",
            ["regel", "kolom", "reden"],
            "'0000' is geen gekende Belgische postcode.",
            "Geweigerd: er is niets geïmporteerd.",
        ),
        (
            "fr",
            ["ligne", "colonne", "raison"],
            "« 0000 » n'est pas un code postal belge connu.",
            "Refusé : rien n'a été importé.",
        ),
    ],
)
def test_the_report_is_in_the_uploaders_language(
    client, sent, django_capture_on_commit_callbacks, settings, language, header, reason, result
):
    browser = _browser(client, ANALYST, "analyst")
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    refused = _upload_and_run(browser, django_capture_on_commit_callbacks, _employers(count=2, postal_code="0000"))
    assert refused.language == language
    report = browser.get(reverse("workspace:data_import_report", args=[refused.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert rows[0] == header
    assert rows[1] == ["2", "postal_code", reason]
    page = text(browser.get(reverse("workspace:data_import", args=[refused.pk])).content.decode())
    assert result in page


def test_a_content_length_that_is_not_a_number_is_no_500(client, sent):
    response = _post(_browser(client, ANALYST, "analyst"), _employers(), CONTENT_LENGTH="abc")
    assert response.status_code in (302, 400)


def test_a_body_over_the_limit_is_never_read(settings):
    from miningwatch.uploads import BodySizeLimitHandler

    settings.IMPORT_UPLOAD_MAX_MB = 1
    handler = BodySizeLimitHandler()
    unread = io.BytesIO(b"x" * 10)
    post, files = handler.handle_raw_input(unread, {}, 3 * 2**20, b"boundary", "utf-8")
    assert (dict(post), dict(files), unread.tell()) == ({}, {}, 0)
    assert handler.handle_raw_input(unread, {}, 2**20, b"boundary", "utf-8") is None


def test_an_anonymous_body_over_the_limit_is_refused_unread(settings, upload_dir):
    from django.test import Client

    settings.IMPORT_UPLOAD_MAX_MB = 1
    anonymous = Client(enforce_csrf_checks=True)
    anonymous.get(reverse("login"))
    token = anonymous.cookies[settings.CSRF_COOKIE_NAME].value
    big = SimpleUploadedFile("big.csv", b"x" * (3 * 2**20))
    response = anonymous.post(PAGE, {"csrfmiddlewaretoken": token, "kind": "employers", "file": big})
    assert response.status_code == 403  # its CSRF token was in the unread body
    assert DataImport.objects.count() == 0 and not upload_dir.exists()
