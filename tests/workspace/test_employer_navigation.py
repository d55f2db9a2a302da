"""From a ranked list to an employer and back to the same list; from an employer to its
offences' risk profiles and to its row in each ranked list."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from tests.workspace.support import OFFENCE, SECTOR, ranks_shown

pytestmark = pytest.mark.django_db

LIST = reverse("workspace:ranked_list")


def _employer_page(ranked, rank: int) -> str:
    return reverse("workspace:employer_detail", args=[ranked.employer(rank).enterprise_number])


def _breadcrumb(html: str) -> str:
    return unescape(re.search(r'href="([^"]*)" id="back-to-list"', html).group(1))


def test_the_breadcrumb_leads_back_to_the_exact_list(logged_in, ranked) -> None:
    came_from = f"{LIST}?sector={SECTOR}&offence={OFFENCE}&band=3&band=4&region=BE2&q=employer&after=55"
    listed = logged_in.get(came_from).content.decode()
    first = ranked.employer(ranks_shown_of(logged_in, came_from)[0])
    link = re.search(rf'href="([^"]*/employers/{first.enterprise_number}/[^"]*)"', listed).group(1)

    page = logged_in.get(unescape(link)).content.decode()

    back = _breadcrumb(page)
    assert back.startswith(f"{LIST}?")
    assert sorted(back.split("?", 1)[1].split("&")) == sorted(came_from.split("?", 1)[1].split("&"))
    assert ranks_shown(logged_in.get(back)) == ranks_shown_of(logged_in, came_from)


def ranks_shown_of(client, url: str) -> list[int]:
    return ranks_shown(client.get(url))


def test_the_referer_serves_when_it_is_the_list(logged_in, ranked) -> None:
    came_from = f"{LIST}?sector={SECTOR}&offence={OFFENCE}&band=1"
    page = logged_in.get(_employer_page(ranked, 1), headers={"referer": f"http://testserver{came_from}"})
    assert _breadcrumb(page.content.decode()) == came_from


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/lists/?sector=cleaning",
        "//evil.example/lists/",
        "/\\evil.example/lists/",
        "javascript:alert(1)",
        "/admin/",
        "/lists/export.csv?sector=cleaning",
        '/lists/?sector="><script>alert(1)</script>',
    ],
)
def test_a_back_elsewhere_gives_the_sector_list(logged_in, ranked, back) -> None:
    response = logged_in.get(_employer_page(ranked, 1), {"back": back}, headers={"referer": "https://evil.example/"})
    assert response.status_code == 200
    html = response.content.decode()
    crumb = _breadcrumb(html)
    assert crumb.startswith(f"{LIST}?") and "evil" not in crumb and "<script>" not in html.split("</header>")[1]


def test_a_script_in_the_lists_query_is_kept_encoded(logged_in, ranked) -> None:
    response = logged_in.get(_employer_page(ranked, 1), {"back": f"{LIST}?q=<script>"})
    assert _breadcrumb(response.content.decode()) == f"{LIST}?q=%3Cscript%3E"


def test_offence_names_lead_to_the_profile_and_to_the_employers_row(logged_in, ranked) -> None:
    html = logged_in.get(_employer_page(ranked, 80)).content.decode()
    assert reverse("workspace:risk_profile", args=[SECTOR, OFFENCE]) in html
    at = unescape(re.search(rf'href="([^"]*)"[^>]*id="list-at-{OFFENCE}"', html).group(1))
    number = ranked.employer(80).enterprise_number
    assert at.endswith(f"#employer-{number}") and "after=74" in at
    listed = logged_in.get(at.split("#")[0])
    assert 80 in ranks_shown(listed) and f'id="employer-{number}"' in listed.content.decode()


def test_near_the_top_the_list_starts_at_its_first_page(logged_in, ranked) -> None:
    html = logged_in.get(_employer_page(ranked, 3)).content.decode()
    at = unescape(re.search(rf'href="([^"]*)"[^>]*id="list-at-{OFFENCE}"', html).group(1))
    assert "after=" not in at
    assert 3 in ranks_shown(logged_in.get(at.split("#")[0]))
