"""The one FilterSet of the ranked list, and what the list does with bad input: a message, never a 500."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django.urls import reverse

from scoring.models import Score, ScoreCount
from tests.workspace.support import OFFENCE, SECTOR, publish_run, ranks_shown
from workspace.filters import RankedListFilter

LIST = reverse("workspace:ranked_list")


def _filtered(data: dict, model) -> object:
    filterset = RankedListFilter({"sector": SECTOR, "offence": OFFENCE, **data}, queryset=model.objects.all())
    assert filterset.is_valid(), filterset.errors
    return filterset.filter_queryset(model.objects.all())


@pytest.mark.parametrize(
    "data",
    [
        {"region": "BE2"},
        {"subregion": "BE332", "band": ["2", "4"]},
        {"size_class": ["3"], "legal_form": "VZW"},
        {"not_inspected": "24", "region": "BE2", "band": ["4"]},
    ],
)
def test_one_filterset_filters_scores_and_counts_alike(ranked, data) -> None:
    scores = _filtered(data, Score).filter(run=ranked.run)
    counts = _filtered(data, ScoreCount).filter(run=ranked.run)
    assert scores.count() == (counts.aggregate(n=Sum("employers"))["n"] or 0)
    assert scores.count() > 0 or data.get("region") == "BE1"


def test_search_narrows_scores_only(ranked) -> None:
    # ScoreCount has no names: the view counts the scores themselves while searching.
    assert _filtered({"q": "nobody by this name"}, Score).count() == 0
    assert _filtered({"q": "nobody by this name"}, ScoreCount).count() == ScoreCount.objects.count()
    filterset = RankedListFilter({"q": "  "}, queryset=Score.objects.all())
    assert filterset.is_valid() and not filterset.searching


def test_subregion_choices_follow_the_region(db) -> None:
    filterset = RankedListFilter({"sector": SECTOR, "offence": OFFENCE, "region": "BE1"})
    assert [s.code for s in filterset.form.fields["subregion"].queryset] == ["BE100"]
    unbound = RankedListFilter()
    assert unbound.form.fields["subregion"].queryset.count() == 44


# (query, a clear message the page shows)
BAD_FILTERS = [
    ({"sector": "xx"}, "Sector: Select a valid choice."),
    ({"offence": "../../etc"}, "Offence type: Select a valid choice."),
    ({"band": "9"}, "Band: Select a valid choice. 9 is not one of the available choices."),
    ({"band": ["1", "0"]}, "Band: Select a valid choice. 0 is not one of the available choices."),
    ({"size_class": "abc"}, "Size: Select a valid choice. abc is not one of the available choices."),
    ({"region": "ZZ"}, "Region: Select a valid choice."),
    ({"subregion": "NOPE"}, "Sub-region: Select a valid choice."),
    ({"legal_form": "LLC"}, "Legal form: Select a valid choice. LLC is not one of the available choices."),
    ({"not_inspected": "5"}, "Not inspected in the last: Select a valid choice. 5 is not one of the available"),
    ({"not_inspected": "-6"}, "Not inspected in the last: Select a valid choice."),
    ({"q": "x" * 101}, "Name or enterprise number: Ensure this value has at most 100 characters (it has 101)."),
]


@pytest.mark.parametrize(("query", "message"), BAD_FILTERS, ids=[repr(q)[:40] for q, _ in BAD_FILTERS])
def test_bad_filters_get_a_clear_message(ranked, logged_in, query, message) -> None:
    response = logged_in.get(LIST, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html.replace("&#x27;", "'")
    assert 'role="alert"' in html
    assert "ranked-table" not in html  # no rows for filters that mean nothing
    assert 'id="list-filters"' in html  # but the form, to correct them

    partial = logged_in.get(LIST, query, HTTP_HX_REQUEST="true")
    # htmx swaps no 4xx response: the partial comes with 200 so that the message shows.
    assert partial.status_code == 200 and message in partial.content.decode().replace("&#x27;", "'")
    assert "ranked-table" not in partial.content.decode()


# (page keys, the ranks shown): bad keys give the first page with a message.
BAD_PAGES = [
    ({"after": "-1"}, list(range(1, 51)), True),
    ({"after": "abc"}, list(range(1, 51)), True),
    ({"after": "1e3"}, list(range(1, 51)), True),
    ({"before": "99999999999999"}, list(range(1, 51)), True),
    ({"after": "²"}, list(range(1, 51)), True),  # isdigit(), yet int() refuses it
    ({"before": "٣"}, list(range(1, 51)), True),  # an Arabic-Indic digit: isdigit() but not ASCII
    ({"after": "999999"}, [], False),  # past the end: an empty page, not an error
    ({"page": "last", "after": "10"}, list(range(71, 121)), False),  # "last" wins
    ({"page": "nonsense"}, list(range(1, 51)), False),
    ({"after": "10", "before": "20"}, list(range(1, 20)), False),  # "before" wins
]


@pytest.mark.parametrize(("query", "ranks", "warned"), BAD_PAGES, ids=[repr(q) for q, _, _ in BAD_PAGES])
def test_bad_page_keys_never_fail(ranked, logged_in, query, ranks, warned) -> None:
    response = logged_in.get(LIST, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert (ranks_shown(response) if ranks else []) == ranks
    if not ranks:
        assert "No employer matches these filters." in html
    assert ("The page asked for does not exist; here is the first page." in html) == warned


def test_search_terms_are_escaped(ranked, logged_in) -> None:
    term = '"><script>alert(1)</script>'
    response = logged_in.get(LIST, {"q": term})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html  # kept in the search box, escaped


def test_employer_names_are_escaped_in_the_list(logged_in) -> None:
    publish_run(3, names={1: "<script>alert('owned')</script> & Co", 2: '<img src=x onerror="alert(2)">'})
    html = logged_in.get(LIST).content.decode()
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt; &amp; Co" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html


def test_anonymous_users_are_sent_to_the_login(ranked, client) -> None:
    for url in [LIST, reverse("workspace:ranked_list_export", args=["csv"]), reverse("workspace:my_targets")]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_sub_region_outside_the_chosen_region_gives_way_to_the_region(ranked, logged_in) -> None:
    """Changing the region sends the old sub-region once more (htmx swaps its options as the
    form goes): the region wins, so the list is never left showing an error or old rows."""
    response = logged_in.get(LIST, {"region": "BE3", "subregion": "BE211"})
    assert response.status_code == 200
    rows = response.context["page"].rows
    assert rows and {row.subregion.region_id for row in rows} == {"BE3"}


def test_a_name_search_sends_its_ids_as_one_array(ranked) -> None:
    scores = _filtered({"q": "employer"}, Score).filter(run=ranked.run)
    sql, params = scores.query.sql_with_params()

    assert "= ANY(" in sql and "::bigint[]" in sql and "inspections_employerword" not in sql
    assert any(isinstance(value, str) and value.startswith("{") for value in params)  # one text parameter
    assert scores.count() == len(ranked.scores)  # every employer is "Employer …"


# Searches with no letter or digit: nothing to look a name up by. Invalid UTF-8 in the
# query string arrives as U+FFFD replacement characters, which are neither.
NO_WORD_SEARCHES = ["%", "_", "-", "&", "'", "\\", "...", "%_-&'\\", "\ufffd\ufffd", "\u202e", "🙂"]
NO_WORD_MESSAGE = "Name or enterprise number: Type at least one letter or digit of a name, or an enterprise number."


@pytest.mark.parametrize("search", NO_WORD_SEARCHES)
def test_a_search_without_a_letter_or_digit_gets_a_message(ranked, logged_in, search) -> None:
    response = logged_in.get(LIST, {"q": search})
    assert response.status_code == 400
    assert NO_WORD_MESSAGE in response.content.decode()
    filterset = RankedListFilter({"sector": SECTOR, "offence": OFFENCE, "q": search}, queryset=Score.objects.all())
    assert not filterset.is_valid() and "q" in filterset.errors


@pytest.mark.parametrize("raw", ["q=%ff%fe", "q=%c3%28", "q=%ed%a0%80", "q=%80", "q=%ff&q=%fe"])
def test_a_search_in_invalid_utf8_gets_a_message(ranked, logged_in, raw) -> None:
    response = logged_in.get(f"{LIST}?{raw}")  # sent as it is: the client does not re-encode it
    assert response.status_code == 400
    assert NO_WORD_MESSAGE in response.content.decode()


def test_a_search_with_a_word_among_the_punctuation_still_searches(ranked, logged_in) -> None:
    response = logged_in.get(LIST, {"q": "...%employer%..."})
    assert response.status_code == 200
    assert len(response.context["page"].rows) == 50


def test_a_name_query_that_can_match_nothing_reads_no_ids(ranked) -> None:
    """The filter refuses such a search first; reading its ids must not fail either."""
    from inspections.models import EmployerWord
    from workspace.filters import _ids_read

    assert _ids_read(EmployerWord.objects.employer_ids("...", sector=SECTOR)).tolist() == []
    assert _ids_read(EmployerWord.objects.none().values_list("employer_id", flat=True)).tolist() == []


NUL_REFUSED = "The request holds a NUL character"  # refused before the view (miningwatch.middleware)
NOT_A_REGION = "Region: Select a valid choice."


@pytest.mark.parametrize(
    ("region", "message"),
    [("\x00", NUL_REFUSED), ("a\x00b", NUL_REFUSED), ("BE2\x00", NUL_REFUSED), ("x" * 10_000, NOT_A_REGION)],
    ids=["nul", "a-nul-b", "BE2-nul", "long"],
)
def test_a_region_that_is_none_gets_a_message(ranked, logged_in, region, message) -> None:
    # A NUL byte reached PostgreSQL through the sub-regions the form narrowed to the region.
    response = logged_in.get(LIST, {"region": region})
    assert response.status_code == 400
    assert message in response.content.decode()


def test_unknown_regions_add_nothing_to_the_process_copy_of_the_reference_rows(db) -> None:
    """Each region sent used to narrow the sub-regions by a query of its own, which the
    process kept: any string, as long as it liked, added an entry for good."""
    from workspace.filters import _REFERENCE_CHOICES

    for region in ("BE2", ""):  # the rows of a region, and of all regions
        RankedListFilter({"sector": SECTOR, "offence": OFFENCE, "region": region})
    kept = len(_REFERENCE_CHOICES)
    for n in range(5):
        RankedListFilter({"sector": SECTOR, "offence": OFFENCE, "region": f"nowhere {n}"})
    assert len(_REFERENCE_CHOICES) == kept


def test_the_not_inspected_filter_offers_no_limit_as_a_choice(ranked, logged_in) -> None:
    html = logged_in.get(LIST).content.decode()
    select = html[html.index('name="not_inspected"') :]
    select = select[: select.index("</select>")]
    assert ">no limit</option>" in select
    assert "any time" not in html
