"""Bad settings and an unreachable database give one clear line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import ROOT


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_unreachable_database_is_one_clear_line() -> None:
    result = _manage("migrate", DATABASE_URL="postgres://root@127.0.0.1:1/nowhere")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("MiningWatch: cannot reach the database")
    assert "127.0.0.1" in lines[0]


def test_missing_secret_key_in_production_is_one_clear_line() -> None:
    result = _manage("check", DEBUG="0", SECRET_KEY="")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "MiningWatch: configuration error: SECRET_KEY is not set: "
        "export SECRET_KEY=<50 random characters> (or DEBUG=1 for development)"
    ]


def test_non_postgres_database_is_refused() -> None:
    result = _manage("check", DATABASE_URL="sqlite:////tmp/x.db")
    assert result.returncode == 2
    assert "PostgreSQL only" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
