"""Risk models, scoring runs and the scores they publish.

One ModelVersion per trained (or uploaded) model; one of them per (sector, offence) is
active. A ScoringRun scores every active employer of a sector with the active model of
one offence type and writes one Score per employer; lists show the latest succeeded
run of each (sector, offence) only (ScoringRunQuerySet.published).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inspections.models import Employer, InspectorScope, OffenceType, ScopedQuerySet, Sector, SubRegion

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

# Cumulative shares of the ranked employers: top 5 % red, next 10 % orange, next 25 %
# green, the rest blue (analysts may store others with a model version).
DEFAULT_BAND_CUTOFFS = {"red": 0.05, "orange": 0.15, "green": 0.40}


class Band(models.IntegerChoices):
    RED = 1, _("red")
    ORANGE = 2, _("orange")
    GREEN = 3, _("green")
    BLUE = 4, _("blue")


def band_cutoffs_validate(value: Any) -> None:
    """Three increasing shares in (0, 1]: red < orange < green."""
    if not isinstance(value, dict) or set(value) != {"red", "orange", "green"}:
        raise ValidationError(_("Give the shares for red, orange and green, e.g. red 0.05, orange 0.15, green 0.40."))
    shares = [value["red"], value["orange"], value["green"]]
    if not all(isinstance(share, int | float) and not isinstance(share, bool) for share in shares):
        raise ValidationError(_("Band shares must be numbers between 0 and 1."))
    if not 0 < shares[0] < shares[1] < shares[2] <= 1:
        raise ValidationError(_("Band shares must grow from red to green, each between 0 and 1."))


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", _("Candidate: waiting for a second person")
    APPROVED = "approved", _("Approved: may be activated")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")
    REJECTED = "rejected", _("Refused")


class ModelVersionQuerySet(models.QuerySet["ModelVersion"]):
    def active(self) -> ModelVersionQuerySet:
        return self.filter(status=ModelStatus.ACTIVE)


class ModelVersion(models.Model):
    """A trained risk model for one sector and offence type, with how it was made and how well it did."""

    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, verbose_name=_("sector"))
    offence_type = models.ForeignKey(OffenceType, on_delete=models.PROTECT, verbose_name=_("offence type"))
    status = models.CharField(_("status"), max_length=20, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE)
    # The artifact in skops format (never pickle): a dict {"model": Pipeline, "features": [names]}.
    artifact = models.BinaryField(_("artifact (skops)"))
    artifact_sha256 = models.CharField(max_length=64)
    features = models.JSONField(_("features"), help_text=_("Names from the feature registry, in model order"))
    training_from = models.DateField(_("training from"))
    training_to = models.DateField(_("training up to (cut-off)"))
    validation_to = models.DateField(_("validation up to"))
    training_rows = models.PositiveIntegerField(_("training inspections"))
    validation_rows = models.PositiveIntegerField(_("validation inspections"))
    training_data_sha256 = models.CharField(_("hash of the training data"), max_length=64)
    sklearn_version = models.CharField(_("scikit-learn version"), max_length=20)
    metrics = models.JSONField(_("validation metrics"), default=dict)
    band_cutoffs = models.JSONField(_("band cut-offs"), default=dict, validators=[band_cutoffs_validate])
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("created by")
    )
    origin = models.CharField(_("made by"), max_length=100, help_text=_("e.g. nightly retrain, upload by an analyst"))
    review_note = models.TextField(_("note for the analysts"), blank=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["sector", "offence_type", "-created_at"]
        verbose_name = _("model version")
        permissions = [
            ("approve_modelversion", "Can approve or refuse a model version made by somebody else"),
            ("activate_modelversion", "Can activate an approved model version or roll back to an earlier one"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sector", "offence_type"], condition=Q(status="active"), name="model_one_active_per_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sector_id}/{self.offence_type_id} #{self.pk} ({self.status})"

    @property
    def cutoffs(self) -> dict[str, float]:
        return self.band_cutoffs or DEFAULT_BAND_CUTOFFS

    def may_approve(self, user: AbstractBaseUser) -> bool:
        """Four eyes: a candidate is approved by somebody other than whoever made it (the
        nightly run made those without a maker)."""
        return self.status == ModelStatus.CANDIDATE and self.created_by_id != user.pk

    @property
    def may_activate(self) -> bool:
        """Approved, or retired after being active (a rollback): never a candidate."""
        return self.status == ModelStatus.APPROVED or (
            self.status == ModelStatus.RETIRED and self.activated_at is not None
        )


class ModelEventAction(models.TextChoices):
    CREATED = "created", _("made")
    APPROVED = "approved", _("approved")
    REFUSED = "refused", _("refused")
    ACTIVATED = "activated", _("activated")
    ROLLED_BACK = "rolled_back", _("activated again (rollback)")
    RETIRED = "retired", _("retired")


class ModelEventQuerySet(models.QuerySet["ModelEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise ValidationError("The history of model versions cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValidationError("The history of model versions cannot be deleted.")


class ModelEvent(models.Model):
    """One step in a model version's life: who made, approved, refused, activated or retired
    it, when and why. Written once: the application, the admin and (by a trigger,
    migration scoring 0009) the database refuse to change or delete a row."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("action"), max_length=20, choices=ModelEventAction.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("by")
    )  # None: the nightly run
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.TextField(_("why"), blank=True)

    objects = ModelEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("model version event")

    def __str__(self) -> str:
        return f"{self.version_id} {self.action} by {self.by or 'the nightly run'} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError("The history of model versions cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError("The history of model versions cannot be deleted.")


class UploadStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    CHECKING = "checking", _("Being checked")
    DONE = "done", _("Stored as a candidate")
    REFUSED = "refused", _("Refused")


class ModelUpload(models.Model):
    """A model file an analyst sent from the model pages, until a worker has checked it
    (scoring.services.uploads.model_upload_check): the checks run a sandboxed child
    process and score the validation inspections, which a web request must not wait on."""

    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, verbose_name=_("sector"))
    offence_type = models.ForeignKey(OffenceType, on_delete=models.PROTECT, verbose_name=_("offence type"))
    file = models.BinaryField(_("model file"))  # emptied once checked: the version keeps it
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.PositiveIntegerField(_("size (bytes)"))
    file_sha256 = models.CharField(max_length=64)
    description = models.TextField(_("description"), blank=True)
    band_cutoffs = models.JSONField(_("band cut-offs"), default=dict, validators=[band_cutoffs_validate])
    training_from = models.DateField(_("trained on inspections from"), null=True, blank=True)
    training_to = models.DateField(_("trained on inspections up to"), null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("uploaded by"))
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=20, choices=UploadStatus.choices, default=UploadStatus.QUEUED)
    message = models.TextField(_("message"), blank=True)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("model upload")

    def __str__(self) -> str:
        return f"upload {self.pk} {self.file_name} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (UploadStatus.DONE, UploadStatus.REFUSED)


class ComparisonStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ModelComparison(models.Model):
    """Two versions of one pair scored on the same validation inspections and the same
    sample of the sector as of one day (scoring.services.comparisons), by a worker."""

    first = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    second = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    as_of = models.DateField(_("data as of"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=20, choices=ComparisonStatus.choices, default=ComparisonStatus.QUEUED)
    result = models.JSONField(default=dict)
    message = models.TextField(blank=True)

    class Meta:
        verbose_name = _("model comparison")
        constraints = [
            # The same two versions on the same day's data: one comparison, asked for again.
            models.UniqueConstraint(fields=["first", "second", "as_of"], name="comparison_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"versions {self.first_id} and {self.second_id} as of {self.as_of}"

    @property
    def finished(self) -> bool:
        return self.status in (ComparisonStatus.DONE, ComparisonStatus.FAILED)


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    # Not run: the data would not carry the scores (services.freshness); the previous stay published.
    REFUSED = "refused", _("Refused")


class ScoringRunQuerySet(models.QuerySet["ScoringRun"]):
    def published(self) -> ScoringRunQuerySet:
        """The latest succeeded run of each (sector, offence): the scores lists show."""
        return (
            self.filter(status=RunStatus.SUCCEEDED)
            # The _id columns: "sector" would order by the joined Sector's Meta.ordering
            # (its code), which PostgreSQL refuses to match with DISTINCT ON (sector_id).
            .order_by("sector_id", "offence_type_id", "-finished_at", "-id")
            .distinct("sector_id", "offence_type_id")
        )


class ScoringRun(models.Model):
    """One scoring of every active employer of a sector for one offence type."""

    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, verbose_name=_("sector"))
    offence_type = models.ForeignKey(OffenceType, on_delete=models.PROTECT, verbose_name=_("offence type"))
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, verbose_name=_("model version"))
    as_of = models.DateField(_("data as of"))
    status = models.CharField(_("status"), max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    employers_scored = models.PositiveIntegerField(default=0)
    progress = models.FloatField(default=0, help_text=_("Share done, 0 to 1"))
    message = models.TextField(blank=True)
    # The age of the data the scores rest on, which the lists show beside them.
    data_quarter = models.DateField(
        _("declarations up to the quarter"),
        null=True,
        blank=True,
        help_text=_("First day of the latest quarter whose declarations the scores rest on"),
    )
    declared_shares = models.JSONField(
        _("declarations per quarter"),
        default=dict,
        blank=True,
        help_text=_("Per quarter the features read: declarations, and employers of the sector active in it"),
    )

    objects = ScoringRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("scoring run")
        indexes = [
            # ScoringRun.objects.published(): WHERE status = 'succeeded' per (sector, offence).
            models.Index(fields=["sector", "offence_type", "status", "-finished_at"], name="run_published"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.sector_id}/{self.offence_type_id} ({self.status})"

    @property
    def data_quarter_last_month(self) -> date | None:
        """The first day of the last month of data_quarter (the lists say "2026-04 to 2026-06")."""
        if self.data_quarter is None:
            return None
        return self.data_quarter.replace(month=self.data_quarter.month + 2)

    @property
    def advisory_key(self) -> int:
        """Key of the PostgreSQL advisory lock its worker holds while it runs (see services.runs)."""
        return 0x5C0_0000_0000 + int(self.pk)


class SizeClass(models.IntegerChoices):
    """Workers on the payroll (average of the last four quarters), in the EU's size classes."""

    MICRO = 1, _("fewer than 10 workers")
    SMALL = 2, _("10 to 49 workers")
    MEDIUM = 3, _("50 to 249 workers")
    LARGE = 4, _("250 workers or more")

    @staticmethod
    def limits() -> list[int]:
        """Lower bound of each class above micro (numpy.digitize bins)."""
        return [10, 50, 250]


class VisitRecency(models.IntegerChoices):
    """How long before the run's date an employer was last inspected (visited)."""

    WITHIN_6_MONTHS = 0, _("in the last 6 months")
    WITHIN_12_MONTHS = 1, _("6 to 12 months before")
    WITHIN_24_MONTHS = 2, _("1 to 2 years before")
    WITHIN_36_MONTHS = 3, _("2 to 3 years before")
    LONGER_OR_NEVER = 4, _("more than 3 years before, or never")

    @staticmethod
    def months() -> list[int]:
        """Upper bound in months of each class but the last: "not inspected in the last N months"."""
        return [6, 12, 24, 36]


class ScoreQuerySet(ScopedQuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        """Scores of employers the user may see, by the score's copy of the sub-region AND
        the employer's current one.

        The copy is as of the run: an employer that has since moved out of a limited
        inspector's regions would otherwise stay in their lists and exports until the next
        run, while its page already answers 404. The copy still narrows the rows on the
        (run, subregion, rank) index; the employer's sub-region is one join more, for
        limited users only: everyone else keeps the very same query.
        """
        scores = super().visible_to(user)
        subregions = InspectorScope.subregion_codes_for(user) if user.is_authenticated else None
        if subregions is None:
            return scores
        return scores.filter(employer__subregion_id__in=subregions)


class Score(models.Model):
    """The risk of one employer for one offence type, from one scoring run.

    Besides the score, a row carries copies of what the ranked lists filter on (sub-region,
    size class, legal form, time since the last visit) as of the run, so that a list, its band counts
    and its pages are read from this table alone, on an index that starts with the run.
    """

    # Identified by run and rank: the table is partitioned by run (migration 0005, see
    # runs._publish), and a partitioned table's keys must hold the partition key.
    pk = models.CompositePrimaryKey("run", "rank")
    # No database foreign keys on this table: a run writes hundreds of thousands of rows at
    # once, and PostgreSQL would check each of them against the run and the employer at
    # commit, a large part of a rescore. The run row is written before its scores by the
    # same service, and employers are never deleted while scored (Django's on_delete still
    # cascades); the (run, rank) index serves every query by run.
    run = models.ForeignKey(
        ScoringRun, on_delete=models.CASCADE, related_name="scores", db_constraint=False, db_index=False
    )
    employer = models.ForeignKey(
        Employer, on_delete=models.CASCADE, related_name="scores", db_constraint=False, db_index=False
    )
    score = models.FloatField(_("score"))
    rank = models.PositiveIntegerField(_("rank"))
    percentile = models.FloatField(_("percentile"), help_text=_("Share of the sector scored lower, 0 to 100"))
    band = models.PositiveSmallIntegerField(_("band"), choices=Band.choices)
    # Red and orange bands only: the three features that raise this employer's score most
    # in the live model, as "name@sector median" (feature registry), with the employer's
    # value; the text is written at display time, in the reader's language.
    reason_1 = models.CharField(max_length=40, blank=True)
    reason_1_value = models.FloatField(null=True)
    reason_2 = models.CharField(max_length=40, blank=True)
    reason_2_value = models.FloatField(null=True)
    reason_3 = models.CharField(max_length=40, blank=True)
    reason_3_value = models.FloatField(null=True)
    # Copies for the ranked lists (see the class docstring); null in runs made before them.
    subregion = models.ForeignKey(
        SubRegion,
        on_delete=models.PROTECT,
        null=True,
        db_index=False,
        db_constraint=False,
        verbose_name=_("sub-region"),
    )
    size_class = models.PositiveSmallIntegerField(_("size"), choices=SizeClass.choices, null=True)
    legal_form = models.CharField(_("legal form"), max_length=10, blank=True)
    visit_recency = models.PositiveSmallIntegerField(_("last inspection"), choices=VisitRecency.choices, null=True)

    objects = ScoreQuerySet.as_manager()

    class Meta:
        verbose_name = _("score")
        indexes = [
            # Ranked list of one sub-region (or a region's few): WHERE run_id = ? AND
            # subregion_id IN (...) ORDER BY rank, first page and last page alike.
            models.Index(fields=["run", "subregion", "rank"], name="score_run_subregion_rank"),
            # Lists filtered on a rare size class and legal form (large NVs not inspected in
            # two years: 53 of 458,668 scores), which the rank order would walk past almost
            # all of: read off this one, then sorted. Built with the run's partition.
            models.Index(fields=["run", "size_class", "legal_form", "rank"], name="score_run_size_form_rank"),
        ]
        # The primary key (run, rank) serves the ranked list: WHERE run_id = ? ORDER BY rank
        # (keyset pagination on rank).
        constraints = [
            # Employer page: WHERE employer_id = ? AND run_id IN (published runs).
            models.UniqueConstraint(fields=["employer", "run"], name="score_one_per_employer_run"),
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=1), name="score_probability"),
        ]

    def __str__(self) -> str:
        return f"{self.employer_id} run {self.run_id}: {self.score:.3f}"

    def reasons(self) -> list[tuple[str, float | None]]:
        pairs = [
            (self.reason_1, self.reason_1_value),
            (self.reason_2, self.reason_2_value),
            (self.reason_3, self.reason_3_value),
        ]
        return [(name, value) for name, value in pairs if name]


class ScoreCount(models.Model):
    """Employers of one run per band and per value of every list filter but the search.

    Written with the run's scores, in the same transaction: the band counts above a
    ranked list sum a few thousand of these rows instead of counting a sector's scores.

    Their sub-region is the scores' copy as of the run. So for a user limited to some
    regions the band counts above a list and on the home page still count an employer
    that has moved out since, until the next run, while its row and its page are gone
    (Score.objects.visible_to also checks the employer's current sub-region). Counting
    a region's scores joined to their employers instead costs a pass over the region's
    scores on every page (docs/benchmarks.md).
    """

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="counts")
    subregion = models.ForeignKey(SubRegion, on_delete=models.PROTECT, null=True, db_index=False)
    size_class = models.PositiveSmallIntegerField(choices=SizeClass.choices, null=True)
    legal_form = models.CharField(max_length=10, blank=True)
    visit_recency = models.PositiveSmallIntegerField(choices=VisitRecency.choices)
    band = models.PositiveSmallIntegerField(choices=Band.choices)
    employers = models.PositiveIntegerField()

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("score count")
        indexes = [
            # Band counts of a ranked list: WHERE run_id = ? AND <filters> GROUP BY band
            models.Index(fields=["run", "subregion"], name="scorecount_run_subregion"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} band {self.band}: {self.employers}"


class RunLookup(models.Model):
    """A run's list columns per employer id, packed (scoring.services.lookups): what the
    band counts of a name search read instead of the scores. Written with the run's scores."""

    run = models.OneToOneField(ScoringRun, on_delete=models.CASCADE, primary_key=True, related_name="lookup")
    first_employer = models.BigIntegerField()
    # Two bytes per employer id from first_employer; stored uncompressed (migration 0007):
    # read whole on every search that is not yet in the process's memory.
    packed = models.BinaryField()

    class Meta:
        verbose_name = _("run lookup")

    def __str__(self) -> str:
        return f"lookup of run {self.run_id}"


class SectorQuarterWage(models.Model):
    """The median wage per FTE of a sector's declarations in one quarter.

    The reference of the `wage_per_fte_vs_sector` feature. A quarter's median only uses
    that quarter's declarations, so it is as point-in-time as the features themselves;
    kept here because sorting a million declarations per quarter for every model took
    most of the nightly training time. Filled on demand by the feature computation and
    refreshed by whatever changes declarations (imports, generation, the nightly run).
    """

    sector = models.ForeignKey(Sector, on_delete=models.CASCADE)
    quarter = models.DateField()
    wage_per_fte = models.FloatField(null=True)
    declarations = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sector median wage per quarter")
        constraints = [models.UniqueConstraint(fields=["sector", "quarter"], name="sector_quarter_wage_unique")]

    def __str__(self) -> str:
        return f"{self.sector_id} {self.quarter}: {self.wage_per_fte}"
