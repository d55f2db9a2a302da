"""On a phone (390 px wide): the ranked list, the employer page and the home page fit the
screen, without scrolling sideways."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from inspections.roles import INSPECTOR
from tests.browser.support import PASSWORD, login
from tests.factories import DeclarationFactory, UserFactory
from tests.workspace.support import OFFENCE, SECTOR, publish_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDEST = "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
# What sticks out, to say where: the outermost elements whose right edge passes the screen's.
STICKING_OUT = """() => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > 391 && !(e.parentElement.getBoundingClientRect().right > 391))
  .slice(0, 8).map((e) => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)"""
LONG_NAME = "Algemene Schoonmaak- en Onderhoudsonderneming Van De Voorstad-Noord BV"


def test_the_list_and_the_employer_page_fit_a_phone(live_server_url: str, browser_page) -> None:
    published = publish_run(60, names={1: LONG_NAME})
    employer = published.employer(1)
    for i, quarter in enumerate(dt.date(2025, month, 1) for month in (1, 4, 7, 10)):
        DeclarationFactory(employer=employer, quarter=quarter, headcount=12 + i, fte=Decimal("9.50") + i)
    UserFactory(username="ines", password=PASSWORD).groups.add(Group.objects.get(name=INSPECTOR))
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server_url, "ines")
    for path in ("/", f"/lists/?sector={SECTOR}&offence={OFFENCE}", f"/employers/{employer.enterprise_number}/"):
        page.goto(live_server_url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(WIDEST) <= 390, f"{path} is {page.evaluate(WIDEST)} px wide: {page.evaluate(STICKING_OUT)}"
    page.goto(f"{live_server_url}/lists/?sector={SECTOR}&offence={OFFENCE}")
    row = page.locator("#ranked-table tbody tr").first
    assert LONG_NAME in row.inner_text() and row.locator(".band").is_visible()
