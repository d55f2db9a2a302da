"""Reads for the inspector's workspace. Every read of employers or scores starts from visible_to."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import numpy as np
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404

from inspections.models import (
    Employer,
    EmployerWord,
    Finding,
    Inspection,
    InspectionOrigin,
    InspectionStatus,
    Sector,
)
from scoring.features.registry import FEATURES
from scoring.models import DEFAULT_BAND_CUTOFFS, Band, ModelVersion, RunLookup, Score, ScoreCount, ScoringRun, SizeClass
from scoring.services.lookups import ListedEmployers, lookup_read
from workspace.filters import number_digits
from workspace.models import Note, ScoreJudgement

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser

PAGE_SIZE = 50


def published_run(*, sector: str, offence: str) -> ScoringRun | None:
    """The run whose scores the lists show for (sector, offence), if any, with its model
    version's band cut-offs (`version_cutoffs`, for the bands' legend)."""
    # Not the model version: its artifact is megabytes, and the pages show its id only.
    return (
        ScoringRun.objects.published()
        .filter(sector_id=sector, offence_type_id=offence)
        .annotate(version_cutoffs=F("model_version__band_cutoffs"))
        .first()
    )


@dataclass(frozen=True)
class BandShare:
    """One band's place in a ranking, in % of the ranked employers: `start` above it."""

    band: int
    start: float
    share: float


def band_shares(*, cutoffs: dict[str, float] | None) -> list[BandShare]:
    """Each band's share of the sector's ranking for one offence, from a model version's
    cut-offs (cumulative shares: red 0.05, orange 0.15, green 0.40 means the top 5 % red,
    the next 10 % orange, the next 25 % green, the other 60 % blue)."""
    cumulative = cutoffs or DEFAULT_BAND_CUTOFFS
    ends = [cumulative["red"], cumulative["orange"], cumulative["green"], 1.0]
    shares, start = [], 0.0
    for band, end in zip(Band.values, ends, strict=True):
        # Rounded: 0.15 - 0.05 is 0.09999999999999999 in floating point.
        shares.append(BandShare(band, round(100 * start, 1), round(100 * (end - start), 1)))
        start = end
    return shares


@dataclass(frozen=True)
class LastInspection:
    """An employer's latest completed visit and what it found for one offence type:
    True or False, or None when that visit did not check it."""

    visit_date: date
    found: bool | None


@dataclass
class RankedPage:
    """One page of a ranked list: rows in rank order and the keys of the pages around it.

    Each row carries `rank_shown`, `percentile_shown` (as the user sees them: the run's
    own, unless the user has open worklist inspections, see ListBlinding) and
    `last_inspection` (a LastInspection or None)."""

    rows: list[Score]
    has_previous: bool
    has_next: bool

    @property
    def first_rank(self) -> int | None:
        return self.rows[0].rank_shown if self.rows else None

    @property
    def last_rank(self) -> int | None:
        return self.rows[-1].rank_shown if self.rows else None


def ranked_page(
    *,
    scores: QuerySet[Score],
    after: int | None,
    before: int | None,
    last: bool,
    offence: str,
    blinding: ListBlinding | None = None,
) -> RankedPage:
    """A page by keyset on the rank: as fast on the last page as on the first.

    `after`: the page after this (shown) rank; `before`: the page before it; `last`: the
    last page; `offence`: the list's offence type, whose finding at each employer's last
    inspection the rows show.
    """
    blinding = blinding or ListBlinding()
    scores = scores.select_related("employer", "subregion")
    if last or before is not None:
        window = scores.filter(rank__lt=blinding.stored(before)) if before is not None else scores
        rows = list(window.order_by("-rank")[: PAGE_SIZE + 1])
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        page = RankedPage(rows, has_previous=more, has_next=not last and bool(rows))
        if page.rows and not last:
            page.has_next = scores.filter(rank__gt=page.rows[-1].rank).exists()
    else:
        window = scores.filter(rank__gt=blinding.stored(after)) if after is not None else scores
        rows = list(window.order_by("rank")[: PAGE_SIZE + 1])
        page = RankedPage(rows[:PAGE_SIZE], has_previous=bool(after), has_next=len(rows) > PAGE_SIZE)
    seen = last_inspections(employer_ids=[row.employer_id for row in page.rows], offence=offence)
    # The labels in the reader's language, once a page: get_band_display translates every
    # choice again for each row.
    bands, sizes = dict(Band.choices), dict(SizeClass.choices)
    bands, sizes = {key: str(label) for key, label in bands.items()}, {key: str(label) for key, label in sizes.items()}
    for row in page.rows:
        row.band_label, row.size_label = bands[row.band], sizes.get(row.size_class, "")
        row.rank_shown = blinding.shown(row.rank)
        row.percentile_shown = blinding.percentile(row.rank, row.percentile)
        row.last_inspection = seen.get(row.employer_id)
    return page


def last_inspections(*, employer_ids: list[int], offence: str) -> dict[int, LastInspection]:
    """The latest completed visit of each employer and what it found for `offence` (one query).

    The list's own offence, not any: a visit that found lay-off fraud says nothing about
    undeclared work, and an inspector reading "offence found" on an undeclared-work list
    would take it for that."""
    if not employer_ids:
        return {}
    # At most one finding per inspection and offence type (finding_one_per_offence); NULL
    # when the visit did not check it.
    finding = Finding.objects.filter(inspection=OuterRef("pk"), offence_type_id=offence).values("found")[:1]
    latest = (
        Inspection.objects.filter(employer_id__in=employer_ids, status=InspectionStatus.COMPLETED)
        .order_by("employer_id", "-visit_date", "-id")
        .distinct("employer_id")
        .annotate(found_offence=Subquery(finding))
        .values_list("employer_id", "visit_date", "found_offence")
    )
    return {employer: LastInspection(visit, found) for employer, visit, found in latest}


def band_counts(*, counts: QuerySet[ScoreCount] | None, scores: QuerySet[Score] | None) -> dict[int, int]:
    """Employers per band: summed from ScoreCount, or counted from the scores when searching."""
    if counts is not None:
        grouped = counts.values("band").annotate(n=Sum("employers")).order_by()
    else:
        assert scores is not None
        grouped = scores.values("band").annotate(n=Count("*")).order_by()
    found = {row["band"]: row["n"] for row in grouped}
    return {band: found.get(band, 0) for band in Band.values}


def band_counts_looked_up(
    *, run: ScoringRun, employer_ids: np.ndarray, keep: Callable[[ListedEmployers], np.ndarray]
) -> dict[int, int] | None:
    """Employers per band among `employer_ids` (a name search's) that `keep` keeps, from the
    run's lookup (RunLookup); None for a run published before lookups existed. A broad
    search ("Bouw") counted from the scores would probe one score per match."""
    lookup = _run_lookup(run.pk, run.finished_at)
    if lookup is None:
        return None
    first_employer, packed = lookup
    listed = lookup_read(first_employer=first_employer, packed=packed, employer_ids=employer_ids)
    found = np.bincount(listed.band[keep(listed)], minlength=len(Band.values) + 1)
    return {band: int(found[band]) for band in Band.values}


@functools.lru_cache(maxsize=24)
def _run_lookup(run_id: int, published: datetime | None) -> tuple[int, bytes] | None:
    """A run's packed lookup, kept in the process (two bytes per employer id): written with
    the run, it never changes. The publication time is in the key all the
    same: run ids come again in a new (test) database."""
    row = RunLookup.objects.filter(run_id=run_id).values_list("first_employer", "packed").first()
    return None if row is None else (row[0], bytes(row[1]))


def run_lookups_forget() -> None:
    """Empty this process's copies of the runs' lookups (benchmarks of uncached pages)."""
    _run_lookup.cache_clear()


# Finding an employer (the search in the navigation bar).

SEARCH_LIMIT = 25


@dataclass(frozen=True)
class EmployerSearch:
    """The employers a search found (at most SEARCH_LIMIT, by name), and whether more match."""

    employers: list[Employer]
    more: bool


def employer_search(*, user: User, text: str, limit: int = SEARCH_LIMIT) -> EmployerSearch:
    """Employers the user may see whose enterprise number is (or starts with) the digits of
    `text`, or whose name has words starting with each word of `text`, in every sector.

    Two queries whatever the number of matches: the ids (one index range per word and
    sector, or the unique index on enterprise numbers), then at most `limit` employers.
    No score, band or rank is read: the order is by name, so nothing here tells which of
    them the user's open worklist inspections hide from their ranked lists."""
    digits = number_digits(text)
    employers = Employer.objects.visible_to(user)
    if digits is not None:
        matching = employers.filter(_number_match(digits)).values_list("pk", flat=True)
    else:
        matching = _name_match(user=user, text=text)
    # Twice the limit: a name's word found twice ("Janssens & Janssen") gives its id twice.
    ids = list(dict.fromkeys(matching.order_by()[: 2 * limit]))
    found = employers.filter(pk__in=ids[:limit]).select_related("sector", "postal_code").order_by("name", "pk")
    return EmployerSearch(list(found), more=len(ids) > limit)


def _number_match(digits: str) -> Q:
    # Nine or ten digits are a whole number ("403170701" lost its leading zero in a
    # spreadsheet); fewer are its start, as in the lists. Both read the unique index.
    if len(digits) in (9, 10):
        return Q(enterprise_number=digits.zfill(10))
    if len(digits) > 10:
        return Q(pk__in=[])
    return Q(enterprise_number__startswith=digits)


def _name_match(*, user: User, text: str) -> QuerySet:
    """The ids of the employers with the words of `text`, sector by sector (the word index
    starts with the sector), as one UNION ALL: PostgreSQL stops reading at the LIMIT, where
    a UNION would first read every match of a common word ("bv") to drop duplicates."""
    words = EmployerWord.objects.visible_to(user)
    per_sector = [words.employer_ids(text, sector=code) for code in Sector.objects.values_list("code", flat=True)]
    if not per_sector:
        return words.none().values_list("employer_id", flat=True)
    first, *others = per_sector
    return first.union(*others, all=True) if others else first


def visible_inspection(*, user: User, reference: str, employer: Employer | None = None) -> Inspection:
    """The inspection with this reference, of an employer the user may see (of `employer` if
    given); 404 otherwise, and for a reference no column could hold (a NUL character)."""
    if "\x00" in reference:
        raise Http404
    inspections = Inspection.objects.filter(employer__in=Employer.objects.visible_to(user))
    if employer is not None:
        inspections = inspections.filter(employer=employer)
    return get_object_or_404(inspections.select_related("employer", "inspector"), reference=reference)


def employer_scores(*, employer: Employer) -> list[Score]:
    """The employer's published score for each offence type, with the model version behind it."""
    published = ScoringRun.objects.published().values("pk")
    return list(
        Score.objects.filter(employer=employer, run__in=published)
        .select_related("run__offence_type")  # the version's id only: not its artifact
        .annotate(version_cutoffs=F("run__model_version__band_cutoffs"))  # for the bands' legend
        .order_by("band", "run__offence_type_id")
    )


def band_legends(*, scores: list[Score]) -> list[tuple[list[str], list[BandShare]]]:
    """The bands' legends of an employer's scores: one for all when their model versions
    share cut-offs (as they do unless an analyst changed some), else one per set of
    cut-offs with the offence types it applies to."""
    legends: dict[str, tuple[list[str], list[BandShare]]] = {}
    for score in scores:
        shares = band_shares(cutoffs=getattr(score, "version_cutoffs", None))
        names, _ = legends.setdefault(repr(shares), ([], shares))
        names.append(score.run.offence_type.name)
    return list(legends.values())


def employer_inspections(*, employer: Employer) -> QuerySet[Inspection]:
    return (
        employer.inspections.select_related("inspector", "worklist_entry")
        .prefetch_related("findings__offence_type")
        .order_by("-visit_date", "-planned_date", "-id")
    )


def employer_notes(*, employer: Employer) -> QuerySet[Note]:
    return employer.notes.select_related("author").order_by("-created_at", "-id")


def recent_notes_nearby(*, employer: Employer, user: User, limit: int = 5) -> QuerySet[Note]:
    """Colleagues' latest notes on other employers of the same sub-region."""
    return (
        Note.objects.filter(employer__in=Employer.objects.visible_to(user).filter(subregion_id=employer.subregion_id))
        .exclude(employer=employer)
        .select_related("author", "employer")
        .order_by("-created_at")[:limit]
    )


def recent_notes_for(*, user: User, limit: int = 8) -> QuerySet[Note]:
    """Colleagues' latest notes on employers the user may see (home page): not the user's
    own, which they know already and would crowd out the others'."""
    return (
        Note.objects.filter(employer__in=Employer.objects.visible_to(user))
        .exclude(author_id=user.pk)
        .select_related("author", "employer__subregion")
        .order_by("-created_at")[:limit]
    )


def targets_of(*, user: User) -> QuerySet[Inspection]:
    """The user's targets, newest first: inspections planned from the ranked lists or on a
    worklist (either origin: a worklist's random controls are targets like its picks)."""
    return (
        Inspection.objects.filter(inspector_id=user.pk)
        .filter(Q(origin=InspectionOrigin.RANKED_LIST) | Q(worklist_entry__isnull=False))
        .filter(employer__in=Employer.objects.visible_to(user))
        .select_related("employer__subregion")
        .order_by("-created_at")
    )


def band_counts_for_user(*, user: User) -> list[tuple[ScoringRun, dict[int, int]]]:
    """Per published run, the employers per band in the user's regions (home page), less
    those of the user's open worklist inspections, as in their lists: three queries."""
    runs = list(ScoringRun.objects.published().select_related("sector", "offence_type"))
    run_ids = [run.pk for run in runs]
    rows = (
        ScoreCount.objects.visible_to(user)
        .filter(run__in=run_ids)
        .values("run_id", "band")
        .annotate(n=Sum("employers"))
        .order_by()
    )
    table: dict[int, dict[int, int]] = {run.pk: dict.fromkeys(Band.values, 0) for run in runs}
    for row in rows:
        table[row["run_id"]][row["band"]] = row["n"]
    hidden = (
        Score.objects.visible_to(user)
        .filter(run__in=run_ids, employer_id__in=blinded_employers(user=user))
        .values("run_id", "band")
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in hidden:
        table[row["run_id"]][row["band"]] -= row["n"]
    return [(run, table[run.pk]) for run in runs]


def active_version(*, sector: str, offence: str) -> ModelVersion | None:
    return ModelVersion.objects.active().filter(sector_id=sector, offence_type_id=offence).defer("artifact").first()


@dataclass(frozen=True)
class StrongFeature:
    name: str
    share: float  # of all that the model's features add to scores where they raise them, 0 to 1

    @property
    def label(self) -> str:
        feature = FEATURES.get(self.name)
        return str(feature.label) if feature else self.name

    @property
    def percent(self) -> int:
        return round(self.share * 100)


@dataclass(frozen=True)
class StrongestFeatures:
    """The active model's features that raise scores most (`features`, largest first), and
    whether there is an active model at all (`active`: its importance may predate them)."""

    active: bool
    features: list[StrongFeature]


def strongest_features(*, sector: str, offence: str, limit: int = 6) -> StrongestFeatures:
    """From the importance stored when the active model was trained: per feature, how much
    it raises the validation employers' scores on average (contributions.importance_of),
    as a share of all features together. Versions trained before it was stored have none."""
    version = active_version(sector=sector, offence=offence)
    if version is None:
        return StrongestFeatures(active=False, features=[])
    stored = (version.metrics or {}).get("feature_importance")
    importance = {
        name: float(value)
        for name, value in (stored.items() if isinstance(stored, dict) else [])
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    }
    total = sum(importance.values())
    ranked = sorted(importance.items(), key=lambda item: item[1], reverse=True)[:limit]
    return StrongestFeatures(active=True, features=[StrongFeature(name, value / total) for name, value in ranked])


def open_target(*, user: User, employer: Employer) -> Inspection | None:
    """The user's planned or running inspection of this employer from the lists, if any."""
    return targets_of(user=user).filter(employer=employer, status__in=Inspection.OPEN_STATUSES).first()


def declaration_chart(*, declarations: list) -> dict[str, list]:
    """The series of the employer page's chart (see static/js/employer-chart.js)."""
    return {
        "quarters": [d.quarter_label for d in declarations],
        "headcount": [d.headcount for d in declarations],
        "fte": [float(d.fte) for d in declarations],
        "part_time_percent": [round(float(d.part_time_share) * 100, 1) for d in declarations],
        "layoff_days": [d.temporary_unemployment_days for d in declarations],
    }


@dataclass(frozen=True)
class VerdictCounts:
    """Judgements of one model version, or of one reason of it, by verdict."""

    sector: str
    offence: str
    version: int
    reason: str  # feature name; "" for the model as a whole
    agree: int = 0
    disagree: int = 0
    cannot_tell: int = 0

    @property
    def total(self) -> int:
        return self.agree + self.disagree + self.cannot_tell

    @property
    def label(self) -> str:
        """The reason's feature in the reader's language (its name if no longer registered)."""
        feature = FEATURES.get(self.reason)
        return str(feature.label) if feature else self.reason


def judgements_summary(*, user: User) -> tuple[list[VerdictCounts], list[VerdictCounts]]:
    """Inspectors' judgements of the employers the user may see, per model version and per
    reason shown (one query), for the task force and the analysts; ordered by sector,
    offence, version, reason."""
    counts: dict[tuple[str, str, int, str], dict[str, int]] = {}
    judgements = ScoreJudgement.objects.filter(employer__in=Employer.objects.visible_to(user).values("pk"))
    rows = judgements.values_list(
        "model_version__sector_id", "model_version__offence_type_id", "model_version_id", "verdict", "reasons"
    )
    for sector, offence, version, verdict, reasons in rows:
        for reason in ["", *reasons]:
            tally = counts.setdefault((sector, offence, version, reason), {})
            tally[verdict] = tally.get(verdict, 0) + 1
    table = [VerdictCounts(*key, **tally) for key, tally in sorted(counts.items())]
    return [row for row in table if not row.reason], [row for row in table if row.reason]


def judgements_by_author(*, author: User, employer: Employer, inspection: Inspection | None = None) -> dict:
    """The author's judgements of the employer's scores, by (offence type, model version)."""
    judgements = ScoreJudgement.objects.filter(author=author, employer=employer, inspection=inspection)
    return {(judgement.offence_type_id, judgement.model_version_id): judgement for judgement in judgements}


# What a user's ranked lists leave out: the employers of their open worklist inspections.


def _open_worklist_inspections(user: AbstractBaseUser) -> QuerySet[Inspection]:
    """The user's worklist inspections whose employers stay hidden from them: each one not
    completed (a cancelled one too: cancelling must not be a way to see the scores), and
    every one of a worklist that still has an inspection to do. Seeing the model picks
    among the first ones done would tell that the rest are random controls: the share of
    random controls is known."""
    to_do = Inspection.objects.filter(
        worklist_entry__worklist=OuterRef("worklist_entry__worklist"), status__in=Inspection.OPEN_STATUSES
    )
    return Inspection.objects.filter(inspector=user, worklist_entry__isnull=False).filter(
        ~Q(status=InspectionStatus.COMPLETED) | Exists(to_do)
    )


def blinded_for(*, user: AbstractBaseUser, employer: Employer) -> bool:
    """Whether the employer is on one of the user's open worklist inspections: its pages
    then show no score, band, rank or reason."""
    return _open_worklist_inspections(user).filter(employer=employer).exists()


def blinded_employers(*, user: AbstractBaseUser) -> QuerySet[Inspection]:
    """The ids (`employer_id`) of the employers of the user's open worklist inspections, as
    a subquery: left out of their ranked lists, exports and band counts (see ListBlinding)."""
    return _open_worklist_inspections(user).values("employer_id")


def blinded_employer_ids(*, user: AbstractBaseUser | AnonymousUser) -> tuple[int, ...]:
    """The same ids, sorted and read."""
    if not user.is_authenticated:
        return ()
    return tuple(sorted({row["employer_id"] for row in blinded_employers(user=user)}))


@dataclass(frozen=True)
class ListBlinding:
    """How a ranked list hides the employers of the user's open worklist inspections.

    Their rows are left out, and the ranks shown close up over them: a list whose ranks
    ran 11, 13 would tell the inspector that one of their worklist employers stands at 12,
    a model pick. Shown ranks are also the page keys in the address, for the same reason.
    """

    employer_ids: tuple[int, ...] = ()
    ranks: tuple[int, ...] = ()  # theirs in the list's run, sorted
    scored: int = 0  # employers the run scored

    def shown(self, rank: int) -> int:
        """The rank the user sees for a listed employer's rank in the run."""
        return rank - bisect.bisect_left(self.ranks, rank)

    def percentile(self, rank: int, percentile: float) -> float:
        """The percentile the user sees: the share scored lower among the employers left
        (scoring.services.ranking.scores_rank), so that it closes up with the ranks."""
        if not self.ranks:
            return percentile
        left = self.scored - len(self.ranks)
        return 100.0 * (left - self.shown(rank)) / left

    def stored(self, shown: int) -> int:
        """The rank in the run of the listed employer the user sees at `shown`."""
        rank = shown
        for hidden in self.ranks:
            if hidden > rank:
                break
            rank += 1
        return rank


def scores_as_shown(*, scores: list[Score], blinded: tuple[int, ...]) -> list[Score]:
    """Each score with `rank_shown` and `percentile_shown`, as the user's ranked lists show
    them (ListBlinding): an employer page with the run's own rank would tell, by the
    difference, how many of the user's hidden worklist employers rank above it. One query,
    for a user with open worklist inspections only."""
    ranks = _hidden_ranks(run_ids=[score.run_id for score in scores], blinded=blinded)
    for score in scores:
        blinding = ListBlinding(blinded, ranks[score.run_id], score.run.employers_scored)
        score.rank_shown = blinding.shown(score.rank)
        score.percentile_shown = blinding.percentile(score.rank, score.percentile)
    return scores


def list_blinding(*, employer_ids: tuple[int, ...], run: ScoringRun) -> ListBlinding:
    """The blinding of one run's list: one query, for a user with open worklist inspections only."""
    if not employer_ids:
        return ListBlinding()
    ranks = _hidden_ranks(run_ids=[run.pk], blinded=employer_ids)[run.pk]
    return ListBlinding(employer_ids, ranks, run.employers_scored)


def _hidden_ranks(*, run_ids: list[int], blinded: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    """Per run, the ranks of the blinded employers, sorted (one query; none without either)."""
    ranks: dict[int, list[int]] = {run_id: [] for run_id in run_ids}
    if blinded and run_ids:
        hidden = Score.objects.filter(run__in=run_ids, employer_id__in=blinded).values_list("run_id", "rank")
        for run_id, rank in hidden:
            ranks[run_id].append(rank)
    return {run_id: tuple(sorted(found)) for run_id, found in ranks.items()}
