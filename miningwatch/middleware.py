"""Requests that no page of MiningWatch can answer sensibly, refused before any view runs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found


class NulCharacterRefusedMiddleware:
    """A NUL character in a query-string parameter (name or value) gets a 400.

    PostgreSQL cannot store or compare text holding one: psycopg2 raises ValueError as
    soon as such a value reaches a query, wherever that is (a list filter, the admin's
    changelist filters, a lookup). No filter value holds one, so it is refused once,
    here, with one message, instead of in every filter. Forms that are posted keep their
    own message under the field (Django's fields refuse NUL characters)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _holds_nul(request.GET):
            return HttpResponseBadRequest(
                _("The request holds a NUL character, which no field accepts. Nothing was changed."),
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


def _holds_nul(data: QueryDict) -> bool:
    return any("\x00" in name or any("\x00" in value for value in values) for name, values in data.lists())


class FriendlyNotFoundMiddleware:
    """A view's 404 (an employer, inspection or note that does not exist or lies outside
    the user's regions) gets templates/404.html, with DEBUG on as well.

    With DEBUG on, Django answers a view's Http404 with its technical page, which lists the
    URL patterns: an inspector following a stale link on a development or demo server
    would read that as a crash. A view's 404 is what users meet, not what developers
    debug, so it is answered here, for every view at once, rather than caught in each.
    Addresses that match no URL pattern never reach a view (nor process_exception): with
    DEBUG on they keep the technical page, which is what a developer wants to see for a
    mistyped route. The REST API's views answer their own 404s in JSON (DRF)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            return page_not_found(request, exception)  # Django's own handler404, with our template
        return None
