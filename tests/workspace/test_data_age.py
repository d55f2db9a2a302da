"""The lists and the employer page say how old the data behind their scores are."""

from __future__ import annotations

import datetime as dt
import re

from django.urls import reverse
from django.utils.formats import date_format

from scoring.models import ScoringRun
from tests.workspace.support import text

LIST = reverse("workspace:ranked_list")


def _run_info(html: str) -> str:
    match = re.search(r'<p class="muted run-info">(.*?)<a ', html, re.S)
    assert match, "no run information above the list"
    return text(match.group(1))


def _model_cell(html: str) -> str:
    risk = html.split('id="risk-title"')[1].split("</section>")[0]
    return text(re.findall(r'<td class="muted">(.*?)</td>', risk, re.S)[-1])  # the "Model" cell


def test_the_list_says_which_quarter_its_scores_rest_on(ranked, logged_in) -> None:
    ScoringRun.objects.filter(pk=ranked.run.pk).update(as_of=dt.date(2026, 7, 15), data_quarter=dt.date(2026, 4, 1))

    html = logged_in.get(LIST).content.decode()

    assert _run_info(html) == (
        f"Scores as of {date_format(dt.date(2026, 7, 15))}, from declarations up to the quarter 2026-04 to "
        f"2026-06; model version {ranked.run.model_version_id}."
    )


def test_the_employer_page_says_it_too(ranked, logged_in) -> None:
    employer = ranked.employer(1)

    html = logged_in.get(reverse("workspace:employer_detail", args=[employer.enterprise_number])).content.decode()

    as_of = date_format(dt.date(2026, 10, 1), "SHORT_DATE_FORMAT")
    assert _model_cell(html) == (
        f"version {ranked.run.model_version_id}, scores as of {as_of}, from declarations up to the quarter 2026-07 to "
        "2026-09"
    )


def test_in_dutch_and_french(ranked, logged_in) -> None:
    version = ranked.run.model_version_id

    dutch = _run_info(logged_in.get(LIST, HTTP_ACCEPT_LANGUAGE="nl").content.decode())
    french = _run_info(logged_in.get(LIST, HTTP_ACCEPT_LANGUAGE="fr").content.decode())

    assert dutch == (
        f"Scores op 1 oktober 2026, uit aangiften tot en met het kwartaal 2026-07 tot 2026-09; modelversie {version}."
    )
    assert french == (
        f"Scores au 1 octobre 2026, sur les déclarations jusqu'au trimestre 2026-07 à 2026-09 ; "
        f"version du modèle {version}."
    )


def test_a_run_published_before_runs_recorded_their_data_says_only_its_date(ranked, logged_in) -> None:
    ScoringRun.objects.filter(pk=ranked.run.pk).update(data_quarter=None)

    html = logged_in.get(LIST).content.decode()

    assert (
        _run_info(html)
        == f"Scores as of {date_format(dt.date(2026, 10, 1))}, model version {ranked.run.model_version_id}."
    )
