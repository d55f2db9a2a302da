"""The task force draws a worklist for an inspector, who records an outcome; the task force's
statistics change, the inspector's own do not."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from inspections.models import OffenceType, Sector
from inspections.roles import INSPECTOR, TASK_FORCE
from tests.browser.support import PASSWORD, login
from tests.factories import UserFactory
from tests.workspace.support import OFFENCE, SECTOR, publish_run
from workspace.models import Worklist

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_worklist_outcome_reaches_the_statistics(live_server_url: str, browser_page) -> None:
    publish_run(60)
    inspector = UserFactory(username="ines", password=PASSWORD)
    inspector.groups.add(Group.objects.get(name=INSPECTOR))
    lead = UserFactory(username="lead", password=PASSWORD)
    lead.groups.add(Group.objects.get(name=TASK_FORCE))
    page = browser_page

    # The task force draws a worklist of 10 and gives it to the inspector.
    login(page, live_server_url, "lead")
    page.click("nav >> text=Worklists")
    page.select_option("#id_sector", SECTOR)
    page.select_option("#id_offence", OFFENCE)
    page.fill("#id_size", "10")
    page.select_option("#id_inspector", label="ines")
    page.click("#worklist-form button[type=submit]")
    page.wait_for_selector("#worklist-table")
    assert page.locator("#worklist-table tbody tr").count() == 10
    assert page.locator("#table-lift").count() == 0
    page.goto(live_server_url + "/statistics/")
    assert "No worklist inspection is completed yet." in page.content()

    # The inspector sees it among their targets, opens the first and records what was found.
    login(page, live_server_url, "ines")
    page.click("nav >> text=My targets")
    worklist = Worklist.objects.get()
    first = worklist.entries.get(position=1).inspection.reference
    assert page.locator(f"#targets-table >> text={first}").count() == 1
    page.click(f"#targets-table >> text={first}")
    page.wait_for_selector("#outcome-form")
    assert page.locator(".band").count() == 0  # blinded: no band on the page
    page.select_option("#id_status", "completed")
    page.fill("#id_visit_date", "2026-02-03")
    page.check(f"#id_{OFFENCE}-checked")
    page.check(f"#id_{OFFENCE}-found")
    page.fill(f"#id_{OFFENCE}-workers", "2")
    page.fill(f"#id_{OFFENCE}-amount", "1500")
    page.fill("#id_summary", "Two workers on site without a declaration.")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector("#history-table")
    assert "is recorded" in page.content()

    # Not in the inspector's own statistics: before and after, they would tell its origin.
    page.goto(live_server_url + "/statistics/")
    assert "No worklist inspection is completed yet." in page.content()

    # The task force's statistics now count it, in the worklist table and per origin.
    login(page, live_server_url, "lead")
    page.goto(live_server_url + "/statistics/")
    lift = page.locator("#table-lift tbody tr").first.inner_text()
    assert Sector.objects.get(pk=SECTOR).name in lift and OffenceType.objects.get(pk=OFFENCE).name in lift
    cells = page.locator("#table-lift tbody tr").first.locator("td").all_inner_texts()
    assert sum(int(cells[i]) for i in (2, 4)) == 1 and sum(int(cells[i]) for i in (3, 5)) == 1
    origins = page.locator("#table-origin tbody tr").all_inner_texts()
    assert len(origins) == 1 and "\t1\t1\t" in origins[0]
    assert page.locator("canvas[data-chart='chart-origin']").count() == 1
