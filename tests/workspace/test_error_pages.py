"""The 403 and 404 pages: in the site's frame, in words, with a way back; the friendly 404
for a missing employer or inspection with DEBUG on as well (not Django's technical page)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import NoteFactory, valid_enterprise_number
from tests.workspace.support import publish_run

LINKS_BACK = (f'href="{reverse("home")}"', f'href="{reverse("workspace:ranked_list")}"')


def _friendly(response, status: int, words: str) -> str:
    html = response.content.decode()
    assert response.status_code == status
    assert words in html
    assert all(link in html for link in LINKS_BACK), "no way back"
    assert 'class="topbar"' in html  # the site's frame: base.html
    assert "URLconf" not in html and "Traceback" not in html  # not Django's technical pages
    return html


@pytest.mark.parametrize("debug", [True, False])
def test_a_missing_employer_gets_the_friendly_404(logged_in, settings, debug) -> None:
    settings.DEBUG = debug
    missing = reverse("workspace:employer_detail", args=[valid_enterprise_number(987654)])
    _friendly(logged_in.get(missing), 404, "This page does not exist")


@pytest.mark.parametrize("debug", [True, False])
def test_a_missing_inspection_gets_the_friendly_404(logged_in, settings, debug) -> None:
    settings.DEBUG = debug
    missing = reverse("workspace:inspection_outcome", args=["NO-SUCH-REFERENCE"])
    _friendly(logged_in.get(missing), 404, "Not found")


def test_an_employer_outside_the_users_regions_reads_as_missing(walloon_inspector, client, settings) -> None:
    settings.DEBUG = True
    flemish = publish_run(3, places=[("2000", "BE211")]).employer(1)
    client.force_login(walloon_inspector)
    html = _friendly(
        client.get(reverse("workspace:employer_detail", args=[flemish.enterprise_number])), 404, "Not found"
    )
    assert flemish.name not in html


@pytest.mark.parametrize("debug", [True, False])
def test_a_refused_page_gets_the_friendly_403(ranked, logged_in, colleague, settings, debug) -> None:
    settings.DEBUG = debug
    note = NoteFactory(employer=ranked.employer(1), author=colleague)  # not the user's to edit
    _friendly(logged_in.get(reverse("workspace:note_edit", args=[note.pk])), 403, "Your role does not allow")


def test_an_address_matching_no_route_still_gets_a_404_page(logged_in, settings) -> None:
    settings.DEBUG = False
    _friendly(logged_in.get("/no/such/page/"), 404, "Not found")
