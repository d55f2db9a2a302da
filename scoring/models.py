"""Risk models and scores arrive with the scoring engine (issue 3)."""

from __future__ import annotations
