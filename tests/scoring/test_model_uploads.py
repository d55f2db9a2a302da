"""Model files sent from the model pages: kept, checked by a worker, stored as candidates or refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from kombu.exceptions import OperationalError

from inspections.roles import ANALYST, TASK_FORCE
from scoring import tasks
from scoring.models import ModelEventAction, ModelStatus, ModelUpload, UploadStatus
from scoring.services.artifacts import ArtifactRefused
from scoring.services.uploads import model_upload_check, model_upload_create
from tests.factories import UserFactory
from tests.scoring.support import model_file
from tests.workspace.support import text

from .conftest import OFFENCE, SECTOR, generated_data


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return model_file()


@pytest.fixture(scope="module")
def inspected(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Generated employers and inspections, committed for the module: a validation year to check on."""
    with generated_data(django_db_blocker):
        yield


def _analyst(name: str = "analyst"):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get(name=ANALYST))
    return user


def _create(user, data: bytes, **extra) -> ModelUpload:
    return model_upload_create(sector=SECTOR, offence=OFFENCE, data=data, file_name="mine.skops", user=user, **extra)


@pytest.mark.django_db
def test_a_sent_file_is_checked_by_the_worker_and_stored_as_a_candidate(
    inspected, artifact, django_capture_on_commit_callbacks
) -> None:
    analyst = _analyst()
    with django_capture_on_commit_callbacks() as queued:
        upload = _create(analyst, artifact, description="Gradient boosting from the 2026 audit.")
    assert len(queued) == 1 and ModelUpload.objects.get(pk=upload.pk).status in (UploadStatus.QUEUED, UploadStatus.DONE)

    checked = model_upload_check(upload_id=upload.pk)
    again = model_upload_check(upload_id=upload.pk)  # a second delivery changes nothing

    assert checked.status == UploadStatus.DONE and again.version_id == checked.version_id
    version = checked.version
    assert (version.status, version.created_by, version.band_cutoffs["red"]) == (ModelStatus.CANDIDATE, analyst, 0.05)
    assert version.review_note.startswith("Gradient boosting from the 2026 audit.")
    assert version.events.get().action == ModelEventAction.CREATED
    assert bytes(ModelUpload.objects.get(pk=upload.pk).file) == b""  # the version keeps the file


@pytest.mark.django_db
def test_a_file_that_is_not_a_model_is_refused_with_the_reason(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks():
        upload = _create(_analyst(), b"PK\x03\x04 not a skops archive")
    checked = model_upload_check(upload_id=upload.pk)

    assert checked.status == UploadStatus.REFUSED and checked.message and checked.version is None


@pytest.mark.django_db
def test_empty_files_and_people_without_the_right_store_nothing() -> None:
    lead = UserFactory(username="lead")
    lead.groups.add(Group.objects.get(name=TASK_FORCE))
    with pytest.raises(ArtifactRefused, match="empty"):
        _create(_analyst(), b"")
    with pytest.raises(PermissionDenied):
        _create(lead, b"x")
    assert not ModelUpload.objects.exists()


# Transactional, as a request runs: the task is sent as soon as the upload is stored.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_without_the_queue_the_upload_is_refused_and_says_so(monkeypatch, client, artifact) -> None:
    def unreachable(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.upload_check, "apply_async", unreachable)
    client.force_login(_analyst())
    form = {"sector": SECTOR, "offence": OFFENCE, "red": "0.05", "orange": "0.15", "green": "0.4"}

    response = client.post(reverse("workspace:model_upload"), {**form, "file": SimpleUploadedFile("m.skops", artifact)})

    assert response.status_code == 400
    assert "The task queue cannot be reached" in text(response.content.decode())
    assert ModelUpload.objects.get().status == UploadStatus.REFUSED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("shares", "message"),
    [
        (("0.2", "0.1", "0.4"), "must grow"),
        (("0", "0.1", "0.4"), "greater than or equal"),
        (("x", "0.1", "0.4"), "number"),
    ],
)
def test_bad_band_shares_are_refused_and_nothing_is_kept(client, artifact, shares, message) -> None:
    client.force_login(_analyst())
    form = {"sector": SECTOR, "offence": OFFENCE, **dict(zip(("red", "orange", "green"), shares, strict=True))}

    response = client.post(reverse("workspace:model_upload"), {**form, "file": SimpleUploadedFile("m.skops", artifact)})

    assert response.status_code == 400 and message in text(response.content.decode())
    assert not ModelUpload.objects.exists()


@pytest.mark.django_db
def test_the_page_follows_the_upload_until_it_is_checked(client, artifact, django_capture_on_commit_callbacks) -> None:
    client.force_login(_analyst())
    form = {"sector": SECTOR, "offence": OFFENCE, "red": "0.05", "orange": "0.15", "green": "0.4"}

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("workspace:model_upload"), {**form, "file": SimpleUploadedFile("m.skops", artifact)}
        )
    upload = ModelUpload.objects.get()
    state = client.get(reverse("workspace:model_upload_detail", args=[upload.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 302
    assert "Queued" in state.content.decode() and 'hx-trigger="every 2s"' in state.content.decode()
    assert upload.file_sha256 and upload.file_size == len(artifact)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("window", "message"),
    [
        (("2025-01-01", ""), "both ends"),
        (("2026-01-01", "2025-01-01"), "start before it ends"),
        (("x", ""), "valid date"),
    ],
)
def test_a_bad_training_window_is_refused_and_nothing_is_kept(client, artifact, window, message) -> None:
    client.force_login(_analyst())
    form = {"sector": SECTOR, "offence": OFFENCE, "red": "0.05", "orange": "0.15", "green": "0.4"}
    form |= {"training_from": window[0], "training_to": window[1]}

    response = client.post(reverse("workspace:model_upload"), {**form, "file": SimpleUploadedFile("m.skops", artifact)})

    assert response.status_code == 400 and message in text(response.content.decode())
    assert not ModelUpload.objects.exists()


@pytest.mark.django_db
def test_the_training_window_given_goes_with_the_version(
    inspected, artifact, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        upload = _create(_analyst(), artifact, training_window=(dt.date(2023, 1, 1), dt.date(2025, 6, 30)))

    version = model_upload_check(upload_id=upload.pk).version

    assert (version.training_from, version.training_to) == (dt.date(2023, 1, 1), dt.date(2025, 6, 30))
