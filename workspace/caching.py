"""The rendered results of a ranked list (band counts, rows, pager), kept in the shared cache.

Scores change once a night, names and last inspections seldom: most list pages asked for
during a day were rendered for somebody before. The key holds everything the fragment
depends on: the query string, the language, the user's sub-regions (an inspector limited
to some regions never shares a fragment with anybody who sees others), the employers left
out for the user's open worklist inspections (workspace.worklists.ListBlinding), and the stamps of
the published scores and of the employer and inspection data (miningwatch.stamps).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.utils.translation import get_language

from inspections.models import InspectorScope
from miningwatch import stamps

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest

RESULTS_SECONDS = 3600


def results_key(*, request: HttpRequest, blinded: tuple[int, ...]) -> str:
    scope = InspectorScope.subregion_codes_for(request.user)
    parts = (
        sorted(request.GET.lists()),
        get_language(),
        None if scope is None else sorted(scope),
        blinded,
        stamps.stamps_read(stamps.SCORES, stamps.INSPECTIONS),
    )
    return "ranked-results:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def results_cached(
    *, request: HttpRequest, blinded: tuple[int, ...], render: Callable[[], tuple[int, str]]
) -> tuple[int, str]:
    """(status, html) of the list's results: from the cache, or rendered and kept."""
    key = results_key(request=request, blinded=blinded)
    found = cache.get(key)
    if found is not None:
        return found
    rendered = render()
    cache.set(key, rendered, RESULTS_SECONDS)
    return rendered
