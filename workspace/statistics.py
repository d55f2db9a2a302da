"""Whether the lists find more than chance: detection rates and the lift of worklists.

Every figure reads the completed inspections of the employers the user may see, in one
aggregate query per table (never a query per inspection). An inspection "found an
offence" when any of its findings did. Each rate carries its counts and a 95 % interval:
Jeffreys, Beta(found + 1/2, not found + 1/2), which stays sensible on a handful of
inspections where a normal approximation does not.

The lift compares, within the blinded worklists of a sector and offence type, the hit
rate of the model's picks with that of the random controls drawn with them: both were
inspected without anyone knowing which was which, so the ratio is fair. Its interval is
that of the model-quality figures (scoring.services.evaluation.lift_of).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from scipy.stats import beta

from inspections.models import (
    Employer,
    Finding,
    Inspection,
    InspectionOrigin,
    InspectionStatus,
    OffenceType,
    Region,
    Sector,
)
from scoring.models import Band
from scoring.services.evaluation import lift_of
from workspace.models import WorklistEntry, WorklistSettings

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

GROUPINGS = ("origin", "band", "sector", "offence", "region", "month")


@dataclass(frozen=True)
class Rate:
    """Inspections of one group and how many found an offence."""

    label: str
    inspections: int
    found: int
    recovered: Decimal = Decimal(0)  # contributions recovered, EUR

    @property
    def rate(self) -> float | None:
        return self.found / self.inspections if self.inspections else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if not self.inspections:
            return None
        low, high = beta.ppf([0.025, 0.975], self.found + 0.5, self.inspections - self.found + 0.5)
        return float(low), float(high)

    @property
    def recovered_per_inspection(self) -> Decimal | None:
        return (Decimal(self.recovered) / self.inspections).quantize(Decimal("0.01")) if self.inspections else None


@dataclass(frozen=True)
class Lift:
    """Model picks against random controls of the worklists of one sector and offence type (by name)."""

    sector: str
    offence: str
    picks: Rate
    controls: Rate

    @property
    def value_and_interval(self) -> tuple[float | None, list[float] | None]:
        if not self.controls.inspections or not self.picks.inspections:
            return None, None
        return lift_of((self.picks.found, self.picks.inspections), (self.controls.found, self.controls.inspections))


def completed_inspections(*, user: AbstractBaseUser) -> QuerySet[Inspection]:
    """Completed inspections of the employers the user may see, with `found_any`.

    Without the task force's right to see origins, the user's own worklist inspections are
    left out: comparing the figures before and after completing one would tell its origin
    (model pick or random control), which only the task force may know."""
    found = Finding.objects.filter(inspection=OuterRef("pk"), found=True)
    inspections = Inspection.objects.filter(
        status=InspectionStatus.COMPLETED, employer__in=Employer.objects.visible_to(user).values("pk")
    )
    if not user.has_perm("inspections.record_any_outcome"):
        inspections = inspections.exclude(inspector_id=user.pk, worklist_entry__isnull=False)
    return inspections.annotate(found_any=Exists(found))


def detection_rates(*, user: AbstractBaseUser, by: str) -> list[Rate]:
    """Detection rate per origin, band (worklist inspections, band when drawn), sector,
    offence type (its findings), region or visit month; one query."""
    if by == "offence":
        return _rates_per_offence(user)
    if by == "band":
        return _rates_per_band(user)
    column = {"origin": "origin", "sector": "employer__sector_id", "region": "employer__subregion__region_id"}
    inspections = completed_inspections(user=user)
    if by == "month":
        inspections, column["month"] = inspections.annotate(month=TruncMonth("visit_date")), "month"
    rows = (
        inspections.order_by()
        .values(column[by])
        .annotate(inspections=Count("pk"), found=Count("pk", filter=Q(found_any=True)))
        .order_by(column[by])
    )
    labels = _labels(by)
    return [Rate(labels(row[column[by]]), row["inspections"], row["found"]) for row in rows]


def recovered_per_origin(*, user: AbstractBaseUser) -> list[Rate]:
    """Per origin: inspections, offences found, contributions recovered in total (one query)."""
    rows = (
        completed_inspections(user=user)
        .order_by()
        .values("origin")
        .annotate(
            inspections=Count("pk", distinct=True),
            found=Count("pk", filter=Q(found_any=True), distinct=True),
            recovered=Sum("findings__contributions_recovered"),
        )
        .order_by("origin")
    )
    labels = _labels("origin")
    return [Rate(labels(r["origin"]), r["inspections"], r["found"], r["recovered"] or Decimal(0)) for r in rows]


def worklist_lifts(*, user: AbstractBaseUser) -> list[Lift]:
    """Per sector and offence type of the worklists: hit rate of the model's picks and of the
    random controls (a hit: the worklist's offence found), one query."""
    rows = (
        WorklistEntry.objects.filter(inspection__in=completed_inspections(user=user).values("pk"))
        .annotate(hit=_worklist_offence_found())
        .values("worklist__sector_id", "worklist__offence_type_id", "inspection__origin")
        .annotate(inspections=Count("pk"), found=Count("pk", filter=Q(hit=True)))
        .order_by("worklist__sector_id", "worklist__offence_type_id")
    )
    pairs: dict[tuple[str, str], dict[str, Rate]] = {}
    for row in rows:
        pair = (row["worklist__sector_id"], row["worklist__offence_type_id"])
        pairs.setdefault(pair, {})[row["inspection__origin"]] = Rate(
            row["inspection__origin"], row["inspections"], row["found"]
        )
    empty = Rate("", 0, 0)
    sectors, offences = _names("sector"), _names("offence")
    return [
        Lift(
            sectors[sector],
            offences[offence],
            rates.get(InspectionOrigin.RANKED_LIST, empty),
            rates.get(InspectionOrigin.RANDOM_CONTROL, empty),
        )
        for (sector, offence), rates in pairs.items()
    ]


TOP_K = 10


def precision_at_k(*, user: AbstractBaseUser, k: int = TOP_K) -> list[Rate]:
    """Per sector and offence type of the worklists: among the completed model picks, the k
    whose employers ranked highest when drawn, and how many found the worklist's offence
    (one query; the ranking itself in Python, over those picks only)."""
    rows = (
        WorklistEntry.objects.filter(
            inspection__in=completed_inspections(user=user).values("pk"),
            inspection__origin=InspectionOrigin.RANKED_LIST,
        )
        .annotate(hit=_worklist_offence_found())
        .order_by("worklist__sector_id", "worklist__offence_type_id", "rank", "pk")
        .values_list("worklist__sector_id", "worklist__offence_type_id", "hit")
    )
    top: dict[tuple[str, str], list[bool]] = {}
    for sector, offence, found in rows:
        picks = top.setdefault((sector, offence), [])
        if len(picks) < k:
            picks.append(found)
    sectors, offences = _names("sector"), _names("offence")
    return [
        Rate(f"{sectors[sector]} / {offences[offence]}", len(picks), sum(picks))
        for (sector, offence), picks in top.items()
    ]


@dataclass(frozen=True)
class ListShare:
    """Own-initiative inspections of one region and month, and those from the lists."""

    region: str
    month: str
    own_initiative: int
    from_lists: int
    target: Decimal

    @property
    def share(self) -> float | None:
        return self.from_lists / self.own_initiative if self.own_initiative else None

    @property
    def met(self) -> bool:
        return self.share is not None and self.share >= float(self.target)


def list_shares(*, user: AbstractBaseUser) -> list[ListShare]:
    """Per region and month of the visit: own-initiative inspections (the inspectorate's own
    choice: from the ranked lists, on a worklist, or otherwise) and the share that came from
    the lists or worklists, against WorklistSettings.list_share_target (one query)."""
    on_worklist = WorklistEntry.objects.filter(inspection=OuterRef("pk"))
    chosen = Q(origin__in=[InspectionOrigin.RANKED_LIST, InspectionOrigin.OWN_INITIATIVE]) | Exists(on_worklist)
    from_lists = Q(origin=InspectionOrigin.RANKED_LIST) | Exists(on_worklist)
    rows = (
        completed_inspections(user=user)
        .filter(chosen)
        .annotate(month=TruncMonth("visit_date"))
        .values("employer__subregion__region_id", "month")
        .annotate(own_initiative=Count("pk"), from_lists=Count("pk", filter=from_lists))
        .order_by("employer__subregion__region_id", "month")
    )
    target = WorklistSettings.current().list_share_target
    regions = _names("region")
    return [
        ListShare(
            regions.get(r["employer__subregion__region_id"], ""),
            r["month"].strftime("%Y-%m"),
            r["own_initiative"],
            r["from_lists"],
            target,
        )
        for r in rows
    ]


def _worklist_offence_found() -> Exists:
    """For a worklist entry: whether its inspection found the worklist's offence."""
    found = Finding.objects.filter(
        inspection=OuterRef("inspection_id"), offence_type=OuterRef("worklist__offence_type_id"), found=True
    )
    return Exists(found)


def _rates_per_offence(user: AbstractBaseUser) -> list[Rate]:
    rows = (
        Finding.objects.filter(inspection__in=completed_inspections(user=user).values("pk"))
        .values("offence_type_id")
        .annotate(inspections=Count("pk"), found=Count("pk", filter=Q(found=True)))
        .order_by("offence_type_id")
    )
    labels = _labels("offence")
    return [Rate(labels(row["offence_type_id"]), row["inspections"], row["found"]) for row in rows]


def _rates_per_band(user: AbstractBaseUser) -> list[Rate]:
    found = Finding.objects.filter(inspection=OuterRef("inspection_id"), found=True)
    rows = (
        WorklistEntry.objects.filter(inspection__in=completed_inspections(user=user).values("pk"))
        .annotate(found_any=Exists(found))
        .values("band")
        .annotate(inspections=Count("pk"), found=Count("pk", filter=Q(found_any=True)))
        .order_by("band")
    )
    return [Rate(str(Band(row["band"]).label), row["inspections"], row["found"]) for row in rows]


def _labels(by: str):
    """How a group's key is shown: months as YYYY-MM, the rest by name in the reader's language."""
    if by == "month":
        return lambda key: key.strftime("%Y-%m")
    names = _names(by)
    return lambda key: names.get(key, str(key))


def _names(by: str) -> dict[str, str]:
    """Code -> name of the origins, sectors, offence types or regions (one small query)."""
    if by == "origin":
        return {code: str(name) for code, name in InspectionOrigin.choices}
    model = {"sector": Sector, "offence": OffenceType, "region": Region}[by]
    return {row.pk: str(row.name) for row in model.objects.all()}
