"""CSV imports of employers, declarations and inspections: all of a file or none of it.

See docs/data-format.md for the file formats.
"""

from __future__ import annotations

from .common import ImportProblem, ImportResult
from .declarations import declaration_import
from .employers import employer_import
from .execution import data_import_create, data_import_execute
from .inspections import inspection_import

__all__ = [
    "ImportProblem",
    "ImportResult",
    "data_import_create",
    "data_import_execute",
    "declaration_import",
    "employer_import",
    "inspection_import",
]
