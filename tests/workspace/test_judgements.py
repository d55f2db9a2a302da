"""Inspectors say whether a score and its reasons matched what they saw; the task force reads it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scoring.features.registry import FEATURES
from tests.factories import InspectionFactory
from tests.workspace.support import OFFENCE, SECTOR
from workspace.models import ScoreJudgement

pytestmark = pytest.mark.django_db


def judge_url(employer, offence: str = OFFENCE) -> str:
    return reverse("workspace:judgement_record", args=[employer.enterprise_number, offence])


def test_an_inspector_judges_a_score_from_the_employer_page(ranked, logged_in, inspector) -> None:
    employer = ranked.employer(2)
    page = logged_in.get(reverse("workspace:employer_detail", args=[employer.enterprise_number])).content.decode()
    assert f'action="{judge_url(employer)}"' in page

    response = logged_in.post(judge_url(employer), {"verdict": "disagree", "comment": "Wages were fine."}, follow=True)

    assert "your judgement of the" in response.content.decode()
    judgement = ScoreJudgement.objects.get()
    assert (judgement.author, judgement.employer, judgement.offence_type_id) == (inspector, employer, OFFENCE)
    assert judgement.model_version_id == ranked.run.model_version_id and judgement.inspection is None
    assert (judgement.band, judgement.reasons) == (
        ranked.by_rank(2).band,
        ["wage_per_fte_vs_sector", "part_time_share"],
    )
    assert (judgement.verdict, judgement.comment) == ("disagree", "Wages were fine.")
    # Sent again, the same judgement changes; the page shows it chosen.
    logged_in.post(judge_url(employer), {"verdict": "agree", "comment": ""})
    assert ScoreJudgement.objects.get().verdict == "agree"
    page = logged_in.get(reverse("workspace:employer_detail", args=[employer.enterprise_number])).content.decode()
    assert 'value="agree" checked' in page


def test_a_judgement_on_an_outcome_is_kept_apart(ranked, logged_in, inspector) -> None:
    employer = ranked.employer(1)
    inspection = InspectionFactory(employer=employer, inspector=inspector, status="completed")
    outcome = reverse("workspace:inspection_outcome", args=[inspection.reference])
    assert f'name="inspection" value="{inspection.reference}"' in logged_in.get(outcome).content.decode()

    logged_in.post(judge_url(employer), {"verdict": "agree"})
    response = logged_in.post(judge_url(employer), {"verdict": "cannot_tell", "inspection": inspection.reference})

    assert response.status_code == 302 and response.url == outcome
    assert sorted(ScoreJudgement.objects.values_list("verdict", "inspection")) == [
        ("agree", None),
        ("cannot_tell", inspection.pk),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"verdict": "maybe"}, "Choose agree, disagree or cannot tell."),
        ({}, "Choose agree, disagree or cannot tell."),
        ({"verdict": "agree", "comment": "x" * 2001}, "A comment holds at most 2000 characters; this one has 2001."),
        ({"verdict": "agree", "comment": "a\x00b"}, "The text holds a character that cannot be stored."),
    ],
)
def test_bad_judgements_are_refused_in_words(ranked, logged_in, data, message) -> None:
    response = logged_in.post(judge_url(ranked.employer(1)), data, follow=True)

    assert message in response.content.decode()
    assert not ScoreJudgement.objects.exists()


def test_no_score_another_employers_inspection_or_another_region_is_refused(
    ranked, logged_in, client, walloon_inspector
) -> None:
    employer, other = ranked.employer(1), ranked.employer(2)
    assert logged_in.post(judge_url(employer, "undeclared_work"), {"verdict": "agree"}).status_code == 404
    foreign = InspectionFactory(employer=other)
    assert logged_in.post(judge_url(employer), {"verdict": "agree", "inspection": foreign.reference}).status_code == 404
    client.force_login(walloon_inspector)
    flemish = next(score.employer for score in ranked.scores if score.employer.subregion.region_id != "BE3")
    assert client.post(judge_url(flemish), {"verdict": "agree"}).status_code == 404
    assert not ScoreJudgement.objects.exists()


def test_the_task_force_reads_the_judgements_per_model_and_reason(ranked, client, task_force, inspector, colleague):
    from workspace import services

    for author, rank, verdict in [(inspector, 1, "agree"), (colleague, 1, "disagree"), (inspector, 2, "agree")]:
        score = ranked.by_rank(rank)
        services.score_judgement_record(score=score, author=author, verdict=verdict, comment="")
    client.force_login(task_force)

    html = client.get(reverse("workspace:judgements")).content.decode()

    version = ranked.run.model_version_id
    cells = f'<td>{SECTOR}</td><td>{OFFENCE}</td><td class="num">{version}</td>'
    assert f'{cells}<td class="num">2</td><td class="num">1</td><td class="num">0</td><td class="num">3</td>' in html
    label = FEATURES["wage_per_fte_vs_sector"].label
    reason_row = f'{cells}<td>{label}</td><td class="num">2</td><td class="num">1</td><td class="num">0</td>'
    assert reason_row in html


def test_inspectors_do_not_see_the_summary(logged_in) -> None:
    assert logged_in.get(reverse("workspace:judgements")).status_code == 403
