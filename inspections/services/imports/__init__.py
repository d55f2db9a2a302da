"""CSV imports of employers, declarations and inspections, all of a file or none (docs/data-format.md)."""

from __future__ import annotations

from .common import ImportProblem, ImportResult
from .declarations import declaration_import
from .employers import employer_import
from .inspections import inspection_import

__all__ = ["ImportProblem", "ImportResult", "declaration_import", "employer_import", "inspection_import"]
