"""What the retrain and rescore commands share: arguments checked against the reference
tables, and the summary tables they (and `make demo`) print."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.core.management.base import CommandError, CommandParser
from django.db.models import Model

from inspections.models import OffenceType, Sector
from scoring.models import ModelVersion, ScoringRun
from scoring.services.evaluation import figure_text
from scoring.services.nightly import RetrainOutcome


def pair_arguments_add(parser: CommandParser) -> None:
    parser.add_argument("--sector", action="append", help="sector code (repeat for several; default: all)")
    parser.add_argument("--offence", action="append", help="offence type code (repeat for several; default: all)")
    parser.add_argument("--as-of", help="date of the data, YYYY-MM-DD (default: today)")


def codes_check(codes: list[str] | None, model: type[Model], label: str) -> list[str] | None:
    """The codes when they all exist in the reference table; a CommandError naming the valid ones otherwise."""
    if codes is None:
        return None
    valid = list(model.objects.order_by("pk").values_list("pk", flat=True))
    unknown = [code for code in codes if code not in valid]
    if unknown:
        raise CommandError(f"Unknown {label} {', '.join(map(repr, unknown))}. Valid codes: {', '.join(valid)}.")
    return codes


def sectors_check(codes: list[str] | None) -> list[str] | None:
    return codes_check(codes, Sector, "sector")


def offences_check(codes: list[str] | None) -> list[str] | None:
    return codes_check(codes, OffenceType, "offence type")


def as_of_check(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of must be a date as YYYY-MM-DD (e.g. 2026-10-01), not {value!r}.") from None


def table_render(header: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> list[str]:
    """Plain columns, wide enough for their longest cell."""
    cells = [tuple(str(cell) for cell in header), *(tuple(_cell(cell) for cell in row) for row in rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return [lines[0], "  ".join("-" * width for width in widths), *lines[1:]]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def retrain_table(outcomes: Iterable[RetrainOutcome]) -> list[str]:
    """Per pair: version, status, AUC and lift on the validation inspections, why it is not active."""
    rows = []
    for outcome in outcomes:
        version: ModelVersion | None = outcome.version
        if version is None:
            rows.append((outcome.sector, outcome.offence, None, "refused", None, None, outcome.refused))
            continue
        metrics = version.metrics
        status = str(version.status)
        rows.append(
            (
                outcome.sector,
                outcome.offence,
                version.pk,
                status,
                figure_text(metrics, "roc_auc"),
                _lift_text(metrics),
                version.review_note,
            )
        )
    return table_render(("sector", "offence", "version", "status", "AUC", "lift", "note"), rows)


def _lift_text(metrics: dict) -> str:
    """The lift with its interval and the random controls it rests on."""
    controls = metrics.get("random_controls") or {}
    return f"{figure_text(metrics, 'lift')} on {controls.get('validation_rows', 0)} random controls"


def runs_table(runs: Iterable[ScoringRun]) -> list[str]:
    """Per run: the model it used, its status, how many employers it scored, per band (or why it failed)."""
    rows = [
        (
            run.pk,
            run.sector_id,
            run.offence_type_id,
            run.model_version_id,
            str(run.status),
            run.employers_scored,
            run.message,
        )
        for run in runs
    ]
    return table_render(("run", "sector", "offence", "version", "status", "employers", "bands / message"), rows)
