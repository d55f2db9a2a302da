"""Turn configuration and connection failures into one clear line.

Operators should read "cannot reach the database at 10.0.0.5:5432: connection
refused", not a 60-line traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"MiningWatch: {message}\n")
    raise SystemExit(2)


def database_check() -> None:
    """Connect once; exit with one line if the configured database is unreachable."""
    from django.db import OperationalError, connection

    try:
        connection.ensure_connection()
    except OperationalError as exc:
        settings = connection.settings_dict
        where = settings.get("HOST") or settings.get("OPTIONS", {}).get("host", "local socket")
        port = f":{settings['PORT']}" if settings.get("PORT") else ""
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        fail(f"cannot reach the database {settings['NAME']!r} at {where}{port}: {reason}")


def run_guarded(main: Callable[[], None]) -> None:
    """Run `main`, reporting bad settings and an unreachable database in one line."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        main()
    except ImproperlyConfigured as exc:
        fail(f"configuration error: {exc}")
    except Exception as exc:  # only database connection errors are rewritten
        from django.db import OperationalError

        if isinstance(exc, OperationalError) and "connect" in str(exc).lower():
            fail(f"cannot reach the database: {str(exc).strip().splitlines()[0]}")
        raise
