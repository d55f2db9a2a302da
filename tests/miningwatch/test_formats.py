"""Dates in the reader's language, day first in English too (Belgium, not the United States)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation
from django.utils.formats import date_format


@pytest.mark.parametrize(
    ("language", "short", "long"),
    [
        ("en", "01/12/2026", "1 December 2026"),
        ("nl", "1-12-2026", "1 december 2026"),
        ("fr", "01/12/2026", "1 décembre 2026"),
    ],
)
def test_dates_are_written_day_first(language: str, short: str, long: str) -> None:
    with translation.override(language):
        assert date_format(dt.date(2026, 12, 1), "SHORT_DATE_FORMAT") == short
        assert date_format(dt.date(2026, 12, 1)) == long
