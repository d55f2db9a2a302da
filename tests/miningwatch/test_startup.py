"""Bad settings and an unreachable database give one clear line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


def test_the_settings_start_no_server_and_say_what_is_missing(tmp_path) -> None:
    """Only the entry points (manage.py, bin/test) start embedded servers; a process that
    imports the settings without the URLs (a worker, gunicorn) stops with one line."""
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="miningwatch.settings", MININGWATCH_VAR_DIR=str(tmp_path), DEBUG="1")
    code = (
        "from django.core.exceptions import ImproperlyConfigured\n"
        "try:\n    from miningwatch import settings\nexcept ImproperlyConfigured as exc:\n    print(exc)"
    )

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.stdout.startswith("DATABASE_URL is not set: export DATABASE_URL=postgres://"), result
    assert list(tmp_path.iterdir()) == []  # no embedded server was started


def test_manage_py_sets_the_embedded_urls_only_for_what_is_unset(monkeypatch) -> None:
    from miningwatch import embedded

    monkeypatch.setenv("DATABASE_URL", "postgres://root@127.0.0.1:5432/kept")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(embedded, "embedded_redis_url", lambda var_dir: "redis+socket:///tmp/embedded.sock")
    monkeypatch.setattr(embedded, "embedded_postgres_url", lambda var_dir: pytest.fail("PostgreSQL was set"))

    assert embedded.urls_ensure() == {"REDIS_URL": "redis+socket:///tmp/embedded.sock"}
    assert os.environ["REDIS_URL"] == "redis+socket:///tmp/embedded.sock"
    assert os.environ["DATABASE_URL"] == "postgres://root@127.0.0.1:5432/kept"
