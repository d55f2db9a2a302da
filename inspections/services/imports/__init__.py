"""CSV imports of employers, declarations and inspections, all of a file or none (docs/data-format.md)."""

from __future__ import annotations

from .checks import ImportProblem, ImportResult
from .kinds import declaration_import, employer_import, inspection_import

__all__ = ["ImportProblem", "ImportResult", "declaration_import", "employer_import", "inspection_import"]
