"""Widgets of the ranked list's filter form, written in Python.

Django renders every <option> and checkbox through a template of its own, a large part of
a list page for the filter form's eighty or so (docs/benchmarks.md). These write the same
elements with format_html, which escapes every value and label.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

_CHECKED = mark_safe(" checked")
_SELECTED = mark_safe(" selected")


def _options(context: dict[str, Any]) -> list[dict[str, Any]]:
    return [option for _, group, _ in context["optgroups"] for option in group]


class QuickSelect(forms.Select):
    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "\n",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], _SELECTED if option["selected"] else "", option["label"])
                for option in _options(widget)
            ),
        )
        return format_html('<select name="{}"{}>\n{}\n</select>', name, flatatt(widget["attrs"]), options)


class QuickCheckboxes(forms.CheckboxSelectMultiple):
    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        boxes = format_html_join(
            "\n",
            '<div><label for="{}"><input type="checkbox" name="{}" value="{}" id="{}"{}> {}</label></div>',
            (
                (
                    option["attrs"]["id"],
                    name,
                    option["value"],
                    option["attrs"]["id"],
                    _CHECKED if option["selected"] else "",
                    option["label"],
                )
                for option in _options(widget)
            ),
        )
        return format_html('<div id="{}">\n{}\n</div>', widget["attrs"].get("id", ""), boxes)
