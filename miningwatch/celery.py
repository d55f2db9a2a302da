"""The Celery application: workers and beat run `celery -A miningwatch ...`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")

app = Celery("miningwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
