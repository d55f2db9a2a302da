"""Headless Chromium (Debian's package) driven by Playwright, against a real gunicorn."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connections

from tests.browser_support import CHROMIUM_ARGS, chromium_path
from tests.processes import gunicorn_server


@pytest.fixture
def live_server_url(transactional_db) -> Iterator[str]:
    with gunicorn_server() as base:
        yield base


@pytest.fixture
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM
    # calls are still synchronous, so Django's async guard would be a false alarm.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    path = chromium_path()
    assert path, "browser tests need a Chromium: run them through bin/test, which deselects them without one"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()
        # With Playwright's event loop running, Django gave the test's ORM calls a database
        # connection of their own: closed here, or the test database could not be dropped
        # at the end of the session ("being accessed by other users").
        connections.close_all()
