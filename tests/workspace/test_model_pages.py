"""The model pages: who sees them, the decisions through them, the history and the rescore state."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from inspections.roles import ANALYST, INSPECTOR, TASK_FORCE
from scoring.models import ModelEventAction, ModelStatus, ModelVersion, RunStatus
from scoring.services.versions import model_event_record
from tests.factories import ModelVersionFactory, ScoringRunFactory, UserFactory
from tests.workspace.support import OFFENCE, SECTOR, text

pytestmark = pytest.mark.django_db

PAIR = reverse("workspace:model_pair", args=[SECTOR, OFFENCE])


def _client(client, role: str, name: str):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client, user


def test_inspectors_do_not_see_the_model_pages(client) -> None:
    browser, _ = _client(client, INSPECTOR, "inspector")
    assert browser.get(reverse("workspace:model_pairs")).status_code == 403
    assert browser.get(PAIR).status_code == 403
    assert "Models" not in text(browser.get(reverse("home")).content.decode())


def test_the_pair_page_shows_versions_with_intervals_and_the_history(client) -> None:
    maker = UserFactory(username="maker")
    metrics = {"roc_auc": 0.71, "intervals": {"roc_auc": [0.65, 0.77]}, "lift": 4.2}
    version = ModelVersionFactory(
        sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE, created_by=maker, metrics=metrics
    )
    model_event_record(version=version, action=ModelEventAction.CREATED, user=maker, note="uploaded")
    browser, _ = _client(client, TASK_FORCE, "lead")

    page = text(browser.get(PAIR).content.decode())

    assert "0.710 (0.650-0.770)" in page
    assert "Approve" in page and "Activate" not in page  # the task force approves; analysts activate
    assert "maker" in page and "uploaded" in page


def test_the_pair_page_gives_the_counts_the_lift_rests_on_and_how_they_were_weighted(client) -> None:
    controls = {"red_hits": 9, "red_rows": 20, "validation_hits": 20, "validation_rows": 200}
    strata = {"red_earlier_hits": 8, "red_earlier_rows": 10, "published_earlier_share": 0.9}
    few = {"red_earlier_hits": 8, "red_earlier_rows": 17, "published_earlier_share": 0.9}  # 3 without
    for controls_stored in (controls, controls | strata, controls | few):
        ModelVersionFactory(
            sector_id=SECTOR,
            offence_type_id=OFFENCE,
            status=ModelStatus.CANDIDATE,
            metrics={"lift": 7.3, "random_controls": controls_stored},
        )
    browser, _ = _client(client, ANALYST, "analyst")

    page = text(browser.get(PAIR).content.decode())

    plain = "9 of 20 random controls in the red band, 20 of 200 in the validation year"
    weighted = (
        "9 of 20 random controls in the red band (8 of 10 with an earlier finding, weighted to their 90 % share of "
        "the red band), 20 of 200 in the validation year"
    )
    not_weighted = "(8 of 17 with an earlier finding: too few in one group to weight them)"
    assert plain in page and weighted in page and not_weighted in page


def test_the_maker_is_not_offered_approval_and_a_post_is_refused(client) -> None:
    browser, analyst = _client(client, ANALYST, "analyst")
    version = ModelVersionFactory(
        sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE, created_by=analyst
    )

    page = browser.get(PAIR).content.decode()
    assert "You made this version" in page
    response = browser.post(reverse("workspace:model_version_decide", args=[version.pk, "approve"]), follow=True)

    assert "Whoever made a version cannot approve it" in text(response.content.decode())
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.CANDIDATE


def test_a_refusal_through_the_page_is_kept_with_its_reason(client) -> None:
    version = ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE)
    browser, analyst = _client(client, ANALYST, "analyst")

    response = browser.post(
        reverse("workspace:model_version_decide", args=[version.pk, "refuse"]), {"note": "Wrong window."}, follow=True
    )

    assert "is refused" in text(response.content.decode())
    event = version.events.get()
    assert (event.action, event.by, event.note) == (ModelEventAction.REFUSED, analyst, "Wrong window.")


def test_an_unknown_decision_is_not_found(client) -> None:
    version = ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE)
    browser, _ = _client(client, ANALYST, "analyst")
    assert browser.post(reverse("workspace:model_version_decide", args=[version.pk, "delete"])).status_code == 404


def test_while_a_rescore_runs_the_page_says_which_version_the_lists_show(client) -> None:
    shown = ScoringRunFactory(model_version=ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE))
    newer = ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.APPROVED)
    ScoringRunFactory(model_version=newer, status=RunStatus.RUNNING, progress=0.4, finished_at=None)
    browser, _ = _client(client, ANALYST, "analyst")

    state = browser.get(reverse("workspace:lists_state", args=[SECTOR, OFFENCE])).content.decode()

    expected = f"The lists still show version {shown.model_version_id} until the rescore with version {newer.pk}"
    assert expected in text(state)
    assert 'hx-trigger="every 2s"' in state and 'value="0.400000"' in state


def test_the_model_card_says_what_the_version_is_and_who_decided(client) -> None:
    maker = UserFactory(username="maker")
    metrics = {
        "roc_auc": 0.71,
        "intervals": {"roc_auc": [0.65, 0.77]},
        "band_hit_rates": {"red": {"rows": 9, "hits": 5}},
    }
    version = ModelVersionFactory(
        sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE, created_by=maker, metrics=metrics
    )
    forged = "uploaded <b>x</b>\n- 2026-12-05 09:00: approved, chief: [ok](javascript:alert(1))"
    model_event_record(version=version, action=ModelEventAction.CREATED, user=maker, note=forged)
    browser, _ = _client(client, ANALYST, "analyst")

    response = browser.get(reverse("workspace:model_card", args=[version.pk]), {"download": "1"})
    card = response.content.decode()

    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"] == f'attachment; filename="model-card-{version.pk}.md"'
    assert f"# Model card: version {version.pk}" in card
    assert "ROC AUC: 0.710 (0.650-0.770)" in card and "Hit rate, red band: 5 of 9" in card
    # A note stays on its own line, with nothing Markdown or HTML would act on.
    assert "made, maker: uploaded \\<b\\>x\\</b\\> \\- 2026\\-12\\-05 09:00: approved" in card
    assert "\\[ok\\]\\(javascript:alert\\(1\\)\\)" in card and "\n- 2026-12-05 09:00: approved" not in card
    assert response["Content-Security-Policy"] == "sandbox"
    assert "**wage per FTE against the sector**" in card
    assert browser.get(reverse("workspace:model_card", args=[999999])).status_code == 404
