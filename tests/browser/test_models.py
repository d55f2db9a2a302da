"""Four eyes in the browser: an analyst's upload is approved by the task force and activated
by another analyst; the page says which version the lists show until the rescore is done."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from inspections.roles import ANALYST, TASK_FORCE
from scoring.models import ModelEventAction, ModelStatus, ModelVersion
from scoring.services.versions import model_event_record
from tests.browser.support import PASSWORD, login
from tests.factories import UserFactory
from tests.scoring.support import OFFENCE, PASSING, SECTOR, model_file, stored_version
from tests.workspace.support import publish_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _person(role: str, name: str):
    user = UserFactory(username=name, password=PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    return user


def _candidate(maker) -> ModelVersion:
    version = stored_version(model_file(), maker=maker, metrics=PASSING)
    model_event_record(version=version, action=ModelEventAction.CREATED, user=maker, note="uploaded")
    return version


def test_an_upload_goes_live_with_two_people_and_the_page_says_what_the_lists_show(
    live_server_url: str, browser_page
) -> None:
    published = publish_run(30, sector=SECTOR, offence=OFFENCE)
    maker = _person(ANALYST, "maker")
    _person(TASK_FORCE, "lead")
    _person(ANALYST, "ana")
    version = _candidate(maker)
    page = browser_page
    row = f"#version-{version.pk}"

    # The maker is not offered approval of their own version.
    login(page, live_server_url, "maker")
    page.click("nav >> text=Models")
    page.goto(f"{live_server_url}/models/{SECTOR}/{OFFENCE}/")
    assert page.locator(f"{row} >> text=You made this version").count() == 1
    assert page.locator(f"{row} button:has-text('Approve')").count() == 0

    # The task force approves; an analyst who did not make it activates it.
    login(page, live_server_url, "lead")
    page.goto(f"{live_server_url}/models/{SECTOR}/{OFFENCE}/")
    page.fill(f"{row} textarea", "Checked on last year's files.")
    page.click(f"{row} button:has-text('Approve')")
    page.wait_for_selector("text=is approved")
    login(page, live_server_url, "ana")
    page.goto(f"{live_server_url}/models/{SECTOR}/{OFFENCE}/")
    page.click(f"{row} button:has-text('Activate')")
    page.wait_for_selector("text=the lists change once its rescore finishes")

    shown = published.run.model_version_id
    expected = f"The lists still show version {shown} until the rescore with version {version.pk} finishes."
    assert expected in page.inner_text("#lists-state")
    assert page.locator("#lists-state progress").count() == 1
    history = page.inner_text("#model-history")
    assert "approved" in history and "lead" in history and "Checked on last year's files." in history
    assert "activated" in history and "ana" in history
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.ACTIVE
