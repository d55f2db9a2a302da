"""The feature registry: every feature a model may use, in words an inspector understands.

A model may only use features listed here, and never one whose name matches the
denylist of personal characteristics and web or social-media data (the safeguards of the
Dutch UWV risk scan). features_check enforces both wherever a model is trained,
uploaded or activated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext_lazy

# Personal characteristics (of workers or managers) and online data: never a feature.
DENYLIST = re.compile(
    r"nationalit|national_|citizen|gender|(^|_)sex(_|$)|(^|_)ages?(_|$)|birth|born|ethnic|origin|race|relig|"
    r"language|mother_tongue|disab|health|pregnan|marital|family|name|address|web|social_media|online|"
    r"facebook|linkedin|twitter|instagram|tiktok|review|"
    # proxies of the above: sex, nationality, age
    r"female|(^|_)males?(_|$)|women|(^|_)men(_|$)|foreigner|migra|sexual|skin|youth"
)


class FeatureRefused(ValueError):
    """A model asks for a feature it may not use."""


@dataclass(frozen=True)
class Wording:
    """A feature's value in words: a sentence ("45 % of hires on short contracts") and the
    bare value a reason compares with ("10 %"). `compared`: the sentence already says what
    the value is measured against (the sector's median wage), so it needs no median."""

    sentence: Callable[[float], str]
    bare: Callable[[float], str]
    compared: bool = False

    def __call__(self, value: float) -> str:
        return self.sentence(value)


@dataclass(frozen=True)
class Feature:
    name: str
    label: Promise  # short, for tables
    description: Promise  # what it is and how it is computed
    sources: tuple[str, ...]  # tables it is computed from
    risk: Promise  # what a high or low value may mean for the risk
    reason: Wording  # the value in a sentence, e.g. "wage per FTE 38 % below the sector median"


def _percent(value: float) -> str:
    return number_format(round(abs(value) * 100), 0)


def _number(value: float, digits: int = 1) -> str:
    # number_format cuts digits off (455.9 -> "455"): round first.
    return number_format(round(value, digits), digits)


def _signed(value: float, digits: int) -> str:
    rounded = round(value, digits)
    sign = "+" if rounded > 0 else "-" if rounded < 0 else ""
    return sign + number_format(abs(rounded), digits)


def _relative(above: str, below: str, *, points: bool = False, compared: bool = False) -> Wording:
    def reason(value: float) -> str:
        return (_g(above) if value >= 0 else _g(below)) % {"percent": _percent(value)}

    def bare(value: float) -> str:
        text = _g(_POINTS) if points else "%(value)s %%"
        return text % {"value": _signed(value * 100, 0)}

    return Wording(reason, bare, compared)


def _change(up: str, down: str) -> Wording:
    def reason(value: float) -> str:
        return (_g(up) if value >= 0 else _g(down)) % {"value": _number(abs(value))}

    return Wording(reason, lambda value: _signed(value, 1))


def _count(text: Promise) -> Wording:
    """A whole number with its noun in the right plural (text from ngettext_lazy, keyed "value")."""
    return Wording(lambda value: str(text % {"value": round(value)}), lambda value: str(round(value)))


def _sector_sentence(value: float) -> str:
    return _g(_OWN_SECTOR) if value >= 0.5 else _g(_OTHER_SECTOR)


def _share(text: str) -> Wording:
    return Wording(lambda value: _g(text) % {"percent": _percent(value)}, lambda value: f"{_percent(value)} %")


def _amount(text: str, digits: int = 1) -> Wording:
    return Wording(lambda value: _g(text) % {"value": _number(value, digits)}, lambda value: _number(value, digits))


_POINTS = gettext_noop("%(value)s points")
_OWN_SECTOR = gettext_noop("an employer of this sector")
_OTHER_SECTOR = gettext_noop("an employer of another sector")
_ABOVE_MEDIAN = gettext_noop("%(reason)s, above the sector median of %(median)s")
_BELOW_MEDIAN = gettext_noop("%(reason)s, below the sector median of %(median)s")
DECLARATIONS = ("inspections_declaration",)
EMPLOYERS = ("inspections_employer",)
INSPECTIONS = ("inspections_inspection", "inspections_finding")

FEATURES: dict[str, Feature] = {
    feature.name: feature
    for feature in [
        Feature(
            "wage_per_fte_vs_sector",
            _("wage per FTE against the sector"),
            _(
                "Gross wages per full-time equivalent over the last twelve declared quarters, against the median "
                "of the sector in the same quarters (0 = the median, -0.38 = 38 % below)."
            ),
            DECLARATIONS + EMPLOYERS,
            _("Low pay for the hours declared can mean hours or workers not declared."),
            _relative(
                gettext_noop("wage per FTE %(percent)s %% above the sector median"),
                gettext_noop("wage per FTE %(percent)s %% below the sector median"),
                compared=True,
            ),
        ),
        Feature(
            "wage_per_fte_change",
            _("change in wage per FTE"),
            _(
                "Gross wages per full-time equivalent in the last four declared quarters against the quarters "
                "before them (0 = unchanged, -0.2 = now 20 % below)."
            ),
            DECLARATIONS,
            _("Pay that drops while the work goes on can mean part of it is now paid undeclared."),
            _relative(
                gettext_noop("wage per FTE up %(percent)s %% on earlier quarters"),
                gettext_noop("wage per FTE down %(percent)s %% on earlier quarters"),
            ),
        ),
        Feature(
            "hours_per_fte",
            _("declared hours per FTE"),
            _("Hours declared per full-time equivalent and quarter (about 455 for a full-time worker)."),
            DECLARATIONS,
            _("Few hours per FTE can mean part of the work is not declared."),
            _amount(gettext_noop("%(value)s declared hours per FTE a quarter"), 0),
        ),
        Feature(
            "hours_per_fte_change",
            _("change in hours per FTE"),
            _("Hours declared per FTE in the last four quarters against the quarters before them."),
            DECLARATIONS,
            _("Fewer hours declared for the same staff can mean hours worked but not declared."),
            _relative(
                gettext_noop("hours per FTE up %(percent)s %% on earlier quarters"),
                gettext_noop("hours per FTE down %(percent)s %% on earlier quarters"),
            ),
        ),
        Feature(
            "fte_per_worker",
            _("FTE per worker"),
            _("Full-time equivalents per worker on the payroll (1 = everyone full time)."),
            DECLARATIONS,
            _("A low ratio means many small part-time contracts."),
            _amount(gettext_noop("%(value)s FTE per worker"), 2),
        ),
        Feature(
            "part_time_share",
            _("part-time share"),
            _("Share of the workers on a part-time contract, averaged over the last twelve quarters."),
            DECLARATIONS,
            _("Part-time contracts are where part-time abuse happens."),
            _share(gettext_noop("%(percent)s %% of the workers part-time")),
        ),
        Feature(
            "part_time_share_change",
            _("change in part-time share"),
            _("Share of workers part-time in the last four quarters minus the share in the quarters before them."),
            DECLARATIONS,
            _("Full-time workers moved onto part-time contracts can keep working full time."),
            _relative(
                gettext_noop("part-time share up %(percent)s points on earlier quarters"),
                gettext_noop("part-time share down %(percent)s points on earlier quarters"),
                points=True,
            ),
        ),
        Feature(
            "part_time_fraction",
            _("working time of part-timers"),
            _("The share of full time that part-timers are declared for (FTE of part-timers per part-timer)."),
            DECLARATIONS,
            _("Part-timers declared for very few hours may work more than declared."),
            _share(gettext_noop("part-timers declared for %(percent)s %% of full time")),
        ),
        Feature(
            "headcount",
            _("workers"),
            _("Average number of workers on the payroll over the last four quarters."),
            DECLARATIONS,
            _("Size: risks differ between small and large firms."),
            _amount(gettext_noop("%(value)s workers on average")),
        ),
        Feature(
            "headcount_change",
            _("change in workers"),
            _("Workers in the last two quarters against the two before, as a share."),
            DECLARATIONS,
            _("A shrinking payroll can mean workers moved to bogus self-employment."),
            _relative(
                gettext_noop("workers up %(percent)s %% in a year"),
                gettext_noop("workers down %(percent)s %% in a year"),
            ),
        ),
        Feature(
            "headcount_trend",
            _("trend in workers"),
            _("Workers in the last four quarters against the quarters before them, as a share."),
            DECLARATIONS,
            _("A payroll that shrinks for good while the firm keeps trading can mean work moved off the books."),
            _relative(
                gettext_noop("workers up %(percent)s %% on earlier quarters"),
                gettext_noop("workers down %(percent)s %% on earlier quarters"),
            ),
        ),
        Feature(
            "headcount_volatility",
            _("headcount volatility"),
            _("Standard deviation of the quarterly headcount divided by its mean."),
            DECLARATIONS,
            _("A payroll that jumps up and down can hide undeclared work."),
            _share(gettext_noop("headcount varies by %(percent)s %% from quarter to quarter")),
        ),
        Feature(
            "headcount_seasonality",
            _("seasonal swing in workers"),
            _(
                "Difference between the busiest and the quietest season's average headcount, as a share of "
                "the average (only when every season was declared)."
            ),
            DECLARATIONS,
            _("A strong seasonal swing is normal in some trades; an unusual one for the sector deserves a look."),
            _share(gettext_noop("headcount swings %(percent)s %% between seasons")),
        ),
        Feature(
            "hires_per_worker",
            _("hires per worker"),
            _("Hires per worker on the payroll and year, over the last twelve quarters."),
            DECLARATIONS,
            _("High churn goes with undeclared work and with hiring during lay-offs."),
            _amount(gettext_noop("%(value)s hires per worker in a year"), 2),
        ),
        Feature(
            "exits_per_worker",
            _("exits per worker"),
            _("Exits per worker on the payroll and year, over the last twelve quarters."),
            DECLARATIONS,
            _("Many exits can mean workers moved to bogus self-employment."),
            _amount(gettext_noop("%(value)s exits per worker in a year"), 2),
        ),
        Feature(
            "short_contract_share",
            _("short contracts"),
            _("Share of the hires on contracts shorter than a quarter."),
            DECLARATIONS,
            _("Many short contracts go with undeclared work."),
            _share(gettext_noop("%(percent)s %% of hires on short contracts")),
        ),
        Feature(
            "layoff_days_per_worker",
            _("temporary unemployment"),
            _("Days of temporary unemployment per worker and year, over the last twelve quarters."),
            DECLARATIONS,
            _("Heavy use of temporary unemployment is where lay-off fraud happens."),
            _amount(gettext_noop("%(value)s days of temporary unemployment per worker in a year")),
        ),
        Feature(
            "layoff_days_change",
            _("change in temporary unemployment"),
            _("Days of temporary unemployment per worker in the last two quarters minus the two before."),
            DECLARATIONS,
            _("Lay-offs that keep rising can be fraud, or a firm in difficulty."),
            _change(
                gettext_noop("temporary unemployment up %(value)s days per worker on half a year before"),
                gettext_noop("temporary unemployment down %(value)s days per worker on half a year before"),
            ),
        ),
        Feature(
            "layoff_days_spring_summer",
            _("temporary unemployment in spring and summer"),
            _(
                "Days of temporary unemployment per worker in the second and third quarters of a year (outside "
                "the weather season), on average over the last twelve quarters."
            ),
            DECLARATIONS,
            _("Lay-offs in good weather, especially while hiring, are unusual."),
            _amount(gettext_noop("%(value)s days of temporary unemployment per worker in spring and summer")),
        ),
        Feature(
            "posted_worker_share",
            _("posted workers"),
            _("Posted foreign workers declared per worker on the payroll."),
            DECLARATIONS,
            _("Posting is used to hide bogus self-employment and undeclared work."),
            _amount(gettext_noop("%(value)s posted workers per worker on the payroll"), 2),
        ),
        Feature(
            "debt_to_wages",
            _("social-security debt"),
            _("Social-security debt in the last two quarters against the quarterly wages."),
            DECLARATIONS,
            _("Debt can mean difficulty, or contributions deliberately left unpaid."),
            _amount(gettext_noop("social-security debt of %(value)s quarters of wages"), 2),
        ),
        Feature(
            "company_years",
            _("years in business"),
            _("Years since the company started, on the as-of date."),
            EMPLOYERS,
            _("Young firms, and old ones re-founded, carry other risks."),
            _amount(gettext_noop("in business for %(value)s years")),
        ),
        Feature(
            "earlier_inspections",
            _("earlier inspections"),
            _("Completed inspections of this employer before the as-of date."),
            INSPECTIONS,
            _("Employers inspected before are known to the inspectorate."),
            _count(ngettext_lazy("%(value)d earlier inspection", "%(value)d earlier inspections", "value")),
        ),
        Feature(
            "earlier_findings",
            _("earlier offences"),
            _("Offences found by earlier inspections of this employer, before the as-of date."),
            INSPECTIONS,
            _("Employers found in breach before often are again."),
            _count(
                ngettext_lazy(
                    "%(value)d offence found by earlier inspections",
                    "%(value)d offences found by earlier inspections",
                    "value",
                )
            ),
        ),
        # One per offence type: an employer caught at one offence is most often caught at
        # the same one again, which a count over every offence blurs.
        Feature(
            "earlier_undeclared_work",
            _("earlier undeclared work"),
            _("Earlier inspections of this employer that found undeclared work, before the as-of date."),
            INSPECTIONS,
            _("Undeclared work found before is often still going on."),
            _count(
                ngettext_lazy(
                    "undeclared work found by %(value)d earlier inspection",
                    "undeclared work found by %(value)d earlier inspections",
                    "value",
                )
            ),
        ),
        Feature(
            "earlier_part_time_abuse",
            _("earlier part-time abuse"),
            _("Earlier inspections of this employer that found part-time abuse, before the as-of date."),
            INSPECTIONS,
            _("Part-time abuse found before is often still going on."),
            _count(
                ngettext_lazy(
                    "part-time abuse found by %(value)d earlier inspection",
                    "part-time abuse found by %(value)d earlier inspections",
                    "value",
                )
            ),
        ),
        Feature(
            "earlier_bogus_self_employment",
            _("earlier bogus self-employment"),
            _("Earlier inspections of this employer that found bogus self-employment, before the as-of date."),
            INSPECTIONS,
            _("Bogus self-employment found before is often still going on."),
            _count(
                ngettext_lazy(
                    "bogus self-employment found by %(value)d earlier inspection",
                    "bogus self-employment found by %(value)d earlier inspections",
                    "value",
                )
            ),
        ),
        Feature(
            "earlier_temporary_layoff_fraud",
            _("earlier lay-off fraud"),
            _("Earlier inspections of this employer that found temporary lay-off fraud, before the as-of date."),
            INSPECTIONS,
            _("Lay-off fraud found before is often still going on."),
            _count(
                ngettext_lazy(
                    "lay-off fraud found by %(value)d earlier inspection",
                    "lay-off fraud found by %(value)d earlier inspections",
                    "value",
                )
            ),
        ),
        Feature(
            "own_sector",
            _("own sector"),
            _(
                "1 for an inspection of the model's own sector; 0 for one of another sector, which a model "
                "of a sector with few inspections may also learn from."
            ),
            EMPLOYERS,
            _(
                "None by itself: every employer scored is of the model's sector. It lets a model that also "
                "learns from other sectors find where this sector differs from them."
            ),
            Wording(_sector_sentence, lambda value: str(round(value))),
        ),
    ]
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)


def features_check(names: Iterable[str]) -> list[str]:
    """The names as a list, or FeatureRefused saying which may not be used and why."""
    names = list(names)
    if not names:
        raise FeatureRefused("A model needs at least one feature.")
    denied = [name for name in names if DENYLIST.search(str(name).lower())]
    if denied:
        raise FeatureRefused(
            f"Not allowed: {', '.join(map(str, denied))}: personal characteristics and web or social-media "
            "data are never used."
        )
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise FeatureRefused(f"Not in the feature registry: {', '.join(map(str, unknown))}.")
    if len(set(names)) != len(names):
        raise FeatureRefused("A feature is listed twice.")
    return names


# Score.reason_1 to reason_3 are varchar(40).
REASON_KEY_LENGTH = 40


def reason_key(name: str, median: float | None) -> str:
    """What a score row stores for a reason: the feature's name, then "@" and the sector
    median it is compared with ("short_contract_share@0.1"); the name alone when there is
    no median or the two would not fit."""
    if median is None or not math.isfinite(median):
        return name
    key = f"{name}@{median:.6g}"
    return key if len(key) <= REASON_KEY_LENGTH else name


def reason_parts(key: str) -> tuple[str, float | None]:
    """The feature's name and the sector median of a stored reason (reason_key)."""
    name, _, median = key.partition("@")
    try:
        return name, float(median) if median else None
    except ValueError:
        return name, None


def reason_text(key: str, value: float | None) -> str:
    """One reason in the reader's language, with its direction and the sector median it is
    compared with: "45 % of hires on short contracts, above the sector median of 10 %".

    `key` is what the score row stores (reason_key); rows written before the medians were
    stored, and features whose sentence names its own comparison ("wage per FTE 38 %
    below the sector median"), give the sentence alone."""
    name, median = reason_parts(key)
    feature = FEATURES.get(name)
    if feature is None:
        return key
    if value is None:
        return str(feature.label)
    sentence = feature.reason(value)
    if median is None or feature.reason.compared or value == median:
        return sentence
    text = _g(_ABOVE_MEDIAN) if value > median else _g(_BELOW_MEDIAN)
    return text % {"reason": sentence, "median": feature.reason.bare(median)}


# A registry entry that the denylist catches would be refused everywhere: fail at import.
assert not [name for name in FEATURES if DENYLIST.search(name)], "a registered feature matches the denylist"
