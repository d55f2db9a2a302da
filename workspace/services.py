"""Writes of the inspector's workspace: notes, targets, risk profiles, export records."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inspections.models import Employer, Inspection, InspectionOrigin, InspectionStatus
from inspections.services.outcomes import outcome_change_keep, outcome_snapshot
from scoring.features.registry import reason_parts
from workspace.models import (
    JUDGEMENT_COMMENT_MAX_CHARS,
    NOTE_MAX_CHARS,
    ListExport,
    Note,
    RiskProfile,
    RiskProfileComment,
    ScoreJudgement,
    Verdict,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from scoring.models import Score


def _text_checked(text: str, *, max_chars: int, too_long: str) -> str:
    """The text stripped; ValidationError when it is longer than `max_chars` (`too_long`
    says so, with %(max)d and %(count)d) or holds a NUL, which PostgreSQL cannot store."""
    text = (text or "").strip()
    if len(text) > max_chars:
        raise ValidationError(too_long % {"max": max_chars, "count": len(text)})
    if "\x00" in text:
        raise ValidationError(_("The text holds a character that cannot be stored."))
    return text


def _text_clean(text: str) -> str:
    """A note's text: not empty, at most NOTE_MAX_CHARS, storable."""
    if not (text or "").strip():
        raise ValidationError(_("Write something first."))
    return _text_checked(
        text, max_chars=NOTE_MAX_CHARS, too_long=_("A note holds at most %(max)d characters; this one has %(count)d.")
    )


def note_create(*, employer: Employer, author: AbstractBaseUser, text: str) -> Note:
    return Note.objects.create(employer=employer, author=author, text=_text_clean(text))


def note_update(*, note: Note, user: AbstractBaseUser, text: str) -> Note:
    if not note.editable_by(user):
        raise PermissionDenied(_("Only the author can edit a note."))
    note.text = _text_clean(text)
    note.save(update_fields=["text", "updated_at"])
    return note


def target_add(*, employer: Employer, user: AbstractBaseUser) -> tuple[Inspection, bool]:
    """Plan an inspection of this employer by this user, from the ranked lists.

    Returns (inspection, created): an employer already among the user's open targets is
    not planned twice.
    """
    with transaction.atomic():
        Employer.objects.select_for_update().filter(pk=employer.pk).exists()  # one add at a time per employer
        # Any open inspection of the user's, from a list or a worklist (of either origin).
        existing = Inspection.objects.filter(
            employer=employer, inspector=user, status__in=Inspection.OPEN_STATUSES
        ).first()
        if existing is not None:
            return existing, False
        today = timezone.localdate()
        inspection = Inspection.objects.create(
            employer=employer,
            inspector=user,
            origin=InspectionOrigin.RANKED_LIST,
            status=InspectionStatus.PLANNED,
            planned_date=today,
            reference=f"TGT-{uuid.uuid4().hex[:24]}",  # replaced below, once the id is known
        )
        # TGT-<year>-<id>: unique without counting, even when colleagues add at the same moment.
        inspection.reference = f"TGT-{today.year}-{inspection.pk:07d}"
        inspection.save(update_fields=["reference"])
    return inspection, True


def risk_profile_update(*, profile: RiskProfile, user: AbstractBaseUser, patterns: str, on_site: str) -> RiskProfile:
    profile.patterns = patterns.strip()
    profile.on_site = on_site.strip()
    profile.updated_by = user
    profile.save()
    return profile


def risk_profile_comment_create(*, profile: RiskProfile, author: AbstractBaseUser, text: str) -> RiskProfileComment:
    text = _text_clean(text)
    with transaction.atomic():
        if profile.pk is None:  # the first word on a profile nobody has written yet
            profile.save()
        return RiskProfileComment.objects.create(profile=profile, author=author, text=text)


def list_export_record(*, user: AbstractBaseUser, format: str, filters: dict[str, Any], rows: int) -> ListExport:
    return ListExport.objects.create(user=user, format=format, filters=filters, rows=rows)


def score_judgement_record(
    *, score: Score, author: AbstractBaseUser, verdict: str, comment: str, inspection: Inspection | None = None
) -> ScoreJudgement:
    """Keep the author's word on a published score (`score.run` loaded), or update the word
    they gave on the same score version and inspection; ValidationError in words."""
    if verdict not in Verdict.values:
        raise ValidationError(_("Choose agree, disagree or cannot tell."))
    comment = _text_checked(
        comment,
        max_chars=JUDGEMENT_COMMENT_MAX_CHARS,
        too_long=_("A comment holds at most %(max)d characters; this one has %(count)d."),
    )
    if inspection is not None and inspection.employer_id != score.employer_id:
        raise ValidationError(_("That inspection is of another employer."))
    judgement, _created = ScoreJudgement.objects.update_or_create(
        author=author,
        employer_id=score.employer_id,
        offence_type_id=score.run.offence_type_id,
        model_version_id=score.run.model_version_id,
        inspection=inspection,
        defaults={
            "band": score.band,
            "reasons": [reason_parts(key)[0] for key, _value in score.reasons()],
            "verdict": verdict,
            "comment": comment,
        },
    )
    return judgement


REMOVAL_REASON_MAX_CHARS = 500


def target_plan(*, inspection: Inspection, user: AbstractBaseUser, planned_date: date) -> Inspection:
    """Set the day an open target is planned for (today or later); the change is kept."""
    if planned_date < timezone.localdate():
        raise ValidationError(_("Plan it for today or a later day."))
    return _target_change(inspection=inspection, user=user, planned_date=planned_date)


def target_remove(*, inspection: Inspection, user: AbstractBaseUser, reason: str) -> Inspection:
    """Take an open target off the plan (cancelled), with the reason as its summary; kept."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the target is removed."))
    if len(reason) > REMOVAL_REASON_MAX_CHARS or "\x00" in reason:
        raise ValidationError(
            _("A reason holds at most %(max)d characters, and no NUL character.") % {"max": REMOVAL_REASON_MAX_CHARS}
        )
    return _target_change(inspection=inspection, user=user, status=InspectionStatus.CANCELLED, summary=reason)


def _target_change(*, inspection: Inspection, user: AbstractBaseUser, **changes: Any) -> Inspection:
    if not inspection.outcome_editable_by(user):
        raise PermissionDenied(_("Only the inspector it is planned for, or the task force, changes this target."))
    with transaction.atomic():
        locked = Inspection.objects.select_for_update().get(pk=inspection.pk)
        if locked.status not in Inspection.OPEN_STATUSES:
            raise ValidationError(_("Only a planned or started inspection can be rescheduled or removed."))
        before = outcome_snapshot(locked)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(changes))
        outcome_change_keep(inspection=locked, user=user, before=before)
    return locked
