"""Change stamps in the shared cache: what was rendered from data carries its stamps in its key.

A part of the data (employers and inspections, published scores) has a stamp, a random
token replaced after each committed change. Pages cached under keys that hold the stamps
are never served after the change: their keys are no longer asked for, and expire.
A stamp lost from the cache (eviction, restart) is simply made anew, which also only
makes new keys.
"""

from __future__ import annotations

from uuid import uuid4

from django.core.cache import cache
from django.db import transaction

_PREFIX = "stamp:"

# Employers and inspections: what the ranked lists show beside the scores (names, last visits).
INSPECTIONS = "inspections"
# Published scoring runs.
SCORES = "scores"


def stamp_bump(name: str) -> None:
    """A new stamp for `name` once the current transaction commits (a rollback changes nothing)."""
    transaction.on_commit(lambda: cache.set(_PREFIX + name, uuid4().hex, timeout=None))


def stamps_read(*names: str) -> list[str]:
    """The current stamps of `names` (one round trip), made where missing."""
    keys = [_PREFIX + name for name in names]
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, uuid4().hex, timeout=None)  # add: two processes agree on one
            found[key] = cache.get(key)
    return [str(found[key]) for key in keys]
