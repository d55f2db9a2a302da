"""Risk profiles: the task force writes them, inspectors comment; the model's strongest features in words."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scoring.models import ModelVersion
from tests.factories import ModelVersionFactory
from workspace.models import RiskProfile, RiskProfileComment

URL = reverse("workspace:risk_profile", args=["cleaning", "bogus_self_employment"])


def test_the_overview_lists_every_sector_and_offence(logged_in) -> None:
    RiskProfile.objects.create(sector_id="cleaning", offence_type_id="undeclared_work", patterns="Cash at night")
    response = logged_in.get(reverse("workspace:risk_profiles"))
    html = response.content.decode()
    assert response.status_code == 200
    for sector in ("construction", "cleaning", "hospitality"):
        for offence in ("undeclared_work", "part_time_abuse", "bogus_self_employment", "temporary_layoff_fraud"):
            assert reverse("workspace:risk_profile", args=[sector, offence]) in html
    assert html.count(">Read</a>") == 1


def test_the_task_force_edits_a_profile(client, task_force) -> None:
    client.force_login(task_force)
    page = client.get(URL)
    assert "Edit this profile" in page.content.decode()

    response = client.post(
        URL, {"kind": "profile", "patterns": " Invoices from one client only ", "on_site": "Ask for contracts"}
    )

    assert response.status_code == 302
    profile = RiskProfile.objects.get(sector_id="cleaning", offence_type_id="bogus_self_employment")
    assert (profile.patterns, profile.on_site, profile.updated_by) == (
        "Invoices from one client only",
        "Ask for contracts",
        task_force,
    )
    html = client.get(URL).content.decode()
    assert "Invoices from one client only" in html and "Risk profile saved." in html
    assert "Last edited by taskforce" in html


def test_inspectors_may_not_edit_but_may_comment(client, inspector) -> None:
    client.force_login(inspector)
    assert "Edit this profile" not in client.get(URL).content.decode()

    refused = client.post(URL, {"kind": "profile", "patterns": "Overwritten", "on_site": "x"})
    assert refused.status_code == 403
    assert not RiskProfile.objects.exists()  # reading the page stores nothing; the refusal neither

    response = client.post(URL, {"kind": "comment", "text": "Saw the same van at three sites."})
    assert response.status_code == 302
    comment = RiskProfileComment.objects.get()
    assert (comment.author, comment.text) == (inspector, "Saw the same van at three sites.")
    assert "Saw the same van at three sites." in client.get(URL).content.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Write something first."), ("c" * 100_000, "A note holds at most 5000 characters; this one has 100000.")],
)
def test_refused_comments_store_nothing(logged_in, text, message) -> None:
    response = logged_in.post(URL, {"kind": "comment", "text": text})
    assert response.status_code == 400 and message in response.content.decode()
    assert not RiskProfileComment.objects.exists()


def test_comments_and_profiles_are_escaped(client, task_force) -> None:
    client.force_login(task_force)
    client.post(URL, {"kind": "profile", "patterns": "<script>alert(1)</script>", "on_site": "<b>x</b>"})
    client.post(URL, {"kind": "comment", "text": "<img src=x onerror=alert(2)>"})
    html = client.get(URL).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_the_strongest_features_of_the_active_model_in_plain_words(logged_in) -> None:
    ModelVersionFactory(
        metrics={
            "feature_importance": {  # contributions.importance_of, stored by the training
                "wage_per_fte_vs_sector": 0.3,
                "part_time_share": 0.15,
                "headcount": 0.05,
                "hours_per_fte": 0.0,
            }
        }
    )
    ModelVersionFactory(status="retired", metrics={"feature_importance": {"fte_per_worker": 9.0}})

    response = logged_in.get(URL)

    strongest = response.context["strongest"].features
    assert [f.name for f in strongest] == ["wage_per_fte_vs_sector", "part_time_share", "headcount"]
    assert [f.percent for f in strongest] == [60, 30, 10]
    html = response.content.decode()
    assert "<li>wage per FTE against the sector: 60 %</li>" in html
    assert "<li>part-time share: 30 %</li>" in html
    assert "where they raise them" in html
    assert "FTE per worker" not in html  # the retired model's
    assert "declared hours per FTE" not in html  # raises no score: says nothing


def test_a_model_trained_before_importance_was_stored_says_so(logged_in) -> None:
    ModelVersionFactory(metrics={"explainer_weights": {"headcount": 1.0}})  # an older version's metrics

    response = logged_in.get(URL)

    assert response.context["strongest"].features == []
    html = response.content.decode()
    assert "The active model does not say what raises its scores" in html
    assert "No active model yet." not in html and "headcount" not in html


def test_no_active_model(logged_in) -> None:
    ModelVersionFactory(status="candidate", metrics={"feature_importance": {"headcount": 1.0}})
    assert "No active model yet." in logged_in.get(URL).content.decode()
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize(("sector", "offence"), [("mining", "undeclared_work"), ("cleaning", "theft")])
def test_unknown_profiles_are_not_found(logged_in, sector, offence) -> None:
    assert logged_in.get(reverse("workspace:risk_profile", args=[sector, offence])).status_code == 404
    assert not RiskProfile.objects.exists()


def test_a_profile_too_long_is_refused_with_a_message(client, task_force) -> None:
    client.force_login(task_force)
    response = client.post(URL, {"kind": "profile", "patterns": "p" * 20_001, "on_site": "ok"})
    assert response.status_code == 400
    assert "Ensure this value has at most 20000 characters (it has 20001)." in response.content.decode()
    assert not RiskProfile.objects.exists()  # nothing stored
