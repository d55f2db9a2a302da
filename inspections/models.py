"""The inspectorate's data: places, sectors, employers, declarations, inspections.

Rules about a single row (a valid enterprise number, a quarter that starts a
quarter, a finding that recovered money only if something was found) live here
and in database constraints; workflows over many rows live in services.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from stdnum.be import vat as be_enterprise_number
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError

# A word of a name or of a search: letters and digits (EmployerWord, migration 0005).
_WORD = re.compile(r"[^\W_]+")


def name_words(text: str) -> list[str]:
    """The distinct lower-case words of a name or a search, as EmployerWord keeps them.

    Empty for a text without a letter or digit ("%", "...", "-"): a search then has
    nothing to look up, and says so rather than build a query that can match nothing."""
    return list(dict.fromkeys(_WORD.findall(text.lower())))


if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


# Why python-stdnum refuses an enterprise number, in words, and the code of the ValidationError.
_ENTERPRISE_NUMBER_WHY = {
    InvalidLength: (_("it must have 10 digits"), "format"),
    InvalidFormat: (_("it must be made of digits, e.g. 0403170701"), "format"),
    InvalidComponent: (_("it must start with 0 or 1"), "checksum"),
    InvalidChecksum: (_("the last two digits (the mod-97 check) do not match the first eight"), "checksum"),
}


def enterprise_number_validate(value: str, *, stored: bool = True) -> None:
    """KBO/BCE number: 10 digits, the first 0 or 1, a mod-97 check (python-stdnum). Only the
    stored form, unless `stored` is False: then any form stdnum reads ("BE 0403.170.701")."""
    try:
        if stored and not value.isdigit():
            raise InvalidFormat
        if stored and len(value) != 10:
            raise InvalidLength
        be_enterprise_number.validate(value)
    except StdnumError as exc:
        why, code = _ENTERPRISE_NUMBER_WHY.get(type(exc), (exc.message, "invalid"))
        message = _("'%(value)s' is not a valid enterprise number: %(why)s.")
        raise ValidationError(message, params={"value": value, "why": why}, code=code) from exc


class TranslatedName(models.Model):
    """Reference rows carry their name in English, Dutch and French."""

    name_en = models.CharField(_("name (English)"), max_length=200)
    name_nl = models.CharField(_("name (Dutch)"), max_length=200)
    name_fr = models.CharField(_("name (French)"), max_length=200)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        language = (get_language() or "en")[:2]
        return getattr(self, f"name_{language}", None) or self.name_en


class Region(TranslatedName):
    """NUTS-1 region: Brussels-Capital, Flemish or Walloon Region."""

    code = models.CharField(max_length=3, primary_key=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")


class Province(TranslatedName):
    """NUTS-2 unit: the 10 provinces and Brussels."""

    code = models.CharField(max_length=4, primary_key=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="provinces")

    class Meta:
        ordering = ["code"]
        verbose_name = _("province")


class SubRegion(TranslatedName):
    """NUTS-3 arrondissement: the sub-region inspectors choose."""

    code = models.CharField(max_length=5, primary_key=True)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="subregions")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="subregions")
    population = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["code"]
        verbose_name = _("sub-region")


class PostalCode(models.Model):
    code = models.CharField(max_length=4, primary_key=True)
    municipality = models.CharField(max_length=100)
    subregion = models.ForeignKey(SubRegion, on_delete=models.PROTECT, related_name="postal_codes")

    class Meta:
        ordering = ["code"]
        verbose_name = _("postal code")

    def __str__(self) -> str:
        return f"{self.code} {self.municipality}"


class Sector(TranslatedName):
    """One of the sectors MiningWatch models: construction, cleaning, hospitality."""

    code = models.SlugField(max_length=30, primary_key=True)
    joint_committee = models.CharField(max_length=6)

    class Meta:
        ordering = ["code"]
        verbose_name = _("sector")


class NaceCode(TranslatedName):
    """NACE-BEL 2008 subclass (e.g. 43.320); each belongs to one sector."""

    code = models.CharField(max_length=6, primary_key=True)
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="nace_codes")

    class Meta:
        ordering = ["code"]
        verbose_name = _("NACE code")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class OffenceType(TranslatedName):
    code = models.SlugField(max_length=40, primary_key=True)
    description_en = models.TextField(blank=True)
    description_nl = models.TextField(blank=True)
    description_fr = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("offence type")

    @property
    def description(self) -> str:
        language = (get_language() or "en")[:2]
        return getattr(self, f"description_{language}", None) or self.description_en


class LegalForm(models.TextChoices):
    BV = "BV", _("Private limited company (BV/SRL)")
    NV = "NV", _("Public limited company (NV/SA)")
    CV = "CV", _("Cooperative company (CV/SC)")
    COMMV = "COMMV", _("Limited partnership (CommV/SComm)")
    VOF = "VOF", _("General partnership (VOF/SNC)")
    VZW = "VZW", _("Non-profit association (VZW/ASBL)")
    EZ = "EZ", _("Sole trader (natural person)")
    FOREIGN = "FOREIGN", _("Foreign company")


class ScopedQuerySet(models.QuerySet):
    """Rows that belong to a sub-region (a `subregion` foreign key): employers, scores."""

    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        """The one place that limits what a user may see.

        Inspectors limited to regions or sub-regions see rows there only; a scope that
        names none of them shows nothing (it fails closed); users without a scope see all
        of them. Every view, export, count and API reads employers and scores through
        this method.
        """
        if not user.is_authenticated:
            return self.none()
        subregions = InspectorScope.subregion_codes_for(user)
        if subregions is None:
            return self
        return self.filter(subregion_id__in=subregions)


class EmployerQuerySet(ScopedQuerySet):
    def active_on(self, day: dt.date) -> EmployerQuerySet:
        """Employers that had started and not closed on `day` (the scoring population)."""
        return self.filter(start_date__lte=day).filter(Q(end_date__isnull=True) | Q(end_date__gt=day))


class EmployerWordQuerySet(ScopedQuerySet):
    def employer_ids(self, text: str, *, sector: str, subregions: list[str] | None = None) -> QuerySet:
        """Ids of the sector's employers (of `subregions` if given) with a word starting with
        each word of `text`, in any order and case; none if `text` has no word. For one word
        an id can come more than once (for "jans": "Janssens & Janssen")."""
        found: QuerySet | None = None
        for word in name_words(text):
            words = self.filter(sector_id=sector, word__startswith=word)
            if subregions is not None:
                words = words.filter(subregion_id__in=subregions)
            ids = words.values_list("employer_id", flat=True).order_by()
            found = ids if found is None else found.intersection(ids)
        return found if found is not None else self.none().values_list("employer_id", flat=True)


class Employer(models.Model):
    # Unique through Meta.constraints rather than unique=True: Django would add a second,
    # varchar_pattern_ops index to each, which every import would rebuild. Byte order ("C")
    # for these digit strings: the unique index then also serves prefix searches, and
    # builds in a third of the time of one in a linguistic collation.
    enterprise_number = models.CharField(
        _("enterprise number"), max_length=10, db_collation="C", validators=[enterprise_number_validate]
    )
    nsso_number = models.CharField(
        _("social-security employer number"),
        max_length=10,
        db_collation="C",
        null=True,
        blank=True,
        validators=[RegexValidator(r"^\d{9,10}$", _("9 or 10 digits"))],
    )
    name = models.CharField(_("name"), max_length=200)
    legal_form = models.CharField(_("legal form"), max_length=10, choices=LegalForm.choices)
    # No index of their own on the four foreign keys below: lists filter on
    # (sector, subregion), served by the composite index in Meta, and an index per key
    # (twice for character keys) made every bulk import rebuild eight indexes for nothing.
    nace = models.ForeignKey(NaceCode, on_delete=models.PROTECT, db_index=False, verbose_name=_("NACE code"))
    # Denormalised from the NACE code so ranked lists filter on one indexed column.
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, db_index=False, editable=False)
    joint_committee = models.CharField(
        _("joint committee"), max_length=6, validators=[RegexValidator(r"^\d{3}(\.\d{2})?$")]
    )
    postal_code = models.ForeignKey(PostalCode, on_delete=models.PROTECT, db_index=False, verbose_name=_("postal code"))
    # Denormalised from the postal code for the same reason.
    subregion = models.ForeignKey(SubRegion, on_delete=models.PROTECT, db_index=False, editable=False)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("closure or bankruptcy date"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmployerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("employer")
        constraints = [
            # Import upserts and look-ups by enterprise number.
            models.UniqueConstraint(fields=["enterprise_number"], name="employer_enterprise_number_unique"),
            models.UniqueConstraint(fields=["nsso_number"], name="employer_nsso_number_unique"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="employer_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(enterprise_number__regex=r"^[01][0-9]{9}$"),
                name="employer_enterprise_number_format",
            ),
        ]
        indexes = [
            # Ranked lists and counts: WHERE sector_id = ? AND subregion_id = ?
            models.Index(fields=["sector", "subregion"], name="employer_sector_subregion"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.enterprise_number})"

    def save(self, *args: object, **kwargs: object) -> None:
        self.sector_id = self.nace.sector_id
        self.subregion_id = self.postal_code.subregion_id
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class EmployerWord(models.Model):
    """One word of an employer's name, lower-cased, for the lists' search by word prefixes.

    Written only by the triggers of migration 0005 on the employer table (insert, update,
    delete, truncate, COPY included), which split names the same way (letters and digits).
    Read only by `EmployerWordQuerySet.employer_ids`: one range of the (sector, word, sub-region, employer)
    index per searched word, without touching the employers themselves (a GIN index on
    the names had to read every matching employer's page to know its id).
    """

    # Django needs a primary key; the table has none: its index employer_word_prefix has
    # these columns, and a word twice in one name gives two rows (the search reads ids).
    pk = models.CompositePrimaryKey("sector", "word", "subregion", "employer")
    sector = models.ForeignKey(Sector, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    # Byte order ("C"): a prefix is then one range of the index (LIKE 'jacobs%').
    word = models.CharField(max_length=200, db_collation="C")
    subregion = models.ForeignKey(SubRegion, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    employer = models.ForeignKey(Employer, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")

    objects = EmployerWordQuerySet.as_manager()

    class Meta:
        managed = False  # table, index and triggers: migration 0005
        db_table = "inspections_employerword"

    def __str__(self) -> str:
        return self.word


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


class Declaration(models.Model):
    """One quarterly social-security declaration (DmfA) of an employer."""

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="declarations")
    quarter = models.DateField(_("quarter"), help_text=_("First day of the quarter"))
    headcount = models.PositiveIntegerField(_("headcount"))
    fte = models.DecimalField(_("full-time equivalents"), max_digits=9, decimal_places=2)
    part_time_share = models.DecimalField(_("part-time share"), max_digits=4, decimal_places=3)
    declared_hours = models.PositiveIntegerField(_("declared hours"))
    gross_wages = models.DecimalField(_("gross wages (EUR)"), max_digits=14, decimal_places=2)
    temporary_unemployment_days = models.PositiveIntegerField(_("days of temporary unemployment"))
    hires = models.PositiveIntegerField(_("hires"))
    exits = models.PositiveIntegerField(_("exits"))
    short_contracts = models.PositiveIntegerField(_("short contracts"))
    posted_workers = models.PositiveIntegerField(_("posted foreign workers"))
    social_security_debt = models.DecimalField(_("social-security debt (EUR)"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["employer", "quarter"]
        verbose_name = _("quarterly declaration")
        constraints = [
            # Also the index for "declarations of this employer, by quarter".
            models.UniqueConstraint(fields=["employer", "quarter"], name="declaration_one_per_quarter"),
            models.CheckConstraint(
                condition=Q(quarter__day=1, quarter__month__in=[1, 4, 7, 10]), name="declaration_quarter_start"
            ),
            models.CheckConstraint(condition=Q(fte__gte=0), name="declaration_fte_positive"),
            models.CheckConstraint(
                condition=Q(part_time_share__gte=0, part_time_share__lte=1), name="declaration_part_time_share_range"
            ),
            models.CheckConstraint(
                condition=Q(gross_wages__gte=0, social_security_debt__gte=0), name="declaration_amounts_positive"
            ),
        ]
        indexes = [
            # Point-in-time features: every declaration of one quarter, all employers.
            models.Index(fields=["quarter"], name="declaration_quarter"),
        ]

    def __str__(self) -> str:
        return f"{self.employer_id} {self.quarter_label}"

    @property
    def quarter_label(self) -> str:
        return f"{self.quarter.year}-Q{(self.quarter.month - 1) // 3 + 1}"


class InspectionOrigin(models.TextChoices):
    PROSECUTOR = "prosecutor", _("Public prosecutor request")
    OTHER_SERVICE = "other_service", _("Other inspection service")
    COMPLAINT = "complaint", _("Complaint")
    RANKED_LIST = "ranked_list", _("Own initiative, from the ranked lists")
    OWN_INITIATIVE = "own_initiative", _("Own initiative, otherwise")
    RANDOM_CONTROL = "random_control", _("Random control")


class InspectionStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Inspection(models.Model):
    # Planned or under way: still on someone's plan, not yet an outcome.
    OPEN_STATUSES = (InspectionStatus.PLANNED, InspectionStatus.IN_PROGRESS)

    reference = models.CharField(_("case reference"), max_length=30, unique=True)
    employer = models.ForeignKey(Employer, on_delete=models.PROTECT, related_name="inspections")
    origin = models.CharField(_("origin"), max_length=20, choices=InspectionOrigin.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=InspectionStatus.choices, default=InspectionStatus.PLANNED
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inspections",
        verbose_name=_("inspector"),
    )
    planned_date = models.DateField(_("planned date"), null=True, blank=True)
    visit_date = models.DateField(_("visit date"), null=True, blank=True)
    summary = models.TextField(_("summary"), blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-visit_date", "-planned_date"]
        verbose_name = _("inspection")
        permissions = [("record_any_outcome", _("Can record the outcome of any inspection in scope"))]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(visit_date__isnull=False),
                name="inspection_completed_has_visit",
            ),
            models.CheckConstraint(
                condition=Q(planned_date__isnull=False) | Q(visit_date__isnull=False),
                name="inspection_has_a_date",
            ),
        ]
        indexes = [
            # Employer page and "last inspection" column: WHERE employer_id = ? ORDER BY visit_date DESC
            models.Index(fields=["employer", "-visit_date"], name="inspection_employer_visit"),
            # Training sets and random-control hit rates: WHERE origin = ? AND visit_date < ?
            models.Index(fields=["origin", "visit_date"], name="inspection_origin_visit"),
        ]

    def __str__(self) -> str:
        return self.reference

    def clean(self) -> None:
        if self.status == InspectionStatus.COMPLETED and self.visit_date is None:
            raise ValidationError({"visit_date": _("A completed inspection needs a visit date.")})
        if self.planned_date is None and self.visit_date is None:
            raise ValidationError(_("Give a planned date or a visit date."))

    def outcome_editable_by(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """The task force records any outcome (of employers it may see); an inspector the
        outcome of an inspection planned for them, until it is final for them."""
        if not user.is_authenticated or not user.has_perm("inspections.change_finding"):
            return False
        if user.has_perm("inspections.record_any_outcome"):
            return True
        return self.inspector_id == user.pk and not self.outcome_final_for(user)

    @property
    def on_worklist(self) -> bool:
        """Planned by a blinded worklist (workspace.WorklistEntry): its origin is hidden."""
        return hasattr(self, "worklist_entry")

    def outcome_final_for(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """A completed worklist inspection is final for everyone but the task force: its
        scores show once its worklist is done, and reopening it, or changing its findings
        after seeing them, would undo the blinding. The task force corrects it if need be."""
        return (
            self.status == InspectionStatus.COMPLETED
            and self.on_worklist
            and not user.has_perm("inspections.record_any_outcome")
        )


class ReportKind(models.TextChoices):
    """What an inspector drew up for one offence type."""

    NONE = "none", _("No report")
    WARNING = "warning", _("Warning")
    REGULARISATION = "regularisation", _("Regularisation")
    OFFICIAL_REPORT = "official_report", _("Official report (pro justitia)")


class Finding(models.Model):
    """What an inspection found for one offence type it checked."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="findings")
    offence_type = models.ForeignKey(OffenceType, on_delete=models.PROTECT, verbose_name=_("offence type"))
    found = models.BooleanField(_("offence found"))
    workers_regularised = models.PositiveIntegerField(_("workers regularised"), default=0)
    contributions_recovered = models.DecimalField(
        _("contributions recovered (EUR)"),
        max_digits=14,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
    )
    report = models.CharField(
        _("report drawn up"), max_length=20, choices=ReportKind.choices, default=ReportKind.NONE, db_default="none"
    )

    class Meta:
        ordering = ["inspection", "offence_type"]
        verbose_name = _("finding")
        constraints = [
            # Also the index for "findings of this inspection".
            models.UniqueConstraint(fields=["inspection", "offence_type"], name="finding_one_per_offence"),
            models.CheckConstraint(condition=Q(contributions_recovered__gte=0), name="finding_amount_positive"),
            models.CheckConstraint(
                condition=Q(found=True) | Q(workers_regularised=0, contributions_recovered=0),
                name="finding_nothing_recovered_unless_found",
            ),
        ]
        indexes = [
            # Training labels: WHERE offence_type_id = ? (joined to inspections by date)
            models.Index(fields=["offence_type", "inspection"], name="finding_offence_inspection"),
        ]

    def __str__(self) -> str:
        return f"{self.inspection_id} {self.offence_type_id}: {'found' if self.found else 'not found'}"

    def clean(self) -> None:
        if not self.found and (self.workers_regularised or self.contributions_recovered):
            raise ValidationError(_("Nothing can be regularised or recovered when no offence was found."))


class InspectionChange(models.Model):
    """One change of an inspection's outcome, as recorded: who, when, and the outcome before
    and after (status, visit date, summary, findings by offence type). Only ever added."""

    # PROTECT: an inspection or a user with a history cannot be deleted and take it along.
    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("changed by")
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    before = models.JSONField(_("before"))
    after = models.JSONField(_("after"))

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name = _("inspection change")
        default_permissions = ("add", "view")  # never changed or deleted through the app

    def __str__(self) -> str:
        return f"{self.inspection_id} {self.changed_at:%Y-%m-%d %H:%M}"


class InspectorScope(models.Model):
    """The regions and sub-regions an inspector is limited to.

    A user without a scope row is not limited. A scope row that names no region and no
    sub-region limits to nothing at all: emptying a scope in the admin must not open
    the whole country to its inspector.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scope")
    regions = models.ManyToManyField(Region, blank=True, verbose_name=_("regions"))
    subregions = models.ManyToManyField(SubRegion, blank=True, verbose_name=_("sub-regions"))

    class Meta:
        verbose_name = _("inspector scope")

    def __str__(self) -> str:
        return str(self.user)

    @staticmethod
    def subregion_codes_for(user: AbstractBaseUser | AnonymousUser) -> list[str] | None:
        """Sub-region codes the user is limited to (empty for an empty scope), or None
        when not limited.

        Kept on the user object: a page reads several lists through visible_to, and the
        user (request.user) lives for one request.
        """
        cached = getattr(user, "_subregion_codes", False)
        if cached is not False:
            return cached
        codes = InspectorScope._codes_read(user)
        with contextlib.suppress(AttributeError):  # AnonymousUser and the like keep nothing
            user._subregion_codes = codes  # type: ignore[union-attr]
        return codes

    @staticmethod
    def _codes_read(user: AbstractBaseUser | AnonymousUser) -> list[str] | None:
        scope = InspectorScope.objects.filter(user_id=user.pk).first()
        if scope is None:
            return None
        direct = set(scope.subregions.values_list("code", flat=True))
        via_region = set(SubRegion.objects.filter(region__in=scope.regions.all()).values_list("code", flat=True))
        return sorted(direct | via_region)

    @staticmethod
    def is_empty_for(user: AbstractBaseUser | AnonymousUser) -> bool:
        """Whether the user has a scope that names no region: they see no employer at all."""
        return InspectorScope.subregion_codes_for(user) == []


class DataImport(models.Model):
    """One file imported (or refused) as a whole: the record behind every import, from the
    upload page, the API or `manage.py import_csv`. Written only by the import services
    (inspections.services.data_imports); the admin shows it read-only."""

    class Kind(models.TextChoices):
        EMPLOYERS = "employers", _("Employers")
        DECLARATIONS = "declarations", _("Declarations")
        INSPECTIONS = "inspections", _("Inspections with findings")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Imported")
        REFUSED = "refused", _("Refused")  # the file has bad rows: nothing imported
        FAILED = "failed", _("Failed")  # stopped on an error or a lost worker: nothing imported

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    file_path = models.CharField(max_length=500)
    original_name = models.CharField(_("file"), max_length=255, blank=True)
    file_format = models.CharField(_("format"), max_length=10, choices=Format.choices, default=Format.CSV)
    file_size = models.BigIntegerField(_("size (bytes)"), default=0)
    file_sha256 = models.CharField("SHA-256", max_length=64, blank=True)
    language = models.CharField(max_length=10, blank=True)  # of the uploader: the report is worded in it
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    rows_created = models.PositiveIntegerField(_("created"), default=0)
    rows_updated = models.PositiveIntegerField(_("changed"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    error_count = models.PositiveIntegerField(_("problems"), default=0)
    errors = models.JSONField(default=list, blank=True)  # the first ones, for the page; all in report_path
    report_path = models.CharField(max_length=500, blank=True)  # every problem, as CSV
    message = models.TextField(_("message"), blank=True)
    retry_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="retries")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("data import")

    def __str__(self) -> str:
        return f"{self.kind} import {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status not in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def advisory_key(self) -> int:
        """Key of the PostgreSQL advisory lock its worker holds while it runs: a running
        import whose lock is free lost its worker (services.data_imports.data_imports_abandoned_fail)."""
        return 0x1D0_0000_0000 + int(self.pk)

    @property
    def retryable(self) -> bool:
        """Failed (not refused) and its file still kept: it can run again."""
        return self.status == self.Status.FAILED and bool(self.file_path)
