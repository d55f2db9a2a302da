from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from workspace.models import NOTE_MAX_CHARS, RiskProfile


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX_CHARS}),
        error_messages={
            "max_length": _("A note holds at most %(limit_value)d characters; this one has %(show_value)d."),
            "required": _("Write something first."),
        },
    )


class RiskProfileForm(forms.ModelForm):
    class Meta:
        model = RiskProfile
        fields = ["patterns", "on_site"]
        widgets = {"patterns": forms.Textarea(attrs={"rows": 8}), "on_site": forms.Textarea(attrs={"rows": 8})}
