"""A run's list columns per employer (RunLookup), packed into one array for numpy.

A name search can match tens of thousands of employers ("Bouw" in construction). Counting
them per band from the scores means one index probe each; looking them up in the run's
array of two bytes per employer id is a few array reads (docs/workspace.md). The array holds, for employer id
`first_employer + i` at position i, its band (0: not scored by the run), size class,
visit recency and legal form, as of the run: the same copies as the run's scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from inspections.models import LegalForm

# (name, bits), from the lowest bits up.
_FIELDS = (("band", 3), ("size_class", 3), ("visit_recency", 3), ("legal_form", 4))
_DTYPE = np.dtype("<u2")
# A legal form as the lookup stores it: its place among LegalForm's values from 1 (0: none).
_LEGAL_FORM_CODES = {form: code for code, form in enumerate(LegalForm.values, start=1)}
_LEGAL_FORMS = np.array(["", *LegalForm.values], dtype=object)  # by code


def legal_form_code(legal_form: str) -> int:
    return _LEGAL_FORM_CODES.get(legal_form, 0)


@dataclass(frozen=True)
class ListedEmployers:
    """The list columns of some employers, arrays of equal length (band 0: not scored)."""

    band: np.ndarray
    size_class: np.ndarray
    visit_recency: np.ndarray
    legal_form: np.ndarray  # LegalForm values, "" for none


def lookup_pack(
    *,
    employer_ids: np.ndarray,
    band: np.ndarray,
    size_class: np.ndarray,
    visit_recency: np.ndarray,
    legal_form: np.ndarray,
) -> tuple[int, bytes]:
    """The first employer id and the packed array of a run's scored employers (arrays of equal length)."""
    if not len(employer_ids):
        return 0, b""
    first = int(employer_ids.min())
    packed = np.zeros(int(employer_ids.max()) - first + 1, dtype=_DTYPE)
    codes = pd.Series(legal_form).map(_LEGAL_FORM_CODES).fillna(0).to_numpy()
    values = {"band": band, "size_class": size_class, "visit_recency": visit_recency, "legal_form": codes}
    shift = 0
    for name, bits in _FIELDS:
        packed[employer_ids - first] |= (values[name].astype(np.uint16) & (2**bits - 1)) << shift
        shift += bits
    return first, packed.tobytes()


def lookup_read(*, first_employer: int, packed: bytes, employer_ids: np.ndarray) -> ListedEmployers:
    """The list columns of `employer_ids` in a packed lookup (zeros for those it does not hold)."""
    array = np.frombuffer(packed, dtype=_DTYPE)
    position = np.asarray(employer_ids, dtype=np.int64) - first_employer
    inside = (position >= 0) & (position < len(array))
    values = np.zeros(len(position), dtype=np.uint16)
    values[inside] = array[position[inside]]
    fields = {}
    shift = 0
    for name, bits in _FIELDS:
        fields[name] = (values >> shift) & (2**bits - 1)
        shift += bits
    fields["legal_form"] = _LEGAL_FORMS[np.minimum(fields["legal_form"], len(_LEGAL_FORMS) - 1)]
    return ListedEmployers(**fields)
