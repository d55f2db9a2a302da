"""The REST API: the pages' filters, scope, blinding and services, behind a token."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inspections.models import InspectionStatus
from inspections.roles import ANALYST, INSPECTOR, TASK_FORCE
from scoring.models import ModelStatus, ModelUpload, ModelVersion
from tests.factories import InspectionFactory, ModelVersionFactory, UserFactory
from tests.workspace.support import OFFENCE, SECTOR, limit_to_region, publish_run

pytestmark = pytest.mark.django_db

LIST = reverse("workspace:api_ranked_list")


def _api(role: str, name: str) -> tuple[APIClient, object]:
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get(name=role))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client, user


def test_without_a_token_the_api_answers_401_not_the_login_page() -> None:
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert APIClient().get(reverse("workspace:api_schema")).status_code == 401


def test_a_list_page_by_token_with_the_same_filters_and_keyset_as_the_page() -> None:
    publish_run(120)
    client, _ = _api(INSPECTOR, "inspector")

    first = client.get(LIST, {"sector": SECTOR, "offence": OFFENCE}).json()
    second = client.get(LIST, {"sector": SECTOR, "offence": OFFENCE, "after": first["next_after"]}).json()
    red = client.get(LIST, {"sector": SECTOR, "offence": OFFENCE, "band": "1"}).json()

    assert [row["rank"] for row in first["results"]] == list(range(1, 51))
    assert [row["rank"] for row in second["results"]] == list(range(51, 101))
    assert sum(first["counts"].values()) == 120
    assert {row["band"] for row in red["results"]} == {1} and red["counts"]["1"] == len(red["results"])


@pytest.mark.parametrize(
    "params", [{"band": "9"}, {"sector": "nowhere"}, {"q": "%%%"}, {"after": "x"}, {"region": "\ufffd" * 50}]
)
def test_bad_filters_get_400_with_the_reason(params) -> None:
    publish_run(12)
    client, _ = _api(INSPECTOR, "inspector")
    response = client.get(LIST, {"sector": SECTOR, "offence": OFFENCE, **params})
    assert response.status_code == 400 and response.json()["errors"]


def test_a_region_limited_inspector_gets_only_their_region() -> None:
    published = publish_run(40)
    client, user = _api(INSPECTOR, "limited")
    limit_to_region(user, "BE3")

    rows = client.get(LIST, {"sector": SECTOR, "offence": OFFENCE}).json()["results"]
    outside = next(s.employer for s in published.scores if s.subregion_id == "BE211")

    assert rows and {row["subregion"][:3] for row in rows} == {"BE3"}
    url = reverse("workspace:api_employer_scores", args=[outside.enterprise_number])
    assert client.get(url).status_code == 404


def test_employer_scores_carry_rank_band_and_reasons() -> None:
    published = publish_run(12)
    client, _ = _api(INSPECTOR, "inspector")
    third = published.by_rank(3)
    employer = third.employer

    data = client.get(reverse("workspace:api_employer_scores", args=[employer.enterprise_number])).json()

    [score] = data["scores"]
    assert (data["blinded"], score["offence"], score["rank"], score["band"]) == (False, OFFENCE, 3, third.band)
    assert score["reasons"] and "sector" in score["reasons"][0]


def test_an_outcome_is_read_and_recorded_through_the_same_service() -> None:
    published = publish_run(12)
    lead_client, lead = _api(TASK_FORCE, "lead")
    inspector_client, _ = _api(INSPECTOR, "inspector")
    inspection = InspectionFactory(employer=published.by_rank(1).employer, status=InspectionStatus.PLANNED)
    url = reverse("workspace:api_outcome", args=[inspection.reference])
    outcome = {"status": "completed", "visit_date": "2026-10-02", f"{OFFENCE}-checked": True, f"{OFFENCE}-found": True}

    assert inspector_client.post(url, outcome, format="json").status_code == 403  # not planned for them
    bad = lead_client.post(url, {**outcome, "visit_date": "2026-13-45"}, format="json")
    recorded = lead_client.post(url, outcome, format="json")

    assert bad.status_code == 400 and "visit_date" in bad.json()["errors"]
    assert recorded.status_code == 200, recorded.json()
    data = lead_client.get(url).json()
    assert (data["status"], data["visit_date"]) == ("completed", "2026-10-02")
    assert [(f["offence"], f["found"]) for f in data["findings"]] == [(OFFENCE, True)]
    inspection.refresh_from_db()
    assert inspection.visit_date == dt.date(2026, 10, 2) and inspection.changes.get().changed_by == lead


def test_model_versions_follow_four_eyes_through_the_api() -> None:
    analyst_client, analyst = _api(ANALYST, "analyst")
    lead_client, _ = _api(TASK_FORCE, "lead")
    inspector_client, _ = _api(INSPECTOR, "inspector")
    version = ModelVersionFactory(status=ModelStatus.CANDIDATE, created_by=analyst, metrics={"roc_auc": 0.7})

    assert inspector_client.get(reverse("workspace:api_model_versions")).status_code == 403
    listed = analyst_client.get(reverse("workspace:api_model_versions")).json()
    approve = reverse("workspace:api_model_version_decide", args=[version.pk, "approve"])
    own = analyst_client.post(approve, {"note": ""}, format="json")
    approved = lead_client.post(approve, {"note": "Looked at it closely enough."}, format="json")

    assert [row["id"] for row in listed] == [version.pk] and listed[0]["gates_failed"]
    assert own.status_code == 400 and "second person" in own.json()["errors"]["__all__"][0]
    assert approved.status_code == 200 and approved.json()["status"] == ModelStatus.APPROVED
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.APPROVED
    bad_note = lead_client.post(approve, {"note": ["a", "b"]}, format="json")
    assert bad_note.status_code == 400


def test_the_openapi_schema_lists_every_endpoint() -> None:
    client, _ = _api(INSPECTOR, "inspector")
    schema = client.get(reverse("workspace:api_schema"), {"format": "json"}).json()
    assert {"/api/lists/", "/api/models/", "/api/schema/"} - set(schema["paths"]) == {"/api/schema/"}
    assert any("/scores/" in path for path in schema["paths"]) and any("/outcome/" in path for path in schema["paths"])


def test_a_model_file_is_sent_through_the_api_for_a_worker_to_check(django_capture_on_commit_callbacks) -> None:
    analyst_client, analyst = _api(ANALYST, "analyst")
    lead_client, _ = _api(TASK_FORCE, "lead")
    url = reverse("workspace:api_model_upload")
    form = {"sector": SECTOR, "offence": OFFENCE, "description": "From the audit notebook."}

    with django_capture_on_commit_callbacks(execute=False) as queued:
        sent = analyst_client.post(url, {**form, "file": SimpleUploadedFile("m.skops", b"PK\x03\x04 model")})
    refused = lead_client.post(url, {**form, "file": SimpleUploadedFile("m.skops", b"x")})
    bad_shares = analyst_client.post(url, {**form, "red": "0.5", "file": SimpleUploadedFile("m.skops", b"x")})
    no_file = analyst_client.post(url, form)

    assert sent.status_code == 202 and len(queued) == 1
    upload = ModelUpload.objects.get(pk=sent.json()["upload"])
    assert (upload.uploaded_by, upload.description, upload.file_name) == (
        analyst,
        "From the audit notebook.",
        "m.skops",
    )
    assert refused.status_code == 403
    assert bad_shares.status_code == 400 and no_file.status_code == 400 and "file" in no_file.json()["errors"]
    assert ModelUpload.objects.count() == 1


@pytest.mark.parametrize("body", [{"visit_date": ["2026-10-02"]}, {"visit_date": {"y": 2026}}, ["completed"], "x"])
def test_an_outcome_of_the_wrong_shape_gets_400_and_changes_nothing(body) -> None:
    published = publish_run(12)
    client, _ = _api(TASK_FORCE, "lead")
    inspection = InspectionFactory(employer=published.by_rank(1).employer, status=InspectionStatus.PLANNED)
    url = reverse("workspace:api_outcome", args=[inspection.reference])
    sent = {"status": "completed", **body} if isinstance(body, dict) else body

    response = client.post(url, sent, format="json")

    assert response.status_code == 400 and response.json()["errors"]
    inspection.refresh_from_db()
    assert inspection.status == InspectionStatus.PLANNED and not inspection.changes.exists()


def test_a_date_sent_as_a_number_is_read_as_text() -> None:
    published = publish_run(12)
    client, _ = _api(TASK_FORCE, "lead")
    inspection = InspectionFactory(employer=published.by_rank(1).employer, status=InspectionStatus.PLANNED)
    url = reverse("workspace:api_outcome", args=[inspection.reference])

    response = client.post(url, {"status": "completed", "visit_date": 20261002}, format="json")

    assert response.status_code == 400 and "visit_date" in response.json()["errors"]


# --- Data imports --------------------------------------------------------------------------------


def _employers_csv(**values) -> bytes:
    from tests.inspections.import_support import EMPLOYER_COLUMNS, csv_text, employer_row

    return csv_text([employer_row(n, **values) for n in range(2)], EMPLOYER_COLUMNS).encode()


def test_an_import_sent_and_followed_through_the_api(
    tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from inspections import tasks
    from inspections.models import DataImport
    from inspections.services.data_imports import data_import_execute

    settings.IMPORT_UPLOAD_DIR = tmp_path
    monkeypatch.setattr(tasks.data_import_run, "apply_async", lambda *args, **kwargs: None)
    client, _ = _api(ANALYST, "analyst")
    upload = SimpleUploadedFile("e.csv", _employers_csv(postal_code="0000"))
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(reverse("workspace:api_data_imports"), {"kind": "employers", "file": upload})
    assert sent.status_code == 202 and sent.json()["status"] == "queued"
    data_import_execute(data_import_id=sent.json()["id"])
    shown = client.get(reverse("workspace:api_data_import", args=[sent.json()["id"]])).json()
    assert (shown["status"], shown["error_count"], shown["file_name"]) == ("refused", 2, "e.csv")
    assert shown["errors"][0] == {
        "line": 2,
        "column": "postal_code",
        "reason": "'0000' is not a known Belgian postal code.",
    }
    listed = client.get(reverse("workspace:api_data_imports")).json()
    assert [row["id"] for row in listed] == [sent.json()["id"]] and listed[0]["sent_by"] == "analyst"
    assert DataImport.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"kind": "employers"}, 400, "No file was submitted."),
        ({"kind": "payslips", "file": b"x"}, 400, "is not a valid choice"),
        ({"kind": "employers", "file": b""}, 400, "The submitted file is empty."),
        ({"kind": "declarations", "file": None}, 400, "This is a file of Employers, not of Declarations"),
    ],
)
def test_bad_imports_through_the_api_get_400_and_store_nothing(tmp_path, settings, body, status, message) -> None:
    from inspections.models import DataImport

    settings.IMPORT_UPLOAD_DIR = tmp_path
    client, _ = _api(ANALYST, "analyst")
    if "file" in body:
        body = {**body, "file": SimpleUploadedFile("f.csv", _employers_csv() if body["file"] is None else body["file"])}
    answer = client.post(reverse("workspace:api_data_imports"), body)
    assert answer.status_code == status and message in str(answer.json())
    assert DataImport.objects.count() == 0 and not list(tmp_path.iterdir())


def test_inspectors_neither_send_nor_read_imports() -> None:
    client, _ = _api(INSPECTOR, "inspector")
    assert client.get(reverse("workspace:api_data_imports")).status_code == 403
    assert client.post(reverse("workspace:api_data_imports"), {"kind": "employers"}).status_code == 403
    assert client.get(reverse("workspace:api_data_import", args=[1])).status_code == 403
    lead, _ = _api(TASK_FORCE, "lead")
    assert lead.get(reverse("workspace:api_data_import", args=[999])).status_code == 404
