"""The navigation bar's search: by enterprise number or name, in every sector the user may see."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.workspace.support import limit_to_region, publish_run

pytestmark = pytest.mark.django_db

SEARCH = reverse("workspace:employer_search")


@pytest.fixture
def named(db):
    """Cleaning: Janssens in Antwerp (rank 1), Halle-Vilvoorde (2) and Liège (3, Walloon);
    construction: a Janssens in Antwerp."""
    cleaning = publish_run(
        6, names={1: "Bouwwerken Janssens BV", 2: "Janssens Schoonmaak", 3: "L'Atelier Janssens", 4: "Vermeulen NV"}
    )
    construction = publish_run(3, sector="construction", offence="undeclared_work", names={1: "Janssens Bouw NV"})
    return cleaning, construction


def _number(employer) -> str:
    return employer.enterprise_number


def test_one_match_goes_straight_to_the_employer(logged_in, named) -> None:
    vermeulen = named[0].employer(4)
    response = logged_in.get(SEARCH, {"q": "vermeul"})
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:employer_detail", args=[_number(vermeulen)])


@pytest.mark.parametrize(
    "shape",
    [
        "{0}{1}{2}{3}.{4}{5}{6}.{7}{8}{9}",
        "BE{0}{1}{2}{3}{4}{5}{6}{7}{8}{9}",
        "be {0}{1}{2}{3} {4}{5}{6} {7}{8}{9}",
        "{1}{2}{3}{4}{5}{6}{7}{8}{9}",
    ],
)
def test_an_enterprise_number_in_any_common_form(logged_in, named, shape) -> None:
    employer = named[0].employer(5)
    response = logged_in.get(SEARCH, {"q": shape.format(*_number(employer))})
    assert response["Location"] == reverse("workspace:employer_detail", args=[_number(employer)])


def test_several_matches_are_listed_across_sectors(logged_in, named) -> None:
    response = logged_in.get(SEARCH, {"q": "janssens"})
    assert response.status_code == 200
    html = response.content.decode()
    for employer in (*(named[0].employer(rank) for rank in (1, 2, 3)), named[1].employer(1)):
        assert reverse("workspace:employer_detail", args=[_number(employer)]) in html
        assert employer.postal_code.municipality in html
    assert "Construction" in html and "Cleaning" in html
    assert "Vermeulen" not in html


def test_a_region_limited_inspector_never_finds_another_region(client, inspector, named) -> None:
    limit_to_region(inspector, "BE2")  # Flanders
    client.force_login(inspector)
    walloon = named[0].employer(3)
    assert walloon.subregion_id == "BE332"
    by_name = client.get(SEARCH, {"q": "atelier"})
    assert by_name.status_code == 200 and "Atelier" not in by_name.content.decode()
    assert 'id="search-none"' in by_name.content.decode()
    by_number = client.get(SEARCH, {"q": _number(walloon)})
    assert by_number.status_code == 200 and 'id="search-none"' in by_number.content.decode()
    listed = client.get(SEARCH, {"q": "janssens"}).content.decode()
    assert _number(walloon) not in listed and "Atelier" not in listed


def test_no_match_says_so(logged_in, named) -> None:
    response = logged_in.get(SEARCH, {"q": "nobody here"})
    assert response.status_code == 200
    assert 'id="search-none"' in response.content.decode()
    assert "nobody here" in response.content.decode()


@pytest.mark.parametrize("text", ["%", "...", "x" * 101])
def test_hostile_input_gets_a_message(logged_in, named, text) -> None:
    response = logged_in.get(SEARCH, {"q": text})
    assert response.status_code == 400
    assert 'class="message error"' in response.content.decode()


def test_a_script_is_shown_escaped(logged_in, named) -> None:
    response = logged_in.get(SEARCH, {"q": "<script>alert(1)</script>"})
    html = response.content.decode()
    assert response.status_code == 200 and "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_an_empty_search_shows_the_form(logged_in, named) -> None:
    response = logged_in.get(SEARCH)
    assert response.status_code == 200 and 'name="q"' in response.content.decode()


def test_many_matches_cost_no_query_per_row_and_are_limited(logged_in, named, settings) -> None:
    from workspace import selectors

    with CaptureQueriesContext(connection) as few:
        logged_in.get(SEARCH, {"q": "janssens"})
    publish_run(60)  # "Employer <serial> BV": 60 more matches for "bv"
    with CaptureQueriesContext(connection) as many:
        response = logged_in.get(SEARCH, {"q": "bv"})
    assert len(many) == len(few)
    assert response.content.decode().count('<th scope="row">') == selectors.SEARCH_LIMIT
    assert 'id="search-more"' in response.content.decode()


def test_the_navigation_bar_has_the_search(logged_in) -> None:
    html = logged_in.get(reverse("home")).content.decode()
    assert f'action="{SEARCH}"' in html and 'id="nav-search"' in html


def test_words_of_a_name_in_any_order(logged_in, named) -> None:
    html = logged_in.get(SEARCH, {"q": "bouw jans"}).content.decode()
    assert "Bouwwerken Janssens BV" in html and "Janssens Bouw NV" in html
    assert "Janssens Schoonmaak" not in html


def test_a_list_search_that_finds_nothing_offers_to_search_every_sector(logged_in, named) -> None:
    query = {"sector": "cleaning", "offence": named[0].run.offence_type_id, "q": "Bouw NV"}
    page = logged_in.get(reverse("workspace:ranked_list"), query).content.decode()
    assert 'id="search-everywhere"' in page and f"{SEARCH}?q=Bouw%20NV" in page
    assert logged_in.get(SEARCH, {"q": "Bouw NV"})["Location"].endswith(f"/{_number(named[1].employer(1))}/")
