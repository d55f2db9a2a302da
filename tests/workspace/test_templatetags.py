"""The workspace's template tags that are not covered by the pages' own tests."""

from __future__ import annotations

from django.template import Context, Template
from django.utils import translation


def test_a_labels_colon_is_written_as_the_language_writes_it() -> None:
    template = Template("{% load i18n workspace %}{% translate 'Inspector' %}{% colon %} Ines")
    with translation.override("fr"):
        assert template.render(Context()) == "Inspecteur\u00a0: Ines"
    with translation.override("nl"):
        assert template.render(Context()) == "Inspecteur: Ines"
    with translation.override("en"):
        assert template.render(Context()) == "Inspector: Ines"
