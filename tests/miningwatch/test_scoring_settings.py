"""The scoring settings read from the environment: a bad value stops the process in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.processes import ROOT


def _settings_read(value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCORING_MIN_DECLARED_SHARE": value}
    code = "from django.conf import settings; print(settings.SCORING_MIN_DECLARED_SHARE)"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("value", ["half", "1.5", "-0.1", "nan", "50%"])
def test_a_bad_minimum_declared_share_is_one_clear_line(value: str) -> None:
    result = _settings_read(value)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "MiningWatch: configuration error: SCORING_MIN_DECLARED_SHARE must be a share between 0 and 1 "
        f"(e.g. 0.5), not {value!r}"
    ]


@pytest.mark.parametrize(("value", "read"), [("", "0.5"), ("0", "0.0"), ("0.8", "0.8"), ("1", "1.0")])
def test_the_minimum_declared_share_defaults_to_a_half(value: str, read: str) -> None:
    result = _settings_read(value)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == read
