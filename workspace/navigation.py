"""Where a page's links lead back to: the ranked list the user came from, checked."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from django.http import QueryDict
from django.urls import reverse

if TYPE_CHECKING:
    from inspections.models import Employer
    from scoring.models import Score

# Longer than any list's query string; a longer "back" is somebody else's making.
BACK_MAX_CHARS = 2_000


def list_return_url(*, back: str | None, referer: str | None, host: str) -> str | None:
    """The ranked list to return to: from `back` (a path on this site, as the list's links
    send it) or else from the Referer (an address on `host`), if either is the ranked list;
    None otherwise.

    The address is rebuilt from the list's own path and the query string parsed and
    encoded again: whatever was sent, the link can only lead to the ranked list of this
    site, never elsewhere (an open redirect) nor to a script."""
    return _list_url(back, host=None) or _list_url(referer, host=host)


def _list_url(candidate: str | None, *, host: str | None) -> str | None:
    if not candidate or len(candidate) > BACK_MAX_CHARS or not candidate.isprintable():
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:  # "http://[" and the like
        return None
    if host is None and (parts.scheme or parts.netloc):
        return None
    if host is not None and (parts.scheme not in ("http", "https") or parts.netloc != host):
        return None
    path = reverse("workspace:ranked_list")
    if parts.path != path:
        return None
    query = QueryDict(parts.query).urlencode()
    return f"{path}?{query}" if query else path


# Rows of the list shown above the employer's, so that it is seen among its neighbours
# (fewer than a page: selectors.PAGE_SIZE).
ROWS_BEFORE = 5


def list_url_at(*, sector: str, offence: str, rank_shown: int, enterprise_number: str) -> str:
    """The ranked list of (sector, offence) at the page where this employer's row is: the
    keyset page after the rank ROWS_BEFORE above its own (the rank as the user's lists show
    it, see selectors.ListBlinding), and the row's anchor."""
    params: dict[str, str | int] = {"sector": sector, "offence": offence}
    after = rank_shown - 1 - ROWS_BEFORE
    if after > 0:
        params["after"] = after
    return f"{reverse('workspace:ranked_list')}?{urlencode(params)}#employer-{enterprise_number}"


def scores_with_list_urls(*, scores: list[Score], employer: Employer) -> list[Score]:
    """Each score (with `rank_shown`) with `list_url`, its list positioned at the employer."""
    for score in scores:
        score.list_url = list_url_at(
            sector=score.run.sector_id,  # the run's: the list it is ranked in
            offence=score.run.offence_type_id,
            rank_shown=score.rank_shown,
            enterprise_number=employer.enterprise_number,
        )
    return scores
