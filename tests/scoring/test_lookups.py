"""A run's list columns per employer, packed (scoring.services.lookups)."""

from __future__ import annotations

import numpy as np

from inspections.models import LegalForm
from scoring.services.lookups import legal_form_code, lookup_pack, lookup_read


def test_what_is_packed_is_read_back_and_other_ids_are_not_scored() -> None:
    rng = np.random.default_rng(3)
    ids = np.sort(rng.choice(np.arange(1000, 5000), size=500, replace=False))
    band, size, recency = rng.integers(1, 5, 500), rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    forms = rng.choice([*LegalForm.values, ""], size=500).astype(object)

    first, packed = lookup_pack(employer_ids=ids, band=band, size_class=size, visit_recency=recency, legal_form=forms)
    order = rng.permutation(500)
    listed = lookup_read(first_employer=first, packed=packed, employer_ids=ids[order])

    assert first == ids[0] and len(packed) == 2 * (ids[-1] - ids[0] + 1)
    assert (listed.band == band[order]).all() and (listed.size_class == size[order]).all()
    assert (listed.visit_recency == recency[order]).all()
    assert listed.legal_form.tolist() == [form if form in LegalForm.values else "" for form in forms[order]]
    absent = np.setdiff1d(np.arange(0, 6000), ids)  # between, before and after the run's ids
    assert not lookup_read(first_employer=first, packed=packed, employer_ids=absent).band.any()


def test_every_legal_form_has_its_own_code_and_the_rest_none() -> None:
    codes = [legal_form_code(form) for form in LegalForm.values]
    assert sorted(codes) == list(range(1, len(codes) + 1)) and max(codes) < 16  # 4 bits
    assert legal_form_code("") == legal_form_code("XYZ") == 0


def test_an_empty_run_packs_to_nothing() -> None:
    first, packed = lookup_pack(
        employer_ids=np.array([], dtype=np.int64),
        band=np.array([]),
        size_class=np.array([]),
        visit_recency=np.array([]),
        legal_form=np.array([], dtype=object),
    )
    assert not lookup_read(first_employer=first, packed=packed, employer_ids=np.array([1, 2])).band.any()
