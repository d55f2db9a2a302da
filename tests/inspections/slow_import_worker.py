"""The Celery application for the import kill test: miningwatch's, with imports slowed down.

`celery -A tests.inspections.slow_import_worker worker` runs the real tasks; only its pool
processes check the rows in small chunks and pause after each one, so that a test can kill
the worker while an import is surely half-way. Nothing of this is in the production code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from celery.signals import worker_process_init

from miningwatch.celery import app

__all__ = ["app"]

PAUSE_SECONDS = float(os.environ.get("SLOW_WORKER_PAUSE_SECONDS", "0.3"))


@worker_process_init.connect
def _imports_slow_down(**kwargs: Any) -> None:
    from inspections.services.imports import reading

    reading.CHUNK_ROWS = int(os.environ.get("SLOW_WORKER_CHUNK_ROWS", "50"))
    original = reading.csv_chunks

    def slow_chunks(*arguments: Any, **options: Any) -> Iterator[Any]:
        for chunk in original(*arguments, **options):
            yield chunk
            time.sleep(PAUSE_SECONDS)

    reading.csv_chunks = slow_chunks
