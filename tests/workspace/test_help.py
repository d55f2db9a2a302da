"""What the bands mean: the legend beside the lists and the employer page (from each model
version's cut-offs), and the help page they link to."""

from __future__ import annotations

from django.urls import reverse

from tests.workspace.support import publish_run, text
from workspace.selectors import band_shares

HELP = reverse("workspace:help")
LIST = reverse("workspace:ranked_list")
DEFAULT_LEGEND = "red top 5 % · orange next 10 % · green next 25 % · blue the other 60 %"


def _legend(html: str) -> str:
    start = html.index('class="band-legend')
    return text(html[html.index(">", start) + 1 : html.index("</p>", start)])


def test_band_shares_follow_the_cutoffs() -> None:
    assert [(s.start, s.share) for s in band_shares(cutoffs=None)] == [(0, 5), (5, 10), (15, 25), (40, 60)]
    custom = band_shares(cutoffs={"red": 0.1, "orange": 0.2, "green": 0.5})
    assert [s.share for s in custom] == [10, 10, 30, 50]


def test_the_ranked_list_explains_its_bands(ranked, logged_in) -> None:
    html = logged_in.get(LIST).content.decode()
    assert DEFAULT_LEGEND in _legend(html)
    assert f'href="{HELP}"' in html


def test_the_legend_gives_the_model_versions_own_cutoffs(logged_in) -> None:
    published = publish_run(20, offence="undeclared_work")
    published.run.model_version.band_cutoffs = {"red": 0.1, "orange": 0.2, "green": 0.5}
    published.run.model_version.save(update_fields=["band_cutoffs"])
    html = logged_in.get(LIST, {"offence": "undeclared_work"}).content.decode()
    assert "red top 10 % · orange next 10 % · green next 30 % · blue the other 50 %" in _legend(html)


def test_the_employer_page_explains_its_bands(ranked, logged_in) -> None:
    html = logged_in.get(reverse("workspace:employer_detail", args=[ranked.employer(1).enterprise_number])).content
    html = html.decode()
    assert DEFAULT_LEGEND in _legend(html)
    assert f'href="{HELP}"' in html


def test_the_home_page_says_why_the_offences_counts_look_alike(ranked, logged_in) -> None:
    html = logged_in.get(reverse("home")).content.decode()
    assert "every offence type of a sector has about as many employers in each band" in html
    assert f'href="{HELP}"' in html  # in the navigation and the caption


def test_the_help_page_says_what_bands_percentiles_and_scores_are(logged_in) -> None:
    response = logged_in.get(HELP)
    assert response.status_code == 200
    page = text(response.content.decode())
    for words in (
        "red the top 5 % of the ranking",
        "orange the next 10 % (after the first 5 %)",
        "green the next 25 % (after the first 15 %)",
        "blue the other 60 %",
        "share of the sector's employers scored lower",
        "Every night it is trained again",
        "tested on a later period",
        "their date and the latest quarter of declarations",
        "A score proves nothing",
        "An inspector decides",
    ):
        assert words in page, words
