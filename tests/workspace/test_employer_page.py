"""The employer page: identity, scores per offence in words, declarations (chart and table), inspections."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import DeclarationFactory, InspectionFactory, NoteFactory, ScoreFactory, ScoringRunFactory
from tests.workspace.support import inspect, publish_run, table_rows


def page_url(employer) -> str:
    return reverse("workspace:employer_detail", args=[employer.enterprise_number])


def test_identity_scores_per_offence_declarations_and_inspections(ranked, logged_in) -> None:
    employer = ranked.employer(2)  # red in bogus self-employment, Halle-Vilvoorde, NV
    other_offence = ScoringRunFactory(
        model_version__sector_id="cleaning", model_version__offence_type_id="part_time_abuse"
    )
    ScoreFactory(
        run=other_offence,
        employer=employer,
        rank=40,
        percentile=35.5,
        band=4,
        reason_1="part_time_share",
        reason_1_value=0.8,
        reason_2="",
    )
    for quarter, headcount, layoff in [(dt.date(2025, 10, 1), 12, 0), (dt.date(2026, 1, 1), 14, 30)]:
        DeclarationFactory(
            employer=employer,
            quarter=quarter,
            headcount=headcount,
            fte=Decimal("9.75"),
            part_time_share=Decimal("0.430"),
            temporary_unemployment_days=layoff,
        )
    inspect(employer, dt.date(2026, 3, 2), found=True, offence="bogus_self_employment")
    InspectionFactory(
        employer=employer,
        reference="PLAN-1",
        status="planned",
        visit_date=None,
        planned_date=dt.date(2026, 12, 1),
        origin="complaint",
    )

    response = logged_in.get(page_url(employer))

    assert response.status_code == 200
    html = response.content.decode()
    # Identity
    number = employer.enterprise_number
    assert f"<h1>{employer.name}</h1>" in html
    assert f"{number[:4]}.{number[4:7]}.{number[7:]}" in html
    assert "Public limited company (NV/SA)" in html
    assert "81.210" in html and "1800 Vilvoorde, Halle-Vilvoorde (Flemish Region)" in re.sub(r"\s+", " ", html)
    # Scores per offence: band in words, percentile, rank, reasons in words, the model version
    risk = html.split('id="risk-title"')[1].split("</section>")[0]
    rows = table_rows(risk.replace("<table", '<table id="risk"', 1), "risk")
    assert rows[0][:4] == ["Bogus self-employment", "red", "98.3", "2"]
    assert "wage per FTE 38 % below the sector median" in rows[0][4]
    assert "60 % of the workers part-time" in rows[0][4]
    assert rows[0][5].startswith(f"version {ranked.run.model_version_id}, scores as of")
    assert rows[1][:4] == ["Abuse of part-time working schemes", "blue", "35.5", "40"]
    assert rows[1][4] == "80 % of the workers part-time"
    assert rows[1][5].startswith(f"version {other_offence.model_version_id},")
    # Declarations: the chart's data and the same figures as a table
    chart = json.loads(
        re.search(r'<script id="declaration-data" type="application/json">(.*?)</script>', html).group(1)
    )
    assert chart == {
        "quarters": ["2025-Q4", "2026-Q1"],
        "headcount": [12, 14],
        "fte": [9.75, 9.75],
        "part_time_percent": [43.0, 43.0],
        "layoff_days": [0, 30],
    }
    assert table_rows(html, "declaration-table")[1][:5] == ["2026-Q1", "14", "9.8", "43 %", "30"]
    assert "data-labels=" in html and "Temporary-unemployment days" in html
    # Inspections, newest first, with their findings
    history = html.split('id="inspections-title"')[1].split("</section>")[0]
    history = re.sub(r"\s+", " ", history)
    assert history.index("PLAN-1") < history.index("INS-")
    assert "Complaint" in history and "Planned" in history
    assert 'Bogus self-employment: <strong class="found">found</strong>, 2 workers regularised, € 1,234' in history


def test_employer_without_scores_declarations_or_inspections(logged_in) -> None:
    employer = publish_run(1).employer(1)
    employer.scores.all().delete()
    html = logged_in.get(page_url(employer)).content.decode()
    assert "No published score for this employer" in html
    assert "No declarations." in html and "declaration-data" not in html
    assert "Never inspected." in html
    assert "No notes yet." in html


def test_only_published_scores_are_shown(ranked, logged_in) -> None:
    employer = ranked.employer(5)
    failed = ScoringRunFactory(model_version=ranked.run.model_version, status="failed")
    ScoreFactory(run=failed, employer=employer, rank=999, band=4, percentile=1.0)
    response = logged_in.get(page_url(employer))
    assert [score.run_id for score in response.context["scores"]] == [ranked.run.pk]


@pytest.mark.parametrize("number", ["0000000000", "123", "not-a-number", "0300000000%", "..", "<script>"])
def test_unknown_enterprise_numbers_are_not_found(ranked, logged_in, number) -> None:
    response = logged_in.get(
        reverse("workspace:employer_detail", args=["0000000000"]).replace("/0000000000/", f"/{number}/")
    )
    assert response.status_code == 404


def test_employer_names_and_notes_are_escaped_on_the_page(logged_in, colleague) -> None:
    published = publish_run(4, names={1: "<b>Bold</b> & <script>alert(1)</script>", 4: "<i>Neighbour</i>"})
    employer = published.employer(1)
    NoteFactory(employer=employer, author=colleague, text="<script>alert('note')</script>\nline two")
    NoteFactory(employer=published.employer(4), author=colleague, text="<img src=x onerror=alert(3)>")  # same place
    html = logged_in.get(page_url(employer)).content.decode()
    assert "<script>alert" not in html and "<b>Bold</b>" not in html and "<img src=x" not in html
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;note&#x27;)&lt;/script&gt;<br>line two" in html
    assert "&lt;i&gt;Neighbour&lt;/i&gt;" in html and "&lt;img src=x onerror=alert(3)&gt;" in html


@pytest.mark.parametrize("n", [1, 12])
def test_employer_page_queries_do_not_grow_with_notes_and_inspections(
    ranked, logged_in, colleague, django_assert_num_queries, n
) -> None:
    employer = ranked.employer(1)
    neighbour = ranked.employer(4)  # same sub-region
    for i in range(n):
        DeclarationFactory(employer=employer, quarter=dt.date(2020 + i // 4, 1 + 3 * (i % 4), 1))
        inspect(employer, dt.date(2024, 1, 1) + dt.timedelta(days=30 * i), found=i % 2 == 0)
        NoteFactory(employer=employer, author=colleague)
        NoteFactory(employer=neighbour, author=colleague)
        ScoreFactory(
            run=ScoringRunFactory(model_version=ranked.run.model_version), employer=neighbour, rank=1
        )  # other runs' scores
    # user (the session is cached), scope (once: kept on the user), employer, declarations,
    # whether it is on the user's worklist (blinding), scores, the user's judgements of them,
    # open target, inspections, their findings, the findings' offence types, notes, notes
    # nearby, and the user's and their groups' permissions (the note form, the judgement
    # forms and the target button show only for those who may use them)
    with django_assert_num_queries(15):
        response = logged_in.get(page_url(employer))
    assert response.status_code == 200
    assert len(response.context["notes"]) == n


@pytest.mark.parametrize(
    ("language", "above", "green"),
    [
        ("en", "45 % of hires on short contracts, above the sector median of 10 %", "reasons are given for the red"),
        ("nl", "boven de mediaan van de sector (10 %)", "redenen worden gegeven voor rood en oranje"),
        ("fr", "au-dessus de la médiane du secteur (10 %)", "des raisons sont données pour le rouge"),
    ],
)
def test_reasons_show_their_direction_and_the_sector_median(logged_in, language, above, green) -> None:
    """Red and orange employers' reasons (stored with the sector median, registry.reason_key)
    read with their comparison; a green or blue score says that reasons are for red and orange."""
    employer = publish_run(1).employer(1)
    employer.scores.all().delete()
    red_run = ScoringRunFactory(model_version__offence_type_id="undeclared_work")
    green_run = ScoringRunFactory(model_version__offence_type_id="part_time_abuse")
    ScoreFactory(
        run=red_run,
        employer=employer,
        rank=3,
        band=1,
        percentile=99.0,
        reason_1="short_contract_share@0.1",
        reason_1_value=0.45,
        reason_2="company_years@12",
        reason_2_value=1.5,
    )
    ScoreFactory(run=green_run, employer=employer, rank=900, band=3, percentile=40.0, reason_1="", reason_1_value=None)

    html = logged_in.get(page_url(employer), HTTP_ACCEPT_LANGUAGE=language).content.decode()

    risk = re.sub(r"\s+", " ", html.split('id="risk-title"')[1].split("</section>")[0])
    assert above in risk and green in risk
    if language == "en":
        assert "in business for 1.5 years, below the sector median of 12.0" in risk
        assert "Reasons are given for the red and orange bands" in risk
