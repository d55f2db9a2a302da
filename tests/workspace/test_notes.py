"""Notes on employers: posting (plain and htmx), newest first, editing one's own, notes nearby."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import NoteFactory
from tests.workspace.support import publish_run
from workspace.models import Note


def page_url(employer) -> str:
    return reverse("workspace:employer_detail", args=[employer.enterprise_number])


def notes_url(employer) -> str:
    return reverse("workspace:note_create", args=[employer.enterprise_number])


@pytest.fixture
def employer(ranked):
    return ranked.employer(1)


def test_posting_a_note_redirects_to_the_page_newest_first(employer, logged_in, inspector) -> None:
    logged_in.post(notes_url(employer), {"text": "First visit: closed."})
    response = logged_in.post(notes_url(employer), {"text": "  Second visit: twelve workers on site.  "})

    assert response.status_code == 302 and response["Location"] == page_url(employer)
    notes = list(Note.objects.filter(employer=employer))
    assert [n.text for n in notes] == ["Second visit: twelve workers on site.", "First visit: closed."]
    assert all(n.author == inspector for n in notes)
    html = logged_in.get(page_url(employer)).content.decode()
    assert html.index("Second visit") < html.index("First visit")
    assert "Ines Peeters" in html  # the author's name
    assert html.count(">Edit</a>") == 2  # the author may edit both


def test_posting_a_note_with_htmx_returns_the_notes_partial(employer, logged_in) -> None:
    response = logged_in.post(notes_url(employer), {"text": "Seen via htmx"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert [t.name for t in response.templates] == ["workspace/_notes.html"]
    html = response.content.decode()
    assert "Seen via htmx" in html and "<html" not in html
    assert '<textarea name="text" id="id_text" rows="3" maxlength="5000" required' in html  # emptied for the next
    assert Note.objects.get().text == "Seen via htmx"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * 100_000, "A note holds at most 5000 characters; this one has 100000."),
        ("", "Write something first."),
        ("   \n\t ", "Write something first."),
        ("bad \x00 byte", "Null characters are not allowed."),
    ],
)
def test_refused_notes_get_a_clear_message_and_nothing_is_stored(employer, logged_in, text, message) -> None:
    response = logged_in.post(notes_url(employer), {"text": text}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Note.objects.exists()

    partial = logged_in.post(notes_url(employer), {"text": text}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200  # htmx swaps no 4xx response: the form shows the error
    assert message in partial.content.decode()
    assert 'role="alert"' in partial.content.decode()
    assert not Note.objects.exists()


def test_a_note_of_exactly_the_limit_is_kept(employer, logged_in) -> None:
    logged_in.post(notes_url(employer), {"text": "y" * 5000})
    assert len(Note.objects.get().text) == 5000


def test_html_in_notes_is_shown_as_text(employer, logged_in) -> None:
    logged_in.post(notes_url(employer), {"text": '<script>alert("x")</script><b>bold</b>'})
    html = logged_in.get(page_url(employer)).content.decode()
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in html


def test_notes_can_only_be_posted_not_fetched(employer, logged_in) -> None:
    assert logged_in.get(notes_url(employer)).status_code == 405
    assert logged_in.post(notes_url(type(employer)(enterprise_number="0000000097")), {"text": "x"}).status_code == 404
    assert not Note.objects.exists()


def _backdate(note: Note) -> None:
    earlier = timezone.now() - dt.timedelta(hours=2)
    Note.objects.filter(pk=note.pk).update(created_at=earlier, updated_at=earlier)


def test_the_author_edits_a_note_and_it_is_marked_edited(employer, logged_in, inspector) -> None:
    note = NoteFactory(employer=employer, author=inspector, text="Original")
    _backdate(note)
    edit = reverse("workspace:note_edit", args=[note.pk])

    form = logged_in.get(edit)
    assert form.status_code == 200 and "Original" in form.content.decode()
    assert "(edited)" not in logged_in.get(page_url(employer)).content.decode()

    response = logged_in.post(edit, {"text": "Corrected"})
    assert response.status_code == 302 and response["Location"] == page_url(employer)
    note.refresh_from_db()
    assert note.text == "Corrected" and note.was_edited
    html = logged_in.get(page_url(employer)).content.decode()
    assert "Corrected" in html and "(edited)" in html and "Note saved." in html


def test_the_edited_marker_is_not_the_field_labels_translation(employer, logged_in, inspector) -> None:
    # The marker has a context of its own: the field label's Dutch ("bewerkt op", edited
    # on) read "(bewerkt op)". Whether or not the catalogue has the marker yet, it is not that.
    note = NoteFactory(employer=employer, author=inspector, text="Original")
    _backdate(note)
    logged_in.post(reverse("workspace:note_edit", args=[note.pk]), {"text": "Corrected"})
    html = logged_in.get(page_url(employer), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert 'lang="nl"' in html and "Corrected" in html
    assert "(bewerkt op)" not in html


# Short UI strings whose msgid is also a model's label or choice with another sense: used
# in templates only with a context of their own.
AMBIGUOUS = ["edited", "Active", "Planned"]


def test_ambiguous_short_strings_have_a_context_in_templates() -> None:
    templates = Path(__file__).resolve().parents[2] / "templates"
    for path in templates.rglob("*.html"):
        source = path.read_text()
        for msgid in AMBIGUOUS:
            assert f'{{% translate "{msgid}" %}}' not in source, (path.name, msgid)


@pytest.mark.parametrize(("text", "message"), [("", "Write something first."), ("z" * 5001, "at most 5000")])
def test_refused_edits_leave_the_note_as_it_was(employer, logged_in, inspector, text, message) -> None:
    note = NoteFactory(employer=employer, author=inspector, text="Original")
    response = logged_in.post(reverse("workspace:note_edit", args=[note.pk]), {"text": text})
    assert response.status_code == 400 and message in response.content.decode()
    note.refresh_from_db()
    assert note.text == "Original"


def test_another_user_may_not_edit_a_note(employer, client, inspector, colleague) -> None:
    note = NoteFactory(employer=employer, author=inspector, text="Mine")
    client.force_login(colleague)
    edit = reverse("workspace:note_edit", args=[note.pk])
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"text": "Yours now"}).status_code == 403
    note.refresh_from_db()
    assert note.text == "Mine"
    # Nor is an edit link offered on the colleague's page.
    assert ">Edit</a>" not in client.get(page_url(employer)).content.decode()


def test_editing_a_note_that_does_not_exist(logged_in) -> None:
    assert logged_in.get(reverse("workspace:note_edit", args=[999999])).status_code == 404


def test_colleagues_recent_notes_nearby_appear_on_the_employer_page(ranked, logged_in, colleague) -> None:
    employer = ranked.employer(1)  # Antwerp
    NoteFactory(employer=ranked.employer(4), author=colleague, text="Antwerp neighbour: van with 9 workers")
    NoteFactory(employer=ranked.employer(2), author=colleague, text="Halle-Vilvoorde: elsewhere")
    NoteFactory(employer=employer, author=colleague, text="On this employer itself")

    response = logged_in.get(page_url(employer))
    nearby = [note.text for note in response.context["nearby_notes"]]
    assert nearby == ["Antwerp neighbour: van with 9 workers"]
    html = response.content.decode()
    assert "Recent notes on other employers in Antwerp" in html
    assert ranked.employer(4).name in html and "Koen Maes" in html


def test_only_the_five_newest_notes_nearby(logged_in, colleague) -> None:
    published = publish_run(9, places=[("2000", "BE211")])
    for rank in range(2, 10):
        NoteFactory(employer=published.employer(rank), author=colleague, text=f"note {rank}")
    response = logged_in.get(page_url(published.employer(1)))
    assert [n.text for n in response.context["nearby_notes"]] == [f"note {r}" for r in (9, 8, 7, 6, 5)]
