"""The ranked list page: columns, rank order, band counts, keyset pages, htmx, query counts."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.formats import date_format

from scoring.models import ScoringRun
from tests.factories import FindingFactory, ScoringRunFactory
from tests.workspace.support import (
    OFFENCE,
    SECTOR,
    inspect,
    inspect_all,
    publish_again,
    publish_run,
    ranks_shown,
    table_rows,
)

LIST = reverse("workspace:ranked_list")


def test_default_list_is_sorted_by_rank_and_shows_every_column(ranked, logged_in) -> None:
    first, second = ranked.employer(1), ranked.employer(2)
    inspect(first, dt.date(2026, 3, 2), found=True, offence=OFFENCE)
    inspect(second, dt.date(2025, 5, 6), found=False, offence=OFFENCE)
    inspect(ranked.employer(4), dt.date(2025, 6, 7), found=True)  # undeclared work: not this list's

    response = logged_in.get(LIST)

    assert response.status_code == 200
    assert response.context["run"] == ranked.run  # the first sector and offence by default
    assert ranks_shown(response) == list(range(1, 51))
    rows = table_rows(response.content.decode(), "ranked-table")
    assert (
        rows[0]
        == [
            "1",
            "red",  # the band chip carries its name in words
            "99.2",
            f"{first.name} {first.enterprise_number[:4]}.{first.enterprise_number[4:7]}.{first.enterprise_number[7:]}",
            "Antwerp",
            "fewer than 10 workers",
            "wage per FTE 38 % below the sector median",
            f"{date_format(dt.date(2026, 3, 2), 'SHORT_DATE_FORMAT')}: found",
        ]
    )
    assert rows[1][4:] == [
        "Halle-Vilvoorde",
        "10 to 49 workers",
        "wage per FTE 38 % below the sector median",
        f"{date_format(dt.date(2025, 5, 6), 'SHORT_DATE_FORMAT')}: not found",
    ]
    assert rows[2][-1] == "never"
    assert rows[3][-1] == f"{date_format(dt.date(2025, 6, 7), 'SHORT_DATE_FORMAT')}: not checked"
    assert "Last inspection: Bogus self-employment" in response.content.decode()  # which offence
    assert '<span class="band band-1">red</span>' in response.content.decode()


def test_the_last_inspection_shows_the_lists_own_offence(logged_in) -> None:
    undeclared = publish_run(10, offence="undeclared_work")
    layoff = publish_again(undeclared, offence="temporary_layoff_fraud")
    employer = undeclared.employer(1)
    inspection = inspect(employer, dt.date(2026, 3, 2), found=True, offence="temporary_layoff_fraud")
    FindingFactory(inspection=inspection, offence_type_id="undeclared_work", found=False)
    visit = date_format(dt.date(2026, 3, 2), "SHORT_DATE_FORMAT")

    on_undeclared = logged_in.get(LIST, {"sector": SECTOR, "offence": "undeclared_work"})
    on_layoff = logged_in.get(LIST, {"sector": SECTOR, "offence": "temporary_layoff_fraud"})

    assert on_undeclared.context["run"] == undeclared.run and on_layoff.context["run"] == layoff.run
    assert table_rows(on_undeclared.content.decode(), "ranked-table")[0][-1] == f"{visit}: not found"
    assert table_rows(on_layoff.content.decode(), "ranked-table")[0][-1] == f"{visit}: found"
    assert "Last inspection: Undeclared work" in on_undeclared.content.decode()
    assert "Last inspection: Temporary lay-off fraud" in on_layoff.content.decode()


# (query, which scores match): every filter alone, then combined.
FILTERS = [
    ({}, lambda s: True),
    ({"region": "BE2"}, lambda s: s.subregion_id in ("BE211", "BE241")),
    ({"region": "BE3"}, lambda s: s.subregion_id == "BE332"),
    ({"region": "BE1"}, lambda s: False),
    ({"subregion": "BE241"}, lambda s: s.subregion_id == "BE241"),
    ({"region": "BE2", "subregion": "BE211"}, lambda s: s.subregion_id == "BE211"),
    ({"band": ["1"]}, lambda s: s.band == 1),
    ({"band": ["1", "3"]}, lambda s: s.band in (1, 3)),
    ({"size_class": ["2"]}, lambda s: s.size_class == 2),
    ({"size_class": ["1", "4"]}, lambda s: s.size_class in (1, 4)),
    ({"legal_form": "NV"}, lambda s: s.legal_form == "NV"),
    ({"not_inspected": "6"}, lambda s: s.visit_recency >= 1),
    ({"not_inspected": "12"}, lambda s: s.visit_recency >= 2),
    ({"not_inspected": "24"}, lambda s: s.visit_recency >= 3),
    ({"not_inspected": "36"}, lambda s: s.visit_recency == 4),
    (
        {"region": "BE2", "band": ["3", "4"], "size_class": ["1", "2"], "not_inspected": "6"},
        lambda s: (
            s.subregion_id in ("BE211", "BE241")
            and s.band in (3, 4)
            and s.size_class in (1, 2)
            and s.visit_recency >= 1
        ),
    ),
    (
        {"subregion": "BE332", "legal_form": "BV", "band": ["4"]},
        lambda s: s.subregion_id == "BE332" and s.legal_form == "BV" and s.band == 4,
    ),
    ({"q": "employer 1"}, lambda s: "employer 1" in s.employer.name.lower()),
    (
        {"q": "EMPLOYER 1", "region": "BE3"},
        lambda s: "employer 1" in s.employer.name.lower() and s.subregion_id == "BE332",
    ),
]


def all_ranks(client, query: dict) -> tuple[list[int], object]:
    """Every rank of the list, page after page (following `after`), and the first response."""
    first = response = client.get(LIST, query)
    assert response.status_code == 200, response.content
    ranks = ranks_shown(response) if response.context["page"].rows else []
    while response.context["page"].has_next:
        response = client.get(LIST, {**query, "after": response.context["page"].last_rank})
        ranks += ranks_shown(response)
    return ranks, first


@pytest.mark.parametrize(("query", "matches"), FILTERS, ids=[str(q) for q, _ in FILTERS])
def test_filters_and_band_counts_match_the_scores(ranked, logged_in, query, matches) -> None:
    expected = [s for s in ranked.scores if matches(s)]

    ranks, response = all_ranks(logged_in, query)

    assert ranks == [s.rank for s in expected]  # the filtered rows, in rank order
    bands = Counter(s.band for s in expected)
    assert response.context["counts"] == {band: bands.get(band, 0) for band in (1, 2, 3, 4)}
    assert response.context["matching"] == len(expected)
    html = response.content.decode()
    for band, count in response.context["counts"].items():
        assert f'<span class="band band-{band}">' in html and f"<strong>{count}</strong>" in html
    if not expected:
        assert "No employer matches these filters." in html


def test_sector_and_offence_pick_the_published_run(ranked, logged_in) -> None:
    other = publish_run(5, sector="construction", offence="undeclared_work", names={1: "Bouwwerken Peeters"})
    # An older succeeded run and a newer failed one of the default pair are not shown.
    ScoringRunFactory(model_version=ranked.run.model_version, finished_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    ScoringRunFactory(model_version=ranked.run.model_version, status="failed", finished_at=None)

    response = logged_in.get(LIST, {"sector": "construction", "offence": "undeclared_work"})
    assert response.context["run"] == other.run
    assert ranks_shown(response) == [1, 2, 3, 4, 5]
    assert "Bouwwerken Peeters" in response.content.decode()
    assert sum(response.context["counts"].values()) == 5

    assert logged_in.get(LIST, {"sector": SECTOR, "offence": OFFENCE}).context["run"] == ranked.run

    response = logged_in.get(LIST, {"sector": "hospitality", "offence": "undeclared_work"})
    assert response.status_code == 200
    assert response.context["run"] is None
    assert "There are no scores for this sector and offence yet" in response.content.decode()
    assert ScoringRun.objects.count() == 4


NAMES = {3: "Schoonmaak Janssens", 17: "JANSSENS & Zonen", 20: "Jansen", 22: "L'Atelier du Nettoyage"}


@pytest.mark.parametrize(
    ("term", "ranks"),
    [
        ("janssens", [3, 17]),
        ("JANSSENS", [3, 17]),
        ("jans", [3, 17, 20]),  # the start of a word
        ("Janssens & z", [17]),  # every word, in any order; the & is no operator
        ("zon jan", [17]),
        ("schoon jans", [3]),
        ("atelier", [22]),  # after the apostrophe
        ("nettoyage l", [22]),
        ("oonmaak", []),  # inside a word: not a match
        ("janssens:* | a", []),  # search syntax is text: "janssens", "a": no name has both
    ],
)
def test_search_by_name_matches_the_starts_of_its_words(logged_in, term, ranks) -> None:
    publish_run(30, names=NAMES)

    response = logged_in.get(LIST, {"q": term})

    assert response.status_code == 200
    if ranks:
        assert ranks_shown(response) == ranks
    else:
        assert "No employer matches these filters." in response.content.decode()
    # While searching the counts come from the scores themselves (ScoreCount has no names).
    assert response.context["matching"] == len(ranks)


@pytest.mark.parametrize("lookup", [True, False])  # band counts from the run's lookup / from the scores
def test_a_name_search_lists_and_counts_every_match(logged_in, lookup) -> None:
    publish_run(30, names=NAMES, lookup=lookup)

    response = logged_in.get(LIST, {"q": "jans"})

    assert ranks_shown(response) == [3, 17, 20]  # every match, in rank order
    assert response.context["counts"] == {1: 0, 2: 1, 3: 0, 4: 2}  # of 30: red 1, orange 2-4, green 5-12
    assert ranks_shown(logged_in.get(LIST, {"q": "jans", "page": "last"})) == [3, 17, 20]


@pytest.mark.parametrize(
    ("filters", "counts"),
    [
        ({"band": ["2", "3"]}, {1: 0, 2: 1, 3: 0, 4: 0}),
        ({"size_class": ["3"]}, {1: 0, 2: 1, 3: 0, 4: 0}),  # publish_run: size class rank % 4 (rank 3: 3)
        ({"size_class": ["1", "4"]}, {1: 0, 2: 0, 3: 0, 4: 2}),  # ranks 17 (1) and 20 (4)
        ({"legal_form": "VZW"}, {1: 0, 2: 1, 3: 0, 4: 0}),  # LEGAL_FORMS[(rank - 1) % 5]
        ({"not_inspected": "6"}, {1: 0, 2: 1, 3: 0, 4: 2}),  # visit recency (rank - 1) % 5: 2, 1, 4
        ({"not_inspected": "24"}, {1: 0, 2: 0, 3: 0, 4: 1}),  # above 2: rank 20
    ],
)
def test_a_name_search_counts_per_band_with_the_other_filters(logged_in, filters, counts) -> None:
    """The lookup's counts (listed_match) agree with the scores' (the filter methods)."""
    publish_run(30, names=NAMES)
    looked_up = logged_in.get(LIST, {"q": "jans", **filters}).context["counts"]
    publish_run(30, names=NAMES, lookup=False, sector="construction")
    counted = logged_in.get(LIST, {"q": "jans", "sector": "construction", **filters}).context["counts"]
    assert looked_up == counted == counts


def test_search_by_enterprise_number_with_or_without_dots_spaces_and_be(logged_in) -> None:
    published = publish_run(12)
    target = published.by_rank(7)
    number = target.employer.enterprise_number  # e.g. 0300000690
    dotted = f"{number[:4]}.{number[4:7]}.{number[7:]}"
    for term in [
        number,
        dotted,
        f"BE {dotted}",
        f"be{number}",
        f"BE 0{number[1:4]} {number[4:7]} {number[7:]}",
        number[1:],
    ]:
        response = logged_in.get(LIST, {"q": term})
        assert ranks_shown(response) == [7], term
        assert response.context["counts"] == {1: 0, 2: 0, 3: 0, 4: 1}, term
    # A shorter run of digits is a prefix of the number.
    prefix = number[:6]
    expected = [s.rank for s in published.scores if s.employer.enterprise_number.startswith(prefix)]
    assert len(expected) > 1
    assert ranks_shown(logged_in.get(LIST, {"q": f"{prefix[:4]}.{prefix[4:]}"})) == expected


def test_keyset_pages_next_previous_first_last_never_overlap(ranked, logged_in) -> None:
    first = logged_in.get(LIST)
    page = first.context["page"]
    assert (page.has_previous, page.has_next) == (False, True)
    html = first.content.decode()
    assert "after=50" in html and "page=last" in html and "before=" not in html

    second = logged_in.get(LIST, {"after": 50})
    assert ranks_shown(second) == list(range(51, 101))
    assert second.context["page"].has_previous and second.context["page"].has_next
    assert "before=51" in second.content.decode()

    third = logged_in.get(LIST, {"after": 100})
    assert ranks_shown(third) == list(range(101, 121))
    assert third.context["page"].has_previous and not third.context["page"].has_next

    # Back from the second page: the first page again.
    back = logged_in.get(LIST, {"before": 51})
    assert ranks_shown(back) == list(range(1, 51))
    assert not back.context["page"].has_previous and back.context["page"].has_next

    # The last page ends with the highest rank; going back from it covers the rest once.
    last = logged_in.get(LIST, {"page": "last"})
    assert ranks_shown(last) == list(range(71, 121))
    assert last.context["page"].has_previous and not last.context["page"].has_next
    assert "before=71" in last.content.decode()
    pages = [ranks_shown(last)]
    response = last
    while response.context["page"].has_previous:
        response = logged_in.get(LIST, {"before": response.context["page"].first_rank})
        pages.insert(0, ranks_shown(response))
    assert pages == [list(range(1, 21)), list(range(21, 71)), list(range(71, 121))]
    flat = [rank for ranks in pages for rank in ranks]
    assert flat == list(range(1, 121))  # no overlap, nothing missed

    # "First" links drop the page keys but keep the filters.
    filtered = logged_in.get(LIST, {"region": "BE2", "after": 3})
    assert 'href="?region=BE2"' in filtered.content.decode()


def test_keyset_pages_follow_the_filters(ranked, logged_in) -> None:
    flemish = [s.rank for s in ranked.scores if s.subregion_id in ("BE211", "BE241")]  # 80 rows
    first = logged_in.get(LIST, {"region": "BE2"})
    assert ranks_shown(first) == flemish[:50]
    nxt = logged_in.get(LIST, {"region": "BE2", "after": first.context["page"].last_rank})
    assert ranks_shown(nxt) == flemish[50:]
    last = logged_in.get(LIST, {"region": "BE2", "page": "last"})
    assert ranks_shown(last) == flemish[-50:]
    assert ranks_shown(last)[-1] == flemish[-1]


def test_htmx_requests_get_the_results_partial_only(ranked, logged_in) -> None:
    response = logged_in.get(LIST, {"band": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    names = [template.name for template in response.templates]
    assert "workspace/_ranked_results.html" in names
    assert "workspace/ranked_list.html" not in names and "base.html" not in names
    html = response.content.decode()
    assert "<html" not in html and 'id="list-filters"' not in html
    assert ranks_shown(response) == [1, 2, 3, 4, 5, 6]

    full = logged_in.get(LIST, {"band": "1"})
    assert "<html" in full.content.decode() and 'id="list-filters"' in full.content.decode()


@pytest.mark.parametrize(
    ("region", "present", "absent"),
    [
        ("BE1", ["BE100"], ["BE211", "BE332"]),
        ("BE3", ["BE332", "BE352"], ["BE211", "BE100"]),
        ("BE2", ["BE211", "BE241"], ["BE332"]),
        ("", ["BE100", "BE211", "BE332"], []),
        ("ZZ", [], ["BE100", "BE211", "BE332"]),
    ],
)
def test_subregion_options_follow_the_region(logged_in, region, present, absent) -> None:
    response = logged_in.get(reverse("workspace:subregion_options"), {"region": region})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="">All sub-regions</option>' in html
    for code in present:
        assert f'value="{code}"' in html
    for code in absent:
        assert f'value="{code}"' not in html


def test_region_select_asks_htmx_for_the_subregions(ranked, logged_in) -> None:
    html = logged_in.get(LIST, {"region": "BE3"}).content.decode()
    assert f'hx-get="{reverse("workspace:subregion_options")}"' in html
    # The sub-region select of a chosen region only offers that region's sub-regions.
    select = html.split('id="id_subregion"')[1].split("</select>")[0]
    assert 'value="BE332"' in select and 'value="BE211"' not in select


# --- Query counts: fixed, whatever the number of rows ----------------------------------------


def _list_with_rows(n: int) -> None:
    published = publish_run(n)
    # Every employer inspected: the "last inspection" column must not cost a query per row.
    inspect_all([s.employer for s in published.scores], dt.date(2026, 2, 3))


@pytest.mark.parametrize("n", [10, 50])
@pytest.mark.parametrize(
    ("query", "queries"),
    [
        # user (the session is in the cache), default sector, default offence, scope (once: kept on the user),
        # the reference rows the form's selects show (sectors, offence types, regions, sub-regions:
        # read once a minute by a process, here the first time), sector, offence, run, page,
        # last inspections, band counts, the user's permissions (two, for the navigation),
        # the employers of the user's open worklist inspections (none here: see test_list_blinding)
        ({}, 17),
        # sector and offence given from here on: no default look-ups
        ({"page": "last"}, 15),
        # and the region (checked, then its sub-regions, once for the scores and the counts)
        ({"region": "BE2", "band": ["3", "4"], "size_class": "1", "not_inspected": "6"}, 17),
        ({"q": "employer"}, 16),  # the matching employers, then counts from the run's lookup
        ({"after": "3", "legal_form": "BV"}, 15),
        ({"before": "40"}, 16),  # and whether a page follows
    ],
)
def test_list_queries_do_not_grow_with_the_rows(logged_in, django_assert_num_queries, n, query, queries) -> None:
    _list_with_rows(n)
    if query:
        query = {"sector": SECTOR, "offence": OFFENCE, **query}
    with django_assert_num_queries(queries) as captured:
        response = logged_in.get(LIST, query)
    assert response.status_code == 200
    assert response.context["page"].rows
    # No SELECT DISTINCT: a page is read in rank order straight off the (run, rank) index.
    scores = [q["sql"] for q in captured.captured_queries if 'FROM "scoring_score"' in q["sql"]]
    assert scores and not [sql for sql in scores if re.search(r"SELECT DISTINCT (?!ON)", sql)]


# --- Language -------------------------------------------------------------------------------


def _assert_dutch(html: str) -> None:
    assert '<html lang="nl">' in html
    rows = table_rows(html, "ranked-table")
    assert rows[0][1] == "rood"  # the band chip in words
    assert rows[0][2] == "99,2"  # a decimal comma
    assert rows[0][4] == "Antwerpen" and rows[1][4] == "Halle-Vilvoorde"
    assert rows[0][5] == "minder dan 10 werknemers"
    assert rows[0][6] == "loon per VTE 38 % onder de mediaan van de sector"
    assert "1 oktober 2026" in html  # "scores as of", in the Dutch date format
    assert ">Overzicht</a>" in html and "Afmelden" in html
    assert '<option value="cleaning" selected>Schoonmaak</option>' in html


def test_the_list_in_dutch_from_the_browser_language(ranked, logged_in) -> None:
    response = logged_in.get(LIST, HTTP_ACCEPT_LANGUAGE="nl-BE,nl;q=0.9,en;q=0.5")
    _assert_dutch(response.content.decode())


def test_the_list_in_dutch_after_choosing_the_language(ranked, logged_in) -> None:
    chosen = logged_in.post(reverse("set_language"), {"language": "nl", "next": LIST})
    assert chosen.status_code == 302
    response = logged_in.get(LIST, HTTP_ACCEPT_LANGUAGE="fr")  # the choice wins over the browser
    _assert_dutch(response.content.decode())


def test_the_workspace_headings_are_translated(ranked, logged_in) -> None:
    html = logged_in.get(LIST, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "<h1>Ranked lists</h1>" not in html
    assert ">Strongest reason</th>" not in html
    assert "<h1>Gerangschikte lijsten</h1>" in html
    assert ">Belangrijkste reden</th>" in html


def test_the_filter_form_is_rendered_once_per_query_and_language(ranked, logged_in) -> None:
    """The rendered form is cached (its widgets were 40 % of the page's CPU): the second
    request of the same filters reads no reference data for it, and shows the same form;
    another language or other filters get their own."""
    query = {"sector": SECTOR, "offence": OFFENCE, "region": "BE2"}
    with CaptureQueriesContext(connection) as first:
        one = logged_in.get(LIST, query).content.decode()
    with CaptureQueriesContext(connection) as second:
        two = logged_in.get(LIST, query).content.decode()
    assert len(second) < len(first)
    form = re.compile(r'<form id="list-filters".*?</form>', re.S)
    assert form.search(one).group(0) == form.search(two).group(0)
    assert 'value="BE2" selected' in form.search(two).group(0)
    other = logged_in.get(LIST, {**query, "region": "BE1"}).content.decode()
    assert 'value="BE1" selected' in form.search(other).group(0)
    dutch = logged_in.get(LIST, query, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert form.search(dutch).group(0) != form.search(two).group(0)


def test_a_name_search_in_a_region_counts_the_matches_there_only(logged_in) -> None:
    publish_run(30, names=NAMES)  # "jans": ranks 3 (Liège), 17 and 20 (Halle-Vilvoorde)

    walloon = logged_in.get(LIST, {"q": "jans", "region": "BE3"})
    flemish = logged_in.get(LIST, {"q": "jans", "subregion": "BE241"})

    assert ranks_shown(walloon) == [3] and walloon.context["matching"] == 1
    assert ranks_shown(flemish) == [17, 20] and flemish.context["matching"] == 2


def test_the_forms_reference_rows_are_read_once_a_minute(logged_in, django_assert_num_queries) -> None:
    publish_run(10)
    query = {"sector": SECTOR, "offence": OFFENCE, "page": "last"}
    logged_in.get(LIST, query)
    # A new query (nothing rendered for it yet): its page reads no sector, offence type,
    # region or sub-region list again, only the two it checks.
    with django_assert_num_queries(11):
        response = logged_in.get(LIST, {**query, "legal_form": "NV"})
    assert 'value="construction"' in response.content.decode()
