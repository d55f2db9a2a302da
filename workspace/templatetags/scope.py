"""What the pages say about the user's scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.utils.text import get_text_list
from django.utils.translation import pgettext

from inspections.models import InspectorScope
from inspections.selectors import scope_places

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

register = template.Library()


@register.filter
def has_empty_scope(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user's scope names no region, so that every list is empty (the codes
    are kept on the user: no query once a page has read through visible_to)."""
    return user.is_authenticated and InspectorScope.is_empty_for(user)


@register.simple_tag
def scope_in_words(user: AbstractBaseUser | AnonymousUser) -> str:
    """The places a limited user's scope names, as one phrase ("Antwerp, Liège and
    Walloon Region"); empty for a user who is not limited, or whose scope names none
    (_empty_scope.html speaks to them)."""
    places = scope_places(user=user)
    return get_text_list(places, pgettext("the last two of a list", "and")) if places else ""
