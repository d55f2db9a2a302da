"""What the pages say about the user's scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template

from inspections.models import InspectorScope

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

register = template.Library()


@register.filter
def has_empty_scope(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user's scope names no region, so that every list is empty (the codes
    are kept on the user: no query once a page has read through visible_to)."""
    return user.is_authenticated and InspectorScope.is_empty_for(user)
