"""Logging in through the login page, as a person does."""

from __future__ import annotations

PASSWORD = "correct horse battery staple"


def login(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("nav")
