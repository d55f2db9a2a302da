"""What inspectors share and keep: notes on employers, risk profiles, exports of ranked lists.

Targets are not a model of their own: "add to my targets" plans an Inspection
(inspections.models) whose origin is the ranked lists, so it follows the inspection
through its statuses like any other.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from inspections.models import Employer, OffenceType, Sector

NOTE_MAX_CHARS = 5_000


class Note(models.Model):
    """What an inspector knows about an employer, for colleagues to read."""

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="notes", verbose_name=_("employer"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("author"))
    text = models.TextField(_("note"), max_length=NOTE_MAX_CHARS)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)
    updated_at = models.DateTimeField(_("edited"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("note")
        indexes = [
            # Employer page: WHERE employer_id = ? ORDER BY created_at DESC
            models.Index(fields=["employer", "-created_at"], name="note_employer_recent"),
            # Home page: the newest notes overall, joined to employers of one sub-region.
            models.Index(fields=["-created_at"], name="note_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="note_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.author} on {self.employer_id}: {self.text[:40]}"

    @property
    def was_edited(self) -> bool:
        return (self.updated_at - self.created_at).total_seconds() > 1

    def editable_by(self, user: object) -> bool:
        """Authors edit their own notes; nobody edits a colleague's."""
        return getattr(user, "pk", None) == self.author_id


class RiskProfile(models.Model):
    """The task force's account of one (sector, offence): the patterns, what to look for on site."""

    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, verbose_name=_("sector"))
    offence_type = models.ForeignKey(OffenceType, on_delete=models.PROTECT, verbose_name=_("offence type"))
    patterns = models.TextField(_("patterns behind the model"), blank=True, max_length=20_000)
    on_site = models.TextField(_("what to look for on site"), blank=True, max_length=20_000)
    updated_at = models.DateTimeField(_("last edited"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("edited by")
    )

    class Meta:
        ordering = ["sector", "offence_type"]
        verbose_name = _("risk profile")
        constraints = [
            models.UniqueConstraint(fields=["sector", "offence_type"], name="risk_profile_one_per_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.sector} / {self.offence_type}"


class RiskProfileComment(models.Model):
    """An inspector's comment on a risk profile: what they saw on site."""

    profile = models.ForeignKey(RiskProfile, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("author"))
    text = models.TextField(_("comment"), max_length=NOTE_MAX_CHARS)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("comment on a risk profile")
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="profile_comment_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.author} on {self.profile}"


class ListExport(models.Model):
    """Every export of a ranked list: who, which filters, how many rows (an audit trail)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("user"))
    format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    filters = models.JSONField(_("filters"))
    rows = models.PositiveIntegerField(_("rows"))
    created_at = models.DateTimeField(_("exported"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("list export")

    def __str__(self) -> str:
        return f"{self.user} {self.format} {self.rows} rows {self.created_at:%Y-%m-%d %H:%M}"


JUDGEMENT_COMMENT_MAX_CHARS = 2_000


class Verdict(models.TextChoices):
    AGREE = "agree", _("Agree")
    DISAGREE = "disagree", _("Disagree")
    CANNOT_TELL = "cannot_tell", _("Cannot tell")


class ScoreJudgement(models.Model):
    """An inspector's word on whether a published score and its reasons matched what they
    saw, for the model version that made it; on an inspection's outcome when given there.
    The band and the reasons are kept as shown, so the task force can read the judgements
    per model and per reason after newer runs have replaced the score."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="judgements")
    offence_type = models.ForeignKey(OffenceType, on_delete=models.PROTECT, verbose_name=_("offence type"))
    model_version = models.ForeignKey(
        "scoring.ModelVersion", on_delete=models.PROTECT, related_name="judgements", verbose_name=_("model version")
    )
    inspection = models.ForeignKey(
        "inspections.Inspection", on_delete=models.CASCADE, null=True, blank=True, related_name="judgements"
    )
    band = models.PositiveSmallIntegerField(_("band"))
    reasons = models.JSONField(_("reasons shown"), default=list)  # feature names, as on the score
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices)
    comment = models.TextField(_("comment"), blank=True, max_length=JUDGEMENT_COMMENT_MAX_CHARS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("judgement of a score")
        constraints = [
            # One word per inspector, score version and inspection (or none): sent again, it is updated.
            models.UniqueConstraint(
                fields=["author", "employer", "offence_type", "model_version", "inspection"],
                name="judgement_one_per_author_score",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employer_id} {self.offence_type_id} v{self.model_version_id}: {self.verdict}"


class WorklistSettings(models.Model):
    """The share of random controls blended into every worklist, and the share of own-initiative
    inspections that should come from the lists (one row, set in the admin)."""

    random_share = models.DecimalField(
        _("share of random controls"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.30"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("From 0 to 1: 0.30 puts 3 random employers in a worklist of 10."),
    )
    list_share_target = models.DecimalField(
        _("target share of own-initiative inspections from the lists"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.30"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("From 0 to 1: the statistics compare each region and month with it."),
    )

    class Meta:
        verbose_name = _("worklist settings")
        verbose_name_plural = _("worklist settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="worklist_settings_one_row")]

    def __str__(self) -> str:
        return str(_("Worklist settings"))

    @classmethod
    def current(cls) -> WorklistSettings:
        return cls.objects.get_or_create(pk=1)[0]


class Worklist(models.Model):
    """Employers to inspect for one sector and offence type: the highest-ranked not inspected
    recently and random controls from the same population, shuffled together. The seed
    and the population's size and hash are kept so the draw can be audited (worklists)."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, verbose_name=_("sector"))
    offence_type = models.ForeignKey(OffenceType, on_delete=models.PROTECT, verbose_name=_("offence type"))
    region = models.ForeignKey(
        "inspections.Region", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("region")
    )
    subregion = models.ForeignKey(
        "inspections.SubRegion", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("sub-region")
    )
    run = models.ForeignKey("scoring.ScoringRun", on_delete=models.PROTECT, related_name="+")
    size = models.PositiveIntegerField(_("employers asked for"))
    random_share = models.DecimalField(_("share of random controls"), max_digits=3, decimal_places=2)
    seed = models.BigIntegerField(_("seed"))
    population = models.PositiveIntegerField(_("employers it was drawn from"))
    population_sha256 = models.CharField(_("SHA-256 of their ids"), max_length=64)

    class Meta:
        verbose_name = _("worklist")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"WL {self.pk}"


class WorklistEntry(models.Model):
    """One employer of a worklist, with the inspection planned for it. Whether the model or
    the draw chose it is the inspection's origin (ranked list or random control), which
    the worklist, its export and the employer page never show to the inspector."""

    worklist = models.ForeignKey(Worklist, on_delete=models.CASCADE, related_name="entries")
    position = models.PositiveIntegerField()
    employer = models.ForeignKey(Employer, on_delete=models.PROTECT, related_name="+")
    inspection = models.OneToOneField("inspections.Inspection", on_delete=models.CASCADE, related_name="worklist_entry")
    # The employer's band in the run the worklist was drawn from: for the detection rate per
    # band (the random controls spread over every band). Never shown with the entry.
    band = models.PositiveSmallIntegerField(_("band when drawn"))
    rank = models.PositiveIntegerField(_("rank when drawn"))

    class Meta:
        ordering = ["worklist", "position"]
        constraints = [
            models.UniqueConstraint(fields=["worklist", "position"], name="worklist_entry_position"),
            models.UniqueConstraint(fields=["worklist", "employer"], name="worklist_entry_employer"),
        ]

    def __str__(self) -> str:
        return f"WL {self.worklist_id} #{self.position}"
