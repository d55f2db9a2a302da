"""The ranked list's filters: one FilterSet for the page, the exports and the counts.

Sector and offence type pick the published scoring run; every other filter narrows its
scores. The filters only use columns that Score and ScoreCount share (sub-region, band,
size class, legal form, time since the last visit), so the same FilterSet also filters
the counts above the list; the search, which needs the employer's name, applies to
scores only.
"""

from __future__ import annotations

import re
import time
from typing import Any

import django_filters
import numpy as np
from django import forms
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import F, Lookup, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.forms.renderers import Jinja2
from django.urls import reverse_lazy
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from inspections.models import EmployerWord, LegalForm, OffenceType, Region, Sector, SubRegion, name_words
from scoring.models import Band, Score, ScoreCount, ScoringRun, SizeClass, VisitRecency
from scoring.services.lookups import ListedEmployers

SEARCH_MAX_CHARS = 100
_RANK_MAX = 2_147_483_647
_DIGITS = re.compile(r"[\s./-]")


def _ids_read(matching: QuerySet) -> np.ndarray:
    """The ids of a values_list query, sorted and unique, read as one text: 50,000 rows
    through psycopg2 cost more than the query, and np.unique twice a sort."""
    try:
        sql, params = matching.query.sql_with_params()
    except EmptyResultSet:  # Django knows the query matches nothing (.none()): it has no SQL
        return np.empty(0, dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT string_agg(employer_id::text, ',') FROM ({sql}) AS matching", params)
        text = cursor.fetchone()[0]
    if not text:
        return np.empty(0, dtype=np.int64)
    ids = np.sort(np.fromstring(text, dtype=np.int64, sep=","))
    return ids[np.concatenate(([True], ids[1:] != ids[:-1]))]


def number_digits(value: str) -> str | None:
    """The digits of a search for an enterprise number or its start ("BE 0403.170", "0403"),
    or None for a search by name."""
    digits = _DIGITS.sub("", value).upper().removeprefix("BE")
    # ASCII only: "²" and "１２３" are digits to str.isdigit(), never in an enterprise number.
    return digits if digits.isascii() and digits.isdigit() else None


# (SQL of the queryset, language) -> (when read, choices)
_REFERENCE_CHOICES: dict[tuple[str, str | None], tuple[float, list[tuple[str, str]]]] = {}
REFERENCE_SECONDS = 60


def reference_choices(queryset: QuerySet) -> list[tuple[str, str]]:
    """(code, name in the current language) of reference rows (sectors, offence types,
    regions, sub-regions), kept a minute by each process.

    The list's filter form shows them on every page it renders: reading and rendering them
    as model choices took a third of an uncached list page. They change only through a
    migration or the admin; the minute bounds how long a renamed one shows its old name.
    """
    key = (str(queryset.query), get_language())
    now = time.monotonic()
    found = _REFERENCE_CHOICES.get(key)
    if found is None or now - found[0] > REFERENCE_SECONDS:
        found = (now, [(row.pk, str(row)) for row in queryset])
        _REFERENCE_CHOICES[key] = found
    return found[1]


def reference_choices_forget() -> None:
    """Read reference rows afresh next time (tests that change them)."""
    _REFERENCE_CHOICES.clear()


class SearchField(forms.CharField):
    """The search box: an enterprise number or its start, or at least one word of a name."""

    default_error_messages = {
        "no_word": _("Type at least one letter or digit of a name, or an enterprise number."),
    }

    def validate(self, value: str) -> None:
        super().validate(value)
        # "%", "..." or invalid UTF-8 (decoded as U+FFFD) hold no word to look up: a message
        # says so, rather than a list that silently matches nothing.
        if value and number_digits(value) is None and not name_words(value):
            raise ValidationError(self.error_messages["no_word"], code="no_word")


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


class AnyOf(Lookup):
    """`column = ANY(%s)` with a Python list as one array parameter.

    `__in` sends one placeholder per value, slow to build and parse for thousands of ids;
    and a subquery over the array makes PostgreSQL probe the scores id by id. A constant array is
    hashed, so a page read in rank order checks each score against it at no cost.
    """

    lookup_name = "any_of"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = self.rhs.value if isinstance(self.rhs, Value) else self.rhs  # filter() wraps it in Value
        # As the text of an array ('{1,2,3}'): psycopg2 adapts a list value by value, a
        # string in one step.
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, "{" + ",".join(map(str, values)) + "}"]


def _column_rule(name: str, value: Any) -> tuple[str, str, Any]:
    """(column, lookup, operand) of the filter `name` on the list columns that Score,
    ScoreCount and a run's lookup share. The one place these rules are written: the
    FilterSet applies them as SQL, `RankedListFilter.listed_match` with numpy."""
    if name == "not_inspected":  # recency classes above the one that ends at `value` months
        return "visit_recency", "gt", VisitRecency.months().index(int(value))
    if name == "legal_form":
        return "legal_form", "exact", value
    return name, "in", sorted({int(item) for item in value})  # band, size_class


_COLUMN_FILTERS = ("band", "size_class", "legal_form", "not_inspected")
_NUMPY_LOOKUPS = {"in": np.isin, "exact": np.equal, "gt": np.greater}


class RankedListForm(forms.Form):
    # Django's own widget templates, in its Jinja2 versions: the form's eighty or so
    # options and checkboxes render on every list page (docs/workspace.md). One instance,
    # so that the compiled templates are kept.
    default_renderer = Jinja2()


class RankedListFilter(django_filters.FilterSet):
    sector = django_filters.ModelChoiceFilter(
        queryset=Sector.objects.all(), label=_("Sector"), method="_no_filter", empty_label=None
    )

    offence = django_filters.ModelChoiceFilter(
        queryset=OffenceType.objects.all(),
        label=_("Offence type"),
        method="_no_filter",
        empty_label=None,
    )
    region = django_filters.ModelChoiceFilter(
        queryset=Region.objects.all(),
        label=_("Region"),
        method="_region",
        empty_label=_("All regions"),
    )
    subregion = django_filters.ModelChoiceFilter(
        queryset=SubRegion.objects.select_related("region"),
        label=_("Sub-region"),
        empty_label=_("All sub-regions"),
    )
    # distinct=False: no join can repeat a row, and SELECT DISTINCT would keep PostgreSQL
    # from reading a page straight off the (run, rank) index.
    band = django_filters.MultipleChoiceFilter(
        choices=Band.choices, label=_("Band"), distinct=False, method="_band", widget=forms.CheckboxSelectMultiple
    )
    size_class = django_filters.MultipleChoiceFilter(
        choices=SizeClass.choices,
        label=_("Size"),
        distinct=False,
        method="_column",
        widget=forms.CheckboxSelectMultiple,
    )
    legal_form = django_filters.ChoiceFilter(
        choices=LegalForm.choices, label=_("Legal form"), empty_label=_("All"), method="_column"
    )
    not_inspected = django_filters.ChoiceFilter(
        choices=[("6", _("6 months")), ("12", _("12 months")), ("24", _("2 years")), ("36", _("3 years"))],
        label=_("Not inspected in the last"),
        method="_column",
        # Read after the label as a choice: "Not inspected in the last: no limit".
        empty_label=pgettext_lazy("not inspected in the last", "no limit"),
    )
    q = SearchFilter(label=_("Name or enterprise number"), method="_search", max_length=SEARCH_MAX_CHARS, strip=True)

    class Meta:
        model = Score
        fields: list[str] = []
        form = RankedListForm

    # The published run the scores come from, once the view has chosen it from sector and
    # offence: the band filter reads its ScoreCount rows to bound the ranks.
    run: ScoringRun | None = None
    # Set by a search by name: the ids of the employers whose name matches, in the chosen
    # place and the user's scope (sorted, unique), which the band counts look up.
    matching_ids: np.ndarray | None = None

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        self._codes: dict[str, list[str]] = {}  # sub-region codes per region, read once
        # The sub-region list follows the chosen region: htmx fetches its options.
        self.form.fields["region"].widget.attrs.update(
            {
                "hx-get": reverse_lazy("workspace:subregion_options"),
                "hx-target": "#id_subregion",
                "hx-swap": "innerHTML",
            }
        )
        region = self.form["region"].value() if data else None
        # The sub-region list follows the chosen region, if it is one: a string that is no
        # region (a NUL byte, 10,000 characters) never reaches a query, nor the process's
        # copy of the reference rows, which would keep one entry per string sent.
        if region and region in self._region_pks():
            self.filters["subregion"].queryset = SubRegion.objects.filter(region_id=region).select_related("region")
            self.form.fields["subregion"].queryset = self.filters["subregion"].queryset
        for name in ("sector", "offence", "region", "subregion"):
            # Rendered from the process's copy of the reference rows (the widget's choices);
            # a value is still checked against the field's queryset.
            field = self.form.fields[name]
            empty = [("", field.empty_label)] if field.empty_label is not None else []
            field.widget.choices = empty + reference_choices(field.queryset)

    @staticmethod
    def _region_pks() -> set[str]:
        return {code for code, _ in reference_choices(Region.objects.all())}

    def _no_filter(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset  # chooses the run (see selectors.ranked_list_run)

    def _region(self, queryset: QuerySet, name: str, value: Region) -> QuerySet:
        # An explicit list of codes, so that the (run, subregion, rank) index serves it.
        return queryset.filter(subregion_id__in=self._region_codes(value))

    def _region_codes(self, region: Region) -> list[str]:
        if region.pk not in self._codes:
            self._codes[region.pk] = list(SubRegion.objects.filter(region=region).values_list("code", flat=True))
        return self._codes[region.pk]

    def _column(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        column, lookup, operand = _column_rule(name, value)
        return queryset.filter(**{f"{column}__{lookup}": operand})

    def _band(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        if not value:
            return queryset
        queryset = self._column(queryset, name, value)
        bands = _column_rule(name, value)[2]
        run_id = self.run.pk if self.run is not None and queryset.model is Score else None
        if run_id is None:
            return queryset
        # A run's bands are consecutive ranks (scoring.services.ranking.scores_rank): bound
        # the rank too, by the run's ScoreCount rows (written with its scores), so that
        # PostgreSQL reads only those ranks off the (run, rank) index. Without the bound the
        # last page of the red band walks back through the other 95 % of the run.
        counts = ScoreCount.objects.filter(run_id=run_id).values("run_id").order_by()

        def employers(**bands_lookup: int) -> Subquery:
            return Subquery(counts.filter(**bands_lookup).annotate(n=Sum("employers")).values("n")[:1])

        # Only the bound the page reads towards: both at once tempt the planner to read a
        # region's whole band off (run, subregion, rank) and sort it, even for the first page.
        if self.data.get("page") == "last" or self.data.get("before"):
            return queryset.filter(rank__lte=Coalesce(employers(band__lte=bands[-1]), _RANK_MAX))
        if bands[0] == Band.RED:
            return queryset  # nothing before the red band to skip
        return queryset.filter(rank__gt=Coalesce(employers(band__lt=bands[0]), 0))

    def _search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value or queryset.model is not Score:
            return queryset
        digits = number_digits(value)
        if digits is not None:
            return queryset.filter(
                employer__enterprise_number__startswith=digits.zfill(10) if len(digits) >= 9 else digits
            )
        return self._search_by_name(queryset, value)

    def _search_by_name(self, queryset: QuerySet, value: str) -> QuerySet:
        # The user's scope, as for the scores; without a request (the shell, tests) the
        # caller's queryset is the only one, and it limits the rows.
        words = (
            EmployerWord.objects.all() if self.request is None else EmployerWord.objects.visible_to(self.request.user)
        )
        sector = self.form.cleaned_data["sector"].pk
        matching = words.employer_ids(value, sector=sector, subregions=self._search_place())
        # The ids are read anyway (the band counts look them up): sent back as one array,
        # which PostgreSQL hashes, they cost less than the subquery again (docs/workspace.md).
        self.matching_ids = _ids_read(matching)
        return queryset.filter(AnyOf(F("employer_id"), self.matching_ids.tolist()))

    def _search_place(self) -> list[str] | None:
        """The sub-regions a name search looks in: the chosen place's, or None for all.

        "Jacobs" in Brussels is a few hundred employers to list, not the 8,653 of the whole
        sector. (The scores' own copy of the sub-region still decides what is listed; an
        employer that moved since the run is found again after the next.)"""
        cleaned = self.form.cleaned_data
        if cleaned.get("subregion"):
            return [cleaned["subregion"].pk]
        if cleaned.get("region"):
            return self._region_codes(cleaned["region"])
        return None

    def listed_match(self, listed: ListedEmployers) -> np.ndarray:
        """Which employers of a run's lookup (scoring.services.lookups) are scored and kept by
        the filters on the list columns: the band counts of a name search, whose words
        and place chose the employers looked up."""
        keep = listed.band > 0
        for name in _COLUMN_FILTERS:
            value = self.form.cleaned_data.get(name)
            if value:
                column, lookup, operand = _column_rule(name, value)
                keep &= _NUMPY_LOOKUPS[lookup](getattr(listed, column), operand)
        return keep

    @property
    def searching(self) -> bool:
        return bool(self.is_bound and self.form.is_valid() and self.form.cleaned_data.get("q"))
