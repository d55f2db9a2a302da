"""Small pieces of the workspace pages: band chips, reasons, enterprise numbers."""

from __future__ import annotations

import re

from django import template
from django.utils.translation import pgettext

from scoring.features.registry import reason_text
from scoring.models import Band, Score
from workspace.selectors import BandShare

register = template.Library()


@register.inclusion_tag("workspace/_band_chip.html")
def band_chip(band: int) -> dict[str, object]:
    """The band as a coloured chip with its name in words (colour-blind readers, print)."""
    return {"band": int(band), "label": Band(int(band)).label}


@register.inclusion_tag("workspace/_band_legend.html")
def band_legend(shares: list[BandShare], offences: list[str] | None = None) -> dict[str, object]:
    """What each band is, in shares of the ranking (the top 5 % red, ...), with a link to
    the help page: a colour alone says nothing to a newcomer."""
    return {"shares": [(share, Band(share.band).label) for share in shares], "offences": offences or []}


@register.simple_tag
def first_reason(score: Score) -> str:
    reasons = score.reasons()
    return reason_text(*reasons[0]) if reasons else ""


@register.simple_tag
def reasons_list(score: Score) -> list[str]:
    return [reason_text(name, value) for name, value in score.reasons()]


@register.filter
def enterprise_number(value: str) -> str:
    """0403170701 -> 0403.170.701, as on KBO/BCE documents."""
    value = str(value)
    return f"{value[:4]}.{value[4:7]}.{value[7:]}" if len(value) == 10 and value.isdigit() else value


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&])")


@register.filter
def markdown_text(value: object) -> str:
    """Text written by people, as one inert line of Markdown: line breaks become spaces, so
    that a note cannot add a line of its own to a model card, and every character Markdown
    or HTML would act on is escaped."""
    line = " ".join(str(value or "").split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


@register.simple_tag
def colon() -> str:
    """The colon after a label, as the language writes it: French puts a no-break space before it."""
    return pgettext("the colon after a label, as in 'Status: planned'", ":")
