"""'Add to my targets' plans one inspection from the ranked lists; 'My targets' lists them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from inspections.models import Inspection, InspectionChange
from tests.factories import DeclarationFactory, InspectionFactory, NoteFactory
from tests.workspace.support import inspect, table_rows
from workspace import services


def target_url(employer) -> str:
    return reverse("workspace:target_add", args=[employer.enterprise_number])


def page_url(employer) -> str:
    return reverse("workspace:employer_detail", args=[employer.enterprise_number])


def test_adding_a_target_plans_one_inspection(ranked, logged_in, inspector) -> None:
    employer = ranked.employer(3)
    assert "Add to my targets" in logged_in.get(page_url(employer)).content.decode()

    response = logged_in.post(target_url(employer), follow=True)

    inspection = Inspection.objects.get()
    today = timezone.localdate()
    assert inspection.employer == employer and inspection.inspector == inspector
    assert (inspection.origin, inspection.status, inspection.planned_date) == ("ranked_list", "planned", today)
    assert inspection.reference == f"TGT-{today.year}-{inspection.pk:07d}"
    assert re.fullmatch(r"TGT-\d{4}-\d{7,}", inspection.reference)
    html = response.content.decode()
    assert f"is now among your targets ({inspection.reference})" in html
    assert f"Among your targets: {inspection.reference} (Planned)" in html
    assert "Add to my targets" not in html


def test_adding_twice_does_not_duplicate(ranked, logged_in) -> None:
    employer = ranked.employer(3)
    logged_in.post(target_url(employer))
    response = logged_in.post(target_url(employer), follow=True)
    assert Inspection.objects.count() == 1
    assert "is already among your targets" in response.content.decode()
    # With htmx the button's place gets the state, not a page.
    partial = logged_in.post(target_url(employer), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.content.decode()
    assert Inspection.objects.get().reference in partial.content.decode()
    assert Inspection.objects.count() == 1


def test_adding_with_htmx_leaves_no_stale_message_for_the_next_page(ranked, logged_in) -> None:
    employer = ranked.employer(4)
    partial = logged_in.post(target_url(employer), HTTP_HX_REQUEST="true")
    reference = Inspection.objects.get().reference
    assert f"Among your targets: {reference} (Planned)" in partial.content.decode()
    later = logged_in.get(reverse("workspace:my_targets")).content.decode()
    assert "is now among your targets" not in later


def test_a_colleague_and_a_completed_target_make_new_targets(ranked, client, inspector, colleague) -> None:
    employer = ranked.employer(3)
    client.force_login(inspector)
    client.post(target_url(employer))
    Inspection.objects.update(status="completed", visit_date=timezone.localdate())
    client.post(target_url(employer))  # the first was completed: a new one
    client.force_login(colleague)
    client.post(target_url(employer))
    assert Inspection.objects.filter(inspector=inspector).count() == 2
    assert Inspection.objects.filter(inspector=colleague).count() == 1
    assert len(set(Inspection.objects.values_list("reference", flat=True))) == 3


def test_targets_only_by_post(ranked, logged_in) -> None:
    assert logged_in.get(target_url(ranked.employer(1))).status_code == 405
    assert not Inspection.objects.exists()


def test_my_targets_lists_them_with_status(ranked, logged_in, inspector, colleague) -> None:
    first, second = ranked.employer(1), ranked.employer(2)
    logged_in.post(target_url(first))
    logged_in.post(target_url(second))
    Inspection.objects.filter(employer=first).update(status="in_progress")
    InspectionFactory(
        employer=ranked.employer(5),
        inspector=colleague,
        origin="ranked_list",
        status="planned",
        visit_date=None,
        planned_date=timezone.localdate(),
    )  # a colleague's
    InspectionFactory(employer=ranked.employer(6), inspector=inspector, origin="complaint")  # not from the lists

    response = logged_in.get(reverse("workspace:my_targets"))

    rows = table_rows(response.content.decode(), "targets-table")
    assert [row[1].split(" 0")[0] for row in rows] == [second.name, first.name]  # newest first
    assert [row[4] for row in rows] == ["Planned", "In progress"]
    assert rows[1][2] == "Antwerp"
    assert all(row[0].startswith("TGT-") for row in rows)


def test_my_targets_when_there_are_none(logged_in) -> None:
    assert "No targets yet." in logged_in.get(reverse("workspace:my_targets")).content.decode()


@pytest.mark.parametrize("n", [2, 9])
def test_my_targets_queries_do_not_grow(ranked, logged_in, django_assert_num_queries, n) -> None:
    for rank in range(1, n + 1):
        logged_in.post(target_url(ranked.employer(rank)))
    # user (the session is cached), scope, targets with employers and sub-regions, permissions (two)
    with django_assert_num_queries(5):
        response = logged_in.get(reverse("workspace:my_targets"))
    assert len(table_rows(response.content.decode(), "targets-table")) == n


# --- My targets as a plan: a planned date, removal with a reason, a visit sheet ----------------


def _plan_url(target, action: str) -> str:
    return reverse("workspace:target_change", args=[target.reference, action])


def test_a_target_is_rescheduled_and_removed_with_a_reason_and_both_are_kept(ranked, logged_in, inspector) -> None:
    target, _ = services.target_add(employer=ranked.employer(2), user=inspector)
    later = timezone.localdate() + dt.timedelta(days=9)

    response = logged_in.post(_plan_url(target, "plan"), {"planned_date": later.isoformat()}, follow=True)
    assert f"{target.reference} is planned for {later.isoformat()}." in response.content.decode()
    response = logged_in.post(_plan_url(target, "remove"), {"reason": "Closed for the season."}, follow=True)

    target.refresh_from_db()
    assert (target.planned_date, target.status, target.summary) == (later, "cancelled", "Closed for the season.")
    assert f"{target.reference} is removed from the plan." in response.content.decode()
    changes = list(InspectionChange.objects.filter(inspection=target).order_by("pk"))
    assert [change.changed_by for change in changes] == [inspector, inspector]
    assert changes[0].after["planned_date"] == later.isoformat() and changes[1].after["status"] == "cancelled"


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("plan", {"planned_date": "2020-01-01"}, "Plan it for today or a later day."),
        ("plan", {"planned_date": "2026-02-30"}, "Enter the day as YYYY-MM-DD."),
        ("plan", {"planned_date": "soon"}, "Enter the day as YYYY-MM-DD."),
        ("plan", {}, "Enter the day as YYYY-MM-DD."),
        ("remove", {"reason": "  "}, "Say why the target is removed."),
        ("remove", {"reason": "x" * 501}, "A reason holds at most 500 characters"),
    ],
)
def test_bad_plan_changes_get_a_message_and_change_nothing(ranked, logged_in, inspector, action, data, message):
    target, _ = services.target_add(employer=ranked.employer(2), user=inspector)

    response = logged_in.post(_plan_url(target, action), data, follow=True)

    assert message in response.content.decode()
    assert Inspection.objects.get(pk=target.pk).status == "planned" and not InspectionChange.objects.exists()


def test_a_colleagues_target_cannot_be_changed_nor_an_unknown_action(ranked, client, inspector, colleague) -> None:
    target, _ = services.target_add(employer=ranked.employer(2), user=inspector)
    client.force_login(colleague)

    response = client.post(_plan_url(target, "remove"), {"reason": "mine now"})

    assert response.status_code == 403
    assert client.post(_plan_url(target, "delete"), {"reason": "x"}).status_code == 404
    assert Inspection.objects.get(pk=target.pk).status == "planned"


def test_the_visit_sheet_holds_identity_declarations_findings_and_notes_but_no_score(ranked, logged_in, inspector):
    employer = ranked.employer(2)
    target, _ = services.target_add(employer=employer, user=inspector)
    DeclarationFactory(employer=employer, quarter=dt.date(2026, 4, 1), headcount=17)
    inspect(employer, dt.date(2025, 5, 5), found=True)
    NoteFactory(employer=employer, author=inspector, text="Back entrance on the canal side.")
    assert (
        f'href="{reverse("workspace:visit_sheet", args=[target.reference])}"'
        in logged_in.get(reverse("workspace:my_targets")).content.decode()
    )

    html = logged_in.get(reverse("workspace:visit_sheet", args=[target.reference])).content.decode()

    assert employer.name in html and "2026-Q2" in html and ">17<" in html
    assert "Back entrance on the canal side." in html and "found" in html
    assert 'class="band' not in html and ">Rank<" not in html and "Percentile" not in html
