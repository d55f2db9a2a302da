"""Blinded worklists: the highest-ranked employers and random controls, shuffled together.

A worklist of N employers for a sector, offence type and region or sub-region holds
round(N x (1 - r)) of the highest-ranked employers of the published run that were not
inspected recently, and round(N x r) drawn uniformly at random from the rest of the same
population (r: WorklistSettings, 0.30 unless an administrator sets another share). The
two are shuffled together and each gets a planned inspection: origin "ranked list" or
"random control". The inspector never sees which (the worklist, its export and the
employer page show no score, band, rank or origin for an open worklist inspection), so a
random control is inspected like a model pick, and their hit rates can be compared.

The seed, the population's size and a SHA-256 of its employer ids are stored: whoever
rebuilds the population (the employers in order of id, checked against the hash) draws
the same employers in the same order again with numpy's generator and that seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from inspections.models import Employer, Inspection, InspectionOrigin, InspectionStatus, OffenceType, Region, SubRegion
from miningwatch import stamps
from scoring.models import Score, ScoringRun
from workspace.models import Worklist, WorklistEntry, WorklistSettings

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

MAX_SIZE = 200
RECENT_DAYS = 365  # an employer visited within the last year is not put on a worklist
WORKLIST_LOCK = 7_243_001  # pg_advisory_xact_lock key of worklist_create


@dataclass(frozen=True)
class WorklistRequest:
    sector: str
    offence: str
    size: int
    region: Region | None = None
    subregion: SubRegion | None = None
    # Who inspects: the task force gives a worklist to an inspector (who then cannot tell
    # picks from controls); an inspector asks for one for themselves. None: the asker.
    inspector: AbstractBaseUser | None = None


def worklist_mix(size: int, random_share: Decimal) -> tuple[int, int]:
    """(model picks, random controls) of a worklist of `size`: round half up of size x share."""
    randoms = int((Decimal(size) * random_share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return size - randoms, randoms


def worklist_population(*, user: AbstractBaseUser, request: WorklistRequest, run: ScoringRun) -> QuerySet[Score]:
    """Scores of the run's employers the user may see, in the region or sub-region asked for,
    neither visited within RECENT_DAYS nor with an open inspection, by rank."""
    recent = timezone.localdate() - timedelta(days=RECENT_DAYS)
    inspected = Inspection.objects.filter(employer=OuterRef("employer_id")).filter(
        Q(status=InspectionStatus.COMPLETED, visit_date__gte=recent) | Q(status__in=Inspection.OPEN_STATUSES)
    )
    employers = Employer.objects.visible_to(user)
    if request.subregion is not None:
        employers = employers.filter(subregion=request.subregion)
    elif request.region is not None:
        employers = employers.filter(subregion__region=request.region)
    return (
        Score.objects.filter(run=run, employer__in=employers.values("pk")).filter(~Exists(inspected)).order_by("rank")
    )


def worklist_draw(*, ranked_ids: list[int], picks: int, randoms: int, seed: int) -> list[tuple[int, bool]]:
    """(employer id, random control?) in the worklist's order: the first `picks` of ranked_ids
    (highest first), `randoms` drawn uniformly without replacement from the others (taken
    in order of id), shuffled together; all from one generator seeded with `seed`."""
    rng = np.random.default_rng(seed)
    chosen = ranked_ids[:picks]
    rest = np.sort(np.array(ranked_ids[picks:], dtype=np.int64))
    drawn = rng.choice(rest, size=min(randoms, len(rest)), replace=False).tolist() if randoms else []
    entries = [(employer, False) for employer in chosen] + [(int(employer), True) for employer in drawn]
    order = rng.permutation(len(entries))
    return [entries[i] for i in order]


def worklist_create(*, user: AbstractBaseUser, request: WorklistRequest, seed: int | None = None) -> Worklist:
    """Draw the worklist and plan an inspection for each employer on it, all or nothing;
    ValidationError in words when it cannot be made."""
    _request_check(request, user)
    run = ScoringRun.objects.published().filter(sector_id=request.sector, offence_type_id=request.offence).first()
    if run is None:
        raise ValidationError(_("There are no published scores for this sector and offence type yet."))
    share = WorklistSettings.current().random_share
    picks, randoms = worklist_mix(request.size, share)
    _mix_check(picks, randoms, share)
    seed = int(np.random.SeedSequence().entropy % 2**62) if seed is None else seed
    with transaction.atomic():
        # One worklist at a time: two drawn at once could plan the same employers twice.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WORKLIST_LOCK])
        population = worklist_population(user=user, request=request, run=run).values_list("employer_id", "band", "rank")
        drawn_as = {employer: (band, rank) for employer, band, rank in population}
        ranked_ids = list(drawn_as)  # in rank order: the population is ordered by rank
        if len(ranked_ids) < request.size:
            raise ValidationError(
                _("Only %(count)d employers fit this choice and were not inspected recently: ask for fewer.")
                % {"count": len(ranked_ids)}
            )
        drawn = worklist_draw(ranked_ids=ranked_ids, picks=picks, randoms=randoms, seed=seed)
        worklist = Worklist.objects.create(
            created_by=user,
            sector_id=request.sector,
            offence_type_id=request.offence,
            region=request.region,
            subregion=request.subregion,
            run=run,
            size=request.size,
            random_share=share,
            seed=seed,
            population=len(ranked_ids),
            population_sha256=population_sha256(ranked_ids),
        )
        _entries_plan(worklist, drawn, drawn_as, request.inspector or user)
    return worklist


def population_sha256(ranked_ids: list[int]) -> str:
    """SHA-256 of the population's employer ids in order of id, comma-separated: an auditor
    who rebuilds the population can check it is the one the worklist was drawn from."""
    return hashlib.sha256(",".join(str(pk) for pk in sorted(ranked_ids)).encode()).hexdigest()


def _request_check(request: WorklistRequest, user: AbstractBaseUser) -> None:
    given_away = request.inspector is not None and request.inspector.pk != user.pk
    if given_away and not user.has_perm("inspections.record_any_outcome"):
        raise ValidationError(_("Only the task force gives a worklist to another inspector."))
    if not 1 <= request.size <= MAX_SIZE:
        raise ValidationError(_("Ask for 1 to %(max)d employers.") % {"max": MAX_SIZE})
    if not OffenceType.objects.filter(pk=request.offence).exists():
        raise ValidationError(_("Choose an offence type from the list."))
    if (
        request.region is not None
        and request.subregion is not None
        and request.subregion.region_id != request.region.pk
    ):
        raise ValidationError(_("That sub-region is not in that region."))


def _mix_check(picks: int, randoms: int, share: Decimal) -> None:
    """A worklist must hold both kinds when the share asks for both: one with no random
    control would tell its inspector that every employer on it is a model pick."""
    if (share > 0 and randoms == 0) or (share < 1 and picks == 0):
        least = next((size for size in range(1, MAX_SIZE + 1) if all(worklist_mix(size, share))), MAX_SIZE)
        raise ValidationError(
            _("With %(share)s %% random controls, a worklist must hold at least %(least)d employers.")
            % {"share": f"{(share * 100).normalize():f}", "least": least}
        )


def _entries_plan(
    worklist: Worklist, drawn: list[tuple[int, bool]], drawn_as: dict[int, tuple[int, int]], user: AbstractBaseUser
) -> None:
    """One planned inspection per entry, in bulk. References follow the shuffled positions
    (WL-<worklist>-<position>), so they cannot tell a model pick from a random control."""
    today = timezone.localdate()
    inspections = Inspection.objects.bulk_create(
        Inspection(
            reference=f"WL-{worklist.pk}-{position:03d}",
            employer_id=employer,
            origin=InspectionOrigin.RANDOM_CONTROL if random else InspectionOrigin.RANKED_LIST,
            status=InspectionStatus.PLANNED,
            inspector=user,
            planned_date=today,
        )
        for position, (employer, random) in enumerate(drawn, start=1)
    )
    WorklistEntry.objects.bulk_create(
        WorklistEntry(
            worklist=worklist,
            position=position,
            employer_id=inspection.employer_id,
            inspection=inspection,
            band=drawn_as[inspection.employer_id][0],
            rank=drawn_as[inspection.employer_id][1],
        )
        for position, inspection in enumerate(inspections, start=1)
    )
    # Bulk writes send no signal: the cached list pages that show last inspections go stale.
    transaction.on_commit(lambda: stamps.stamp_bump(stamps.INSPECTIONS))


def worklists_of(*, user: AbstractBaseUser) -> QuerySet[Worklist]:
    """The worklists a user asked for or was given; the task force sees every one with an
    employer it may see."""
    worklists = Worklist.objects.select_related("sector", "offence_type", "region", "subregion", "created_by")
    if user.has_perm("inspections.record_any_outcome"):  # of the employers it may see
        visible = WorklistEntry.objects.filter(employer__in=Employer.objects.visible_to(user).values("pk"))
        return worklists.filter(Exists(visible.filter(worklist=OuterRef("pk"))))
    given = WorklistEntry.objects.filter(worklist=OuterRef("pk"), inspection__inspector=user)
    return worklists.filter(Q(created_by=user) | Exists(given))


def worklist_entries(*, worklist: Worklist, user: AbstractBaseUser) -> QuerySet[WorklistEntry]:
    """Its entries in worklist order, of the employers the user may see (what the page and
    the export show: employer and planned inspection, never a score or an origin)."""
    return (
        worklist.entries.filter(employer__in=Employer.objects.visible_to(user).values("pk"))
        .select_related("employer__subregion", "employer__postal_code", "inspection")
        .order_by("position")
    )
