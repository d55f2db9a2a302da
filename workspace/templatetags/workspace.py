"""Small pieces of the workspace pages: band chips, reasons, enterprise numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from scoring.features.registry import reason_text
from scoring.models import Band, Score, SizeClass

if TYPE_CHECKING:
    from workspace.selectors import LastInspection, RankedPage

register = template.Library()


@register.simple_tag
def band_chip(band: int) -> str:
    """The band as a coloured chip with its name in words (colour-blind readers, print)."""
    return format_html('<span class="band band-{}">{}</span>', int(band), Band(int(band)).label)


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


# One row of the ranked list; see ranked_rows.
_ROW = (
    '<tr><td class="num">{}</td><td>{}</td><td class="num">{}</td>'
    '<td><a href="{}">{}</a><br><span class="muted mono">{}</span></td>'
    "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n"
)
_NUMBER = "0000000000"  # stands for the enterprise number in the employer page's URL


@register.simple_tag
def ranked_rows(page: RankedPage) -> SafeString:
    """The <tr>s of a ranked page, built in Python: the same rows as a template loop, whose
    ~8,500 variable lookups per page were half of the list's rendering time. format_html
    escapes every value."""
    employer_url = reverse("workspace:employer_detail", args=[_NUMBER])
    labels = {"found": _("offence found"), "nothing": _("nothing found"), "never": _("never")}
    # Each translated once a page, not once a row.
    chips = {band: band_chip(band) for band in Band.values}
    sizes = {size: str(label) for size, label in SizeClass.choices}
    return format_html_join(
        "",
        _ROW,
        (
            (
                intcomma(page.rank_shown(score)),
                chips[score.band],
                floatformat(page.blinding.percentile(score.rank, score.percentile), 1),
                employer_url.replace(_NUMBER, score.employer.enterprise_number),
                score.employer.name,
                enterprise_number(score.employer.enterprise_number),
                score.subregion.name if score.subregion else "",
                sizes.get(score.size_class, ""),
                first_reason(score),
                _last_inspection(page.last_inspections.get(score.employer_id), labels),
            )
            for score in page.rows
        ),
    )


def _last_inspection(seen: LastInspection | None, labels: dict[str, str]) -> SafeString:
    if seen is None:
        return format_html('<span class="muted">{}</span>', labels["never"])
    visited = date_format(seen.visit_date, "SHORT_DATE_FORMAT")
    if seen.found:
        return format_html('{}: <span class="found">{}</span>', visited, labels["found"])
    return format_html("{}: {}", visited, labels["nothing"])
