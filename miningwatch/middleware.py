"""Requests that no page of MiningWatch can answer sensibly, refused before any view runs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.utils.translation import gettext as _


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
