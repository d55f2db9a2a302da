"""Sending Celery tasks from services: once the transaction commits, and saying so when
Redis cannot be reached (the pages then tell the user that nothing was queued)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

# What the broker or the cache raise when Redis cannot be reached.
QUEUE_ERRORS = (OSError, KombuOperationalError, RedisError)


def task_send_on_commit(
    task: Any,
    *,
    args: list,
    kwargs: dict | None = None,
    queue: str | None = None,
    task_id: str | None = None,
    unsent: Callable[[], None],
) -> None:
    """Send a Celery task once the transaction commits. When Redis cannot be reached,
    `unsent` records that nothing was queued, and the error goes on to the caller."""
    options = {"queue": queue} if queue else {}

    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs or {}, task_id=task_id, **options)
        except QUEUE_ERRORS:
            unsent()
            raise

    transaction.on_commit(send)
