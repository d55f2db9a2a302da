"""The home page: band counts per published run, the user's targets and colleagues' recent notes."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse

from tests.factories import NoteFactory
from tests.workspace.support import publish_run, table_rows

HOME = reverse("home")


def test_band_counts_per_published_run(ranked, logged_in) -> None:
    other = publish_run(7, sector="hospitality", offence="undeclared_work")
    response = logged_in.get(HOME)
    assert response.status_code == 200
    counts = dict(response.context["band_counts"])
    expected = Counter(s.band for s in ranked.scores)
    assert counts[ranked.run] == {band: expected[band] for band in (1, 2, 3, 4)}
    assert counts[other.run] == {1: 0, 2: 1, 3: 1, 4: 5}  # 7 employers: rank 1 is the top 14 %
    rows = table_rows(response.content.decode(), "band-counts")
    assert ["Cleaning", "Bogus self-employment", "6", "12", "30", "72"] in rows
    list_url = f"{reverse('workspace:ranked_list')}?sector=cleaning&amp;offence=bogus_self_employment"
    assert list_url in response.content.decode()


def test_without_scores_there_is_no_band_table(logged_in) -> None:
    html = logged_in.get(HOME).content.decode()
    assert 'id="band-counts"' not in html and "No targets yet." in html and "No notes yet." in html


def test_recent_notes_and_targets(ranked, logged_in, colleague) -> None:
    for rank in range(1, 11):
        NoteFactory(employer=ranked.employer(rank), author=colleague, text=f"note on rank {rank}")
    for rank in (20, 21, 22, 23, 24, 25):
        logged_in.post(reverse("workspace:target_add", args=[ranked.employer(rank).enterprise_number]))

    response = logged_in.get(HOME)

    notes = [note.text for note in response.context["recent_notes"]]
    assert notes == [f"note on rank {rank}" for rank in range(10, 2, -1)]  # the eight newest
    targets = list(response.context["targets"])
    assert [t.employer for t in targets] == [ranked.employer(rank) for rank in (25, 24, 23, 22, 21)]  # five newest
    html = response.content.decode()
    assert "note on rank 10" in html and "Koen Maes" in html
    assert targets[0].reference in html and "Planned" in html
    assert reverse("workspace:my_targets") in html


def test_recent_notes_are_colleagues_not_the_users_own(ranked, logged_in, inspector, colleague) -> None:
    NoteFactory(employer=ranked.employer(1), author=colleague, text="seen by a colleague")
    NoteFactory(employer=ranked.employer(2), author=inspector, text="my own note")

    response = logged_in.get(HOME)

    assert [note.text for note in response.context["recent_notes"]] == ["seen by a colleague"]
    html = response.content.decode()
    assert "seen by a colleague" in html and "my own note" not in html


@pytest.mark.parametrize("n", [2, 9])
def test_home_queries_do_not_grow(ranked, logged_in, colleague, django_assert_num_queries, n) -> None:
    publish_run(5, sector="hospitality", offence="undeclared_work")
    for rank in range(1, n + 1):
        NoteFactory(employer=ranked.employer(rank), author=colleague)
        logged_in.post(reverse("workspace:target_add", args=[ranked.employer(rank).enterprise_number]))
    # user (the session is cached), scope (once: kept on the user), employer counts,
    # regions, sectors, runs, band counts, those of the user's open worklist employers, targets, notes
    with django_assert_num_queries(12):  # with the user's permissions (two): the navigation is by role
        response = logged_in.get(HOME)
    assert response.status_code == 200
