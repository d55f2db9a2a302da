"""Test set-up: PostgreSQL (embedded or DATABASE_URL), fixed seeds, shared fixtures."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

# Tests run with DEBUG on (no SECRET_KEY needed) unless the caller says otherwise.
os.environ.setdefault("DEBUG", "1")


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    random.seed(1234)
    np.random.seed(1234)


@pytest.fixture(autouse=True)
def _english(settings) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts without the rendered fragments an earlier one cached (local memory)."""
    from django.core.cache import cache

    from workspace.filters import reference_choices_forget

    cache.clear()
    reference_choices_forget()  # the process's copy of sectors, regions…: a test may change them
