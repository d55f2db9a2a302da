"""A person logs in, sees the data per sector and region, and switches to Dutch and French."""

from __future__ import annotations

import pytest

from tests.factories import EmployerFactory, UserFactory

# serialized_rollback: the flush after a transactional test would drop the reference data.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_login_home_and_language_switch(live_server_url: str, browser_page) -> None:
    EmployerFactory.create_batch(2)
    UserFactory(username="ines", password="correct horse battery staple")
    page = browser_page
    page.goto(live_server_url + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "ines")
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    page.fill("#id_username", "ines")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_selector("#sector-region-counts")
    assert "Active employers per sector and region" in page.inner_text("h1")
    assert "2 active employers" in page.inner_text("caption")
    page.select_option("#language-select", "nl")
    page.wait_for_selector("html[lang=nl]")
    assert "Actieve werkgevers per sector en gewest" in page.inner_text("h1")
    page.select_option("#language-select", "fr")
    page.wait_for_selector("html[lang=fr]")
    assert "Employeurs actifs par secteur et région" in page.inner_text("h1")
