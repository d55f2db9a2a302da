"""Four eyes, activation, rollback and the history that cannot be rewritten (scoring.services.versions)."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from kombu.exceptions import OperationalError

from inspections.roles import ANALYST, INSPECTOR, TASK_FORCE
from scoring import tasks
from scoring.models import ModelEvent, ModelEventAction, ModelStatus, ModelVersion, RunStatus, ScoringRun
from scoring.services import versions
from scoring.services.versions import (
    VersionRefused,
    model_event_record,
    model_version_activate,
    model_version_approve,
    model_version_refuse,
)
from tests.factories import UserFactory
from tests.scoring.support import FAILING, OFFENCE, PASSING, SECTOR, model_file, stored_version

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return model_file()


def _person(role: str, name: str):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def people() -> dict[str, object]:
    return {
        "maker": _person(ANALYST, "maker"),
        "second": _person(ANALYST, "second"),
        "lead": _person(TASK_FORCE, "lead"),
        "inspector": _person(INSPECTOR, "inspector"),
    }


def _version(artifact: bytes, maker, metrics: dict, status: str = ModelStatus.CANDIDATE) -> ModelVersion:
    version = stored_version(artifact, maker=maker, metrics=metrics, status=status)
    model_event_record(version=version, action=ModelEventAction.CREATED, user=maker, note="uploaded")
    return version


def _actions(version: ModelVersion) -> list[tuple[str, str | None]]:
    return [(event.action, event.by.username if event.by else None) for event in version.events.all()]


def test_an_upload_goes_live_after_a_second_person_approves_and_an_analyst_activates(
    artifact, people, django_capture_on_commit_callbacks
) -> None:
    version = _version(artifact, people["maker"], PASSING)

    with pytest.raises(VersionRefused, match="only an approved version"):
        model_version_activate(version=version, user=people["maker"])
    with pytest.raises(VersionRefused, match="second person"):
        model_version_approve(version=version, user=people["maker"])
    model_version_approve(version=version, user=people["lead"])
    with django_capture_on_commit_callbacks() as queued:
        model_version_activate(version=version, user=people["maker"])

    version.refresh_from_db()
    assert version.status == ModelStatus.ACTIVE
    assert _actions(version) == [("created", "maker"), ("approved", "lead"), ("activated", "maker")]
    # The pair's rescore is queued, with this version, once the activation is committed.
    run = ScoringRun.objects.get(sector_id=SECTOR, offence_type_id=OFFENCE)
    assert (run.model_version_id, run.status, len(queued)) == (version.pk, RunStatus.QUEUED, 1)


def test_a_version_that_failed_a_gate_needs_a_written_justification(artifact, people) -> None:
    version = _version(artifact, people["maker"], FAILING)

    with pytest.raises(VersionRefused, match="justification"):
        model_version_approve(version=version, user=people["second"], justification="fine")
    model_version_approve(version=version, user=people["second"], justification="Checked by hand on 40 files.")

    assert version.events.get(action=ModelEventAction.APPROVED).note == "Checked by hand on 40 files."


def test_only_the_roles_with_the_permission_decide(artifact, people) -> None:
    version = _version(artifact, people["maker"], PASSING)

    with pytest.raises(PermissionDenied):
        model_version_approve(version=version, user=people["inspector"])
    model_version_approve(version=version, user=people["lead"])
    with pytest.raises(PermissionDenied):  # the task force approves, analysts activate
        model_version_activate(version=version, user=people["lead"])
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.APPROVED


def test_refusing_needs_a_reason_and_ends_the_version(artifact, people) -> None:
    version = _version(artifact, people["maker"], PASSING)

    with pytest.raises(VersionRefused, match="why"):
        model_version_refuse(version=version, user=people["second"], reason="  ")
    model_version_refuse(version=version, user=people["second"], reason="Trained on the wrong year.")

    with pytest.raises(VersionRefused):
        model_version_approve(version=version, user=people["second"])
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.REJECTED


def test_a_rollback_activates_the_retired_version_and_retires_the_active_one(
    artifact, people, django_capture_on_commit_callbacks
) -> None:
    first = _version(artifact, None, PASSING)
    model_version_activate(version=first)  # the nightly run
    second = _version(artifact, people["maker"], PASSING)
    model_version_approve(version=second, user=people["second"])
    with django_capture_on_commit_callbacks():
        model_version_activate(version=second, user=people["second"])
        model_version_activate(version=first, user=people["maker"], note="Version 2 flags too many bakeries.")

    assert ModelVersion.objects.get(pk=first.pk).status == ModelStatus.ACTIVE
    assert ModelVersion.objects.get(pk=second.pk).status == ModelStatus.RETIRED
    assert _actions(first)[-1] == ("rolled_back", "maker")
    assert _actions(second)[-1] == ("retired", "maker")


@pytest.mark.parametrize("note", ["x" * 2001, "a\x00b", "bell\x07"])
def test_bad_notes_are_refused_and_change_nothing(artifact, people, note) -> None:
    version = _version(artifact, people["maker"], FAILING)

    with pytest.raises(VersionRefused):
        model_version_approve(version=version, user=people["second"], justification=note)
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.CANDIDATE
    assert version.events.count() == 1


def test_the_history_cannot_be_changed_or_deleted(artifact, people) -> None:
    version = _version(artifact, people["maker"], PASSING)
    event = version.events.get()

    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    with pytest.raises(ValidationError):
        ModelEvent.objects.filter(pk=event.pk).update(note="rewritten")
    with pytest.raises(ValidationError):
        ModelEvent.objects.filter(pk=event.pk).delete()
    # Nor in SQL: the database's trigger refuses it.
    for statement in ("UPDATE scoring_modelevent SET note = 'rewritten'", "DELETE FROM scoring_modelevent"):
        with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement)
    assert ModelEvent.objects.get(pk=event.pk).note == "uploaded"


def test_a_version_the_nightly_run_made_needs_two_people_to_go_live(
    artifact, people, django_capture_on_commit_callbacks
) -> None:
    version = _version(artifact, None, FAILING)
    model_version_approve(version=version, user=people["maker"], justification="Checked the red band by hand.")

    with pytest.raises(VersionRefused, match="second person"):
        model_version_activate(version=version, user=people["maker"])
    with django_capture_on_commit_callbacks():
        model_version_activate(version=version, user=people["second"])
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.ACTIVE


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_activations_of_a_pair_at_once_wait_for_each_other(artifact, monkeypatch) -> None:
    """Each activation locks the pair's versions first: the second waits for the first to
    commit, then retires it; never two active versions, never an error."""
    retire = versions._active_retire

    def slow_retire(version, user):
        retire(version, user)
        time.sleep(0.5)  # holding the locks: the other activation arrives meanwhile

    monkeypatch.setattr(versions, "_active_retire", slow_retire)
    monkeypatch.setattr(versions, "_run_queue", lambda run_id: None)  # no worker here
    maker, approver, activator = (_person(ANALYST, name) for name in ("maker", "approver", "activator"))
    first, second = (_version(artifact, maker, PASSING) for _ in range(2))
    for version in (first, second):
        model_version_approve(version=version, user=approver)
    errors: list[Exception] = []

    def activate(version: ModelVersion) -> None:
        try:
            model_version_activate(version=version, user=activator)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(version,)) for version in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    statuses = sorted(ModelVersion.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True))
    assert statuses == [ModelStatus.ACTIVE, ModelStatus.RETIRED]


def test_without_the_queue_the_version_is_active_and_its_rescore_marked_failed(
    artifact, people, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    def unreachable(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_execute, "delay", unreachable)
    version = _version(artifact, people["maker"], PASSING)
    model_version_approve(version=version, user=people["second"])
    with django_capture_on_commit_callbacks(execute=True):
        model_version_activate(version=version, user=people["maker"])

    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.ACTIVE
    run = ScoringRun.objects.get(model_version=version)
    assert run.status == RunStatus.FAILED and "task queue" in run.message
