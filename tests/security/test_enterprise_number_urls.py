"""Employer URLs match only what an enterprise number can be: anything else is a 404 before any query."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import NoReverseMatch, reverse

from inspections.models import Inspection
from tests.workspace.support import publish_run
from workspace.models import Note

ROUTES = [("workspace:employer_detail", "get"), ("workspace:note_create", "post"), ("workspace:target_add", "post")]

NOT_NUMBERS = [
    "0123\x00456789",  # a NUL byte: psycopg2 refused it with a ValueError (a 500)
    "\x00",
    "0403170701\x00",
    "040317070\x00",
    "0403170701\n",
    " 0403170701",
    "１２３４５６７８９０",  # full-width digits: \d in a Python pattern would take them
    "٠١٢٣٤٥٦٧٨٩",
    "2403170701",  # a KBO/BCE number starts with 0 or 1 (the employer table's check)
    "040317070",
    "04031707011",
    "0403.170.701",
    "BE0403170701",
    "%ff",
    "..",
]


def _url(route: str, number: str) -> str:
    return reverse(route, args=["0000000000"]).replace("0000000000", quote(number, safe=""))


@pytest.mark.parametrize(("route", "method"), ROUTES, ids=[route for route, _ in ROUTES])
def test_what_cannot_be_an_enterprise_number_is_not_found(logged_in, route, method) -> None:
    publish_run(3)
    for number in NOT_NUMBERS:
        before = (Note.objects.count(), Inspection.objects.count())
        response = getattr(logged_in, method)(_url(route, number), {"text": "a note"} if method == "post" else None)
        assert response.status_code == 404, (number, response.status_code)
        assert (Note.objects.count(), Inspection.objects.count()) == before


def test_real_enterprise_numbers_still_reverse_and_resolve(logged_in) -> None:
    employer = publish_run(3).employer(1)
    for route, method in ROUTES:
        url = reverse(route, args=[employer.enterprise_number])
        assert url.endswith(f"/{employer.enterprise_number}/") or f"/{employer.enterprise_number}/" in url
        assert getattr(logged_in, method)(url).status_code in (200, 302)
    with pytest.raises(NoReverseMatch):
        reverse("workspace:employer_detail", args=["x"])
