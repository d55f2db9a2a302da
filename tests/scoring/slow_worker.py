"""The Celery application for the kill test: miningwatch's, with scoring runs slowed down.

`celery -A tests.scoring.slow_worker worker` runs the real tasks; only its pool processes
read the features in small chunks and pause after each one, so that a test can kill the
worker while a run is surely half-way. Nothing of this is in the production code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from celery.signals import worker_process_init

from miningwatch.celery import app

__all__ = ["app"]

CHUNK_ROWS = int(os.environ.get("SLOW_WORKER_CHUNK_ROWS", "100"))
PAUSE_SECONDS = float(os.environ.get("SLOW_WORKER_PAUSE_SECONDS", "0.2"))


@worker_process_init.connect
def _runs_slow_down(**kwargs: Any) -> None:
    from scoring.services import runs

    original = runs.features_read

    def slow_features_read(**arguments: Any) -> Iterator[Any]:
        for chunk in original(**{**arguments, "chunk_rows": CHUNK_ROWS}):
            time.sleep(PAUSE_SECONDS)
            yield chunk

    runs.features_read = slow_features_read
