"""The outcome page: the form outside the admin, its messages, the history, who may use it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from inspections.models import Finding, Inspection, InspectionChange
from tests.factories import EmployerFactory, InspectionFactory

pytestmark = pytest.mark.django_db

VISIT = dt.date(2026, 3, 2)


def outcome_url(inspection: Inspection) -> str:
    return reverse("workspace:inspection_outcome", args=[inspection.reference])


@pytest.fixture
def target(inspector) -> Inspection:
    return InspectionFactory(
        employer=EmployerFactory(name="Bouw Peeters BV"),
        inspector=inspector,
        origin="ranked_list",
        status="planned",
        planned_date=VISIT,
        visit_date=None,
    )


def form_data(**changes) -> dict[str, str]:
    data = {
        "status": "completed",
        "visit_date": VISIT.isoformat(),
        "summary": "Two workers without a declaration.",
        "undeclared_work-checked": "on",
        "undeclared_work-found": "on",
        "undeclared_work-workers": "2",
        "undeclared_work-amount": "1830.50",
        "undeclared_work-report": "official_report",
    }
    for offence in ("part_time_abuse", "bogus_self_employment", "temporary_layoff_fraud"):
        data[f"{offence}-report"] = "none"
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_an_inspector_records_the_outcome_of_a_target_and_sees_the_history(logged_in, target, inspector) -> None:
    targets = logged_in.get(reverse("workspace:my_targets")).content.decode()
    assert f'href="{outcome_url(target)}"' in targets

    response = logged_in.post(outcome_url(target), form_data(), follow=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert f"The outcome of {target.reference} is recorded." in html
    target.refresh_from_db()
    assert (target.status, target.visit_date) == ("completed", VISIT)
    finding = Finding.objects.get(inspection=target)
    assert (finding.offence_type_id, finding.found, finding.contributions_recovered, finding.report) == (
        "undeclared_work",
        True,
        Decimal("1830.50"),
        "official_report",
    )
    change = InspectionChange.objects.get(inspection=target)
    assert change.changed_by == inspector
    assert 'id="history-table"' in html and "Planned" in html and "Completed" in html
    # The employer page shows it at once, and leads to the outcome.
    page = logged_in.get(reverse("workspace:employer_detail", args=[target.employer.enterprise_number]))
    html = page.content.decode()
    assert f'href="{outcome_url(target)}"' in html
    assert "2 workers regularised, € 1,83" in html


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"visit_date": "2999-01-01"}, "The visit date 2999-01-01 lies in the future."),
        ({"undeclared_work-amount": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"undeclared_work-workers": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"undeclared_work-amount": "12abc"}, "Enter a number."),
        ({"visit_date": "31/02/2026"}, "Enter a valid date."),
        ({"status": "done"}, "Select a valid choice."),
        (
            {"part_time_abuse-found": "on"},
            "Abuse of part-time working schemes was not checked: tick “Checked”, or clear its finding.",
        ),
        (
            {"undeclared_work-found": None},
            "Undeclared work: nothing can be regularised or recovered when no offence was found.",
        ),
        (
            {
                "undeclared_work-checked": None,
                "undeclared_work-found": None,
                "undeclared_work-workers": "",
                "undeclared_work-amount": "",
                "undeclared_work-report": "none",
            },
            "Tick at least one offence type the inspection checked.",
        ),
    ],
)
def test_bad_input_gets_a_message_and_stores_nothing(logged_in, target, changes, message) -> None:
    response = logged_in.post(outcome_url(target), form_data(**changes))

    assert response.status_code == 400
    assert message in response.content.decode()
    target.refresh_from_db()
    assert target.status == "planned" and not Finding.objects.filter(inspection=target).exists()
    assert not InspectionChange.objects.exists()


def test_a_colleague_sees_the_outcome_but_cannot_record_it(client, colleague, target) -> None:
    client.force_login(colleague)

    page = client.get(outcome_url(target))
    refused = client.post(outcome_url(target), form_data())

    assert page.status_code == 200 and 'id="outcome-form"' not in page.content.decode()
    assert refused.status_code == 403
    assert "Only the task force or the inspector it is planned for records this outcome." in refused.content.decode()
    assert Inspection.objects.get(pk=target.pk).status == "planned"


def test_an_inspection_outside_the_users_regions_is_not_found(client, walloon_inspector, target) -> None:
    client.force_login(walloon_inspector)

    assert client.get(outcome_url(target)).status_code == 404
    assert client.post(outcome_url(target), form_data()).status_code == 404
    assert Inspection.objects.get(pk=target.pk).status == "planned"


def test_the_task_force_records_any_outcome_it_may_see(client, task_force, target) -> None:
    client.force_login(task_force)

    response = client.post(outcome_url(target), form_data())

    assert response.status_code == 302
    assert Inspection.objects.get(pk=target.pk).status == "completed"
    assert InspectionChange.objects.get().changed_by == task_force
