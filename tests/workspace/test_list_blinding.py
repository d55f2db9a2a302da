"""The ranked lists and their exports leave out an inspector's open worklist employers,
and close up the ranks over them, so that neither a row nor a gap says where one stands."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inspections.models import Inspection
from scoring.models import Band, Score
from tests.workspace.support import OFFENCE, SECTOR, publish_run, ranks_shown, table_rows
from workspace.selectors import ListBlinding
from workspace.worklists import WorklistRequest, worklist_create

pytestmark = pytest.mark.django_db

LIST = reverse("workspace:ranked_list")
EXPORT = reverse("workspace:ranked_list_export", args=["csv"])


@pytest.fixture
def worklisted(inspector):
    """A run of 120 whose riskiest employer has a name to search for, and a worklist of 10
    for the inspector: 7 of the highest ranks and 3 random controls."""
    published = publish_run(names={1: "Zwanenburg Schoonmaak BV"})
    worklist = worklist_create(user=inspector, request=WorklistRequest(SECTOR, OFFENCE, 10), seed=7)
    return published, worklist


def _all_pages(client, **filters) -> tuple[list[int], str]:
    """Ranks shown over every page of the list, and the pages' HTML, following the "Next"
    links (a page from the cache has no context to read them from)."""
    ranks: list[int] = []
    html = ""
    response = client.get(LIST, filters)
    while True:
        ranks += ranks_shown(response)
        html += response.content.decode()
        following = re.search(r'after=(\d+)" hx-target="#ranked-results" hx-push-url="true" rel="next"', html)
        if following is None:
            return ranks, html
        html = html.replace(following.group(0), "")
        response = client.get(LIST, {**filters, "after": following.group(1)})


def _counts(response) -> dict[int, int]:
    """The band counts above the list, from its HTML."""
    shown = re.search(r'<ul class="band-counts".*?</ul>', response.content.decode(), re.S).group(0)
    return dict(enumerate((int(n.replace(",", "")) for n in re.findall(r"<strong>([\d,]+)</strong>", shown)), 1))


def _hidden(worklist) -> list[Score]:
    return list(Score.objects.filter(employer_id__in=worklist.entries.values("employer_id")).select_related("employer"))


def test_an_inspectors_worklist_employers_leave_their_lists_and_the_ranks_close_up(
    worklisted, logged_in, colleague
) -> None:
    published, worklist = worklisted
    hidden = _hidden(worklist)
    assert len(hidden) == 10 and any(score.rank == 1 for score in hidden)
    client = Client()
    client.force_login(colleague)
    colleague_ranks, colleague_html = _all_pages(client)  # rendered first: its cached page is not reused

    ranks, html = _all_pages(logged_in)

    assert colleague_ranks == list(range(1, 121))
    assert ranks == list(range(1, 111))  # no gap where a worklist employer stood
    for score in hidden:
        assert score.employer.enterprise_number in colleague_html
        assert score.employer.enterprise_number not in html
    everyone = Counter(score.band for score in published.scores)
    shown = everyone - Counter(score.band for score in hidden)
    assert _counts(logged_in.get(LIST)) == {band: shown[band] for band in Band.values}
    assert _counts(client.get(LIST)) == {band: everyone[band] for band in Band.values}


def test_the_home_pages_band_counts_leave_them_out_too(worklisted, logged_in, colleague) -> None:
    published, worklist = worklisted
    other = Client()
    other.force_login(colleague)

    home = logged_in.get(reverse("home")).content.decode()
    theirs = other.get(reverse("home")).content.decode()

    shown = Counter(score.band for score in published.scores) - Counter(score.band for score in _hidden(worklist))
    assert _home_counts(home) == [shown[band] for band in Band.values]
    assert _home_counts(theirs) == [Counter(score.band for score in published.scores)[band] for band in Band.values]


def _home_counts(html: str) -> list[int]:
    row = table_rows(html, "band-counts")[-1]
    return [int(cell.replace(",", "")) for cell in row[-len(Band.values) :]]


@pytest.mark.parametrize("search", ["number", "name"])
def test_a_search_for_a_worklist_employer_finds_nothing(worklisted, logged_in, search) -> None:
    published, _worklist = worklisted
    first = published.employer(1)
    q = first.enterprise_number if search == "number" else "Zwanenburg"

    response = logged_in.get(LIST, {"q": q})

    assert "No employer matches these filters." in response.content.decode()
    assert set(_counts(response).values()) == {0}


def test_the_employers_come_back_once_the_visits_are_done(worklisted, logged_in) -> None:
    _published, worklist = worklisted
    assert len(_all_pages(logged_in)[0]) == 110

    Inspection.objects.filter(worklist_entry__worklist=worklist).update(
        status="completed", visit_date=timezone.localdate()
    )

    assert _all_pages(logged_in)[0] == list(range(1, 121))


def test_the_export_leaves_them_out_and_closes_up_the_ranks(worklisted, logged_in) -> None:
    _published, worklist = worklisted

    rows = list(csv.reader(io.StringIO(logged_in.get(EXPORT).content.decode())))

    assert [int(row[0]) for row in rows[1:]] == list(range(1, 111))
    # The share scored lower among the 110 left: 109 of 110 for the first, then down by 1/110.
    assert [float(row[2]) for row in rows[1:4]] == [round(100 * (110 - shown) / 110, 1) for shown in (1, 2, 3)]
    numbers = {row[4] for row in rows[1:]}
    assert not numbers & {score.employer.enterprise_number for score in _hidden(worklist)}


def test_pages_keyed_on_shown_ranks_neither_skip_nor_repeat(worklisted, logged_in) -> None:
    forward, _html = _all_pages(logged_in)
    last = logged_in.get(LIST, {"page": "last"})
    backward = ranks_shown(last)
    while last.context["page"].has_previous:
        last = logged_in.get(LIST, {"before": last.context["page"].first_rank})
        backward = ranks_shown(last) + backward

    assert forward == backward == list(range(1, 111))


@pytest.mark.parametrize(
    ("hidden", "rank", "shown"),
    [((), 5, 5), ((3,), 2, 2), ((3,), 4, 3), ((1, 2, 3), 4, 1), ((2, 5, 6), 7, 4), ((2, 5, 6), 4, 3)],
)
def test_shown_and_stored_ranks_map_onto_each_other(hidden, rank, shown) -> None:
    blinding = ListBlinding((), hidden)

    assert blinding.shown(rank) == shown
    assert blinding.stored(shown) == rank


def test_blinding_costs_two_queries_and_none_per_row(
    worklisted, logged_in, colleague, django_assert_num_queries
) -> None:
    query = {"sector": SECTOR, "offence": OFFENCE, "page": "last"}
    other = Client()
    other.force_login(colleague)
    other.get(LIST, query)
    logged_in.get(LIST, query)
    with django_assert_num_queries(11):
        other.get(LIST, {**query, "legal_form": "BV"})
    # The ranks of the hidden employers in the run, and how many of them the filters match per band.
    with django_assert_num_queries(13):
        logged_in.get(LIST, {**query, "legal_form": "NV"})


def test_other_employers_pages_show_ranks_as_the_list_does(worklisted, logged_in, colleague) -> None:
    """The run's own rank on an employer page, beside the list's, would tell how many of the
    inspector's hidden employers rank above it."""
    published, worklist = worklisted
    hidden_ranks = sorted(score.rank for score in _hidden(worklist))
    listed = next(
        score for score in published.scores if score.rank not in hidden_ranks and score.rank > hidden_ranks[0]
    )
    shown = listed.rank - sum(rank < listed.rank for rank in hidden_ranks)
    url = reverse("workspace:employer_detail", args=[listed.employer.enterprise_number])
    other = Client()
    other.force_login(colleague)

    mine = table_rows(logged_in.get(url).content.decode().split("<main", 1)[1], "employer-scores")[0]
    theirs = table_rows(other.get(url).content.decode().split("<main", 1)[1], "employer-scores")[0]

    assert int(mine[3].replace(",", "")) == shown < listed.rank == int(theirs[3].replace(",", ""))
