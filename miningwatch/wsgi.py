"""WSGI entry point for gunicorn; refuses to start without its database."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from miningwatch.startup import database_check, run_guarded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")

application = None


def _load() -> None:
    global application
    application = get_wsgi_application()
    database_check()


run_guarded(_load)
