"""Recording an inspection's outcome outside the admin: who may, what is refused, what is kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from inspections.models import Finding, Inspection, InspectionChange, InspectorScope, Region
from inspections.roles import INSPECTOR, TASK_FORCE
from inspections.services.outcomes import FindingOutcome, inspection_outcome_record, outcome_snapshot
from tests.factories import EmployerFactory, FindingFactory, InspectionFactory, UserFactory

pytestmark = pytest.mark.django_db

VISIT = dt.date(2026, 3, 2)


def user_in(group: str, **kwargs):
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def task_force():
    return user_in(TASK_FORCE, username="taskforce")


@pytest.fixture
def inspector():
    return user_in(INSPECTOR, username="inspector")


@pytest.fixture
def planned(inspector) -> Inspection:
    return InspectionFactory(
        inspector=inspector, origin="ranked_list", status="planned", planned_date=VISIT, visit_date=None
    )


def record(inspection, user, **changes) -> Inspection:
    arguments = {
        "status": "completed",
        "visit_date": VISIT,
        "summary": "Two workers without a declaration on site.",
        "findings": [
            FindingOutcome("undeclared_work", True, 2, Decimal("1830.50"), "official_report"),
            FindingOutcome("part_time_abuse", False),
        ],
        **changes,
    }
    return inspection_outcome_record(inspection=inspection, user=user, **arguments)


def test_the_inspector_records_the_outcome_of_their_own_target(planned, inspector) -> None:
    record(planned, inspector)

    planned.refresh_from_db()
    assert (planned.status, planned.visit_date, planned.summary) == (
        "completed",
        VISIT,
        "Two workers without a declaration on site.",
    )
    findings = {f.offence_type_id: f for f in Finding.objects.filter(inspection=planned)}
    assert set(findings) == {"undeclared_work", "part_time_abuse"}
    found = findings["undeclared_work"]
    assert (found.found, found.workers_regularised, found.contributions_recovered, found.report) == (
        True,
        2,
        Decimal("1830.50"),
        "official_report",
    )
    assert findings["part_time_abuse"].found is False


def test_every_change_is_kept_with_who_and_when(planned, inspector, task_force) -> None:
    record(planned, inspector)
    before = outcome_snapshot(Inspection.objects.get(pk=planned.pk))
    record(planned, task_force, findings=[FindingOutcome("undeclared_work", True, 3, Decimal("2000"))])
    record(planned, task_force, findings=[FindingOutcome("undeclared_work", True, 3, Decimal("2000"))])  # no change

    changes = list(InspectionChange.objects.filter(inspection=planned).order_by("pk"))
    assert [change.changed_by for change in changes] == [inspector, task_force]
    assert all(timezone.now() - change.changed_at < dt.timedelta(minutes=1) for change in changes)
    first, second = changes
    assert first.before["status"] == "planned" and first.before["findings"] == {}
    assert first.after == before == second.before
    assert second.after["findings"] == {
        "undeclared_work": {
            "found": True,
            "workers_regularised": 3,
            "contributions_recovered": "2000.00",
            "report": "none",
        }
    }
    # The offence no longer ticked as checked has no finding any more.
    assert list(Finding.objects.filter(inspection=planned).values_list("offence_type_id", flat=True)) == [
        "undeclared_work"
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"visit_date": dt.date(2999, 1, 1)}, "The visit date 2999-01-01 lies in the future."),
        ({"visit_date": None}, "A completed inspection needs a visit date."),
        ({"findings": []}, "Tick at least one offence type the inspection checked."),
        (
            {"findings": [FindingOutcome("undeclared_work", True, -1)]},
            "Undeclared work: workers and amounts cannot be negative.",
        ),
        (
            {"findings": [FindingOutcome("undeclared_work", True, 0, Decimal("-5"))]},
            "Undeclared work: workers and amounts cannot be negative.",
        ),
        (
            {"findings": [FindingOutcome("undeclared_work", False, 0, Decimal("10"))]},
            "Undeclared work: nothing can be regularised or recovered when no offence was found.",
        ),
        (
            {"findings": [FindingOutcome("undeclared_work", True, 0, Decimal("1.005"))]},
            "Undeclared work: the amount must be in euros and cents, below a trillion.",
        ),
        ({"findings": [FindingOutcome("tax_evasion", True)]}, "Unknown offence type: tax_evasion."),
        (
            {"findings": [FindingOutcome("undeclared_work", True), FindingOutcome("undeclared_work", False)]},
            "Each offence type can be checked once per inspection.",
        ),
        ({"findings": [FindingOutcome("undeclared_work", True, report="fine")]}, "choose the report from the list"),
        (
            {"status": "planned"},
            "Findings are recorded once the inspection is in progress or completed.",
        ),
        ({"status": "done"}, "Choose a status from the list."),
        ({"summary": "x" * 5001}, "The summary holds at most 5000 characters; this one has 5001."),
        ({"summary": "a\x00b"}, "The summary holds a character that cannot be stored."),
    ],
)
def test_bad_outcomes_are_refused_in_words_and_change_nothing(planned, inspector, changes, message) -> None:
    before = outcome_snapshot(planned)

    with pytest.raises(ValidationError) as refused:
        record(planned, inspector, **changes)

    assert any(message in text for text in refused.value.messages), refused.value.messages
    assert outcome_snapshot(Inspection.objects.get(pk=planned.pk)) == before
    assert not InspectionChange.objects.exists()


def test_an_inspector_cannot_record_a_colleagues_inspection(planned) -> None:
    colleague = user_in(INSPECTOR, username="colleague")

    with pytest.raises(PermissionDenied):
        record(planned, colleague)

    assert Inspection.objects.get(pk=planned.pk).status == "planned"


def test_the_task_force_records_only_within_its_scope(task_force) -> None:
    inspection = InspectionFactory(employer=EmployerFactory(), status="planned", visit_date=None, planned_date=VISIT)
    FindingFactory(inspection=inspection, found=False)
    scope = InspectorScope.objects.create(user=task_force)
    scope.regions.set([Region.objects.get(code="BE3")])  # Wallonia: the employer is in Leuven

    with pytest.raises(PermissionDenied):
        record(inspection, task_force)

    scope.regions.set([Region.objects.get(code="BE2")])
    record(inspection, get_user_model().objects.get(pk=task_force.pk))  # a new request's user
    assert Inspection.objects.get(pk=inspection.pk).status == "completed"


def test_the_next_training_set_sees_a_recorded_outcome(planned, inspector) -> None:
    from django.db import connection

    from scoring.services.training import _LABELS_SQL

    record(planned, inspector)

    with connection.cursor() as cursor:
        cursor.execute(
            _LABELS_SQL,
            {"sector": planned.employer.sector_id, "offence": "undeclared_work", "as_of": VISIT + dt.timedelta(days=1)},
        )
        rows = cursor.fetchall()
    assert rows == [(planned.employer_id, VISIT, True, False)]


def test_a_change_in_the_admin_is_kept_too(client, planned) -> None:
    admin = user_in("Administrator", username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = f"/admin/inspections/inspection/{planned.pk}/change/"
    data = {
        "reference": planned.reference,
        "employer": planned.employer_id,
        "origin": planned.origin,
        "status": "completed",
        "inspector": planned.inspector_id,
        "planned_date": VISIT.isoformat(),
        "visit_date": VISIT.isoformat(),
        "summary": "",
        "findings-TOTAL_FORMS": "1",
        "findings-INITIAL_FORMS": "0",
        "findings-0-offence_type": "undeclared_work",
        "findings-0-found": "on",
        "findings-0-workers_regularised": "1",
        "findings-0-contributions_recovered": "100",
        "findings-0-report": "warning",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
    }

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    change = InspectionChange.objects.get(inspection=planned)
    assert change.changed_by == admin
    assert (change.before["status"], change.after["status"]) == ("planned", "completed")
    assert change.after["findings"]["undeclared_work"]["report"] == "warning"
    # The history is shown there, and cannot be edited or deleted.
    page = client.get(url).content.decode()
    assert "Inspection changes" in page and "&quot;report&quot;: &quot;warning&quot;" in page
    assert "changes-0-DELETE" not in page and 'name="changes-0-before"' not in page
