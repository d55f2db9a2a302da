"""`manage.py rescore`: score every active employer with the active models now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from scoring.management.arguments import as_of_check, offences_check, pair_arguments_add, runs_table, sectors_check
from scoring.models import RunStatus, ScoringRun
from scoring.services.nightly import scores_refresh_all


class Command(BaseCommand):
    help = "Run a scoring run per active model of the chosen sectors and offence types, and publish the scores."

    def add_arguments(self, parser: CommandParser) -> None:
        pair_arguments_add(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        sectors = sectors_check(options["sector"])
        offences = offences_check(options["offence"])
        as_of = as_of_check(options["as_of"])
        bars = _RunBars(disable=options["verbosity"] < 1)
        try:
            runs = scores_refresh_all(as_of=as_of, sectors=sectors, offences=offences, progress=bars.update)
        finally:
            bars.close()
        if not runs:
            self.stdout.write(self.style.WARNING("No active model for this choice: nothing scored."))
            return
        self.stdout.write("\n".join(runs_table(runs)))
        succeeded = sum(1 for run in runs if run.status == RunStatus.SUCCEEDED)
        style = self.style.SUCCESS if succeeded == len(runs) else self.style.WARNING
        self.stdout.write(style(f"{succeeded} of {len(runs)} runs published."))


class _RunBars:
    """One progress bar per run, opened when the run reports its first progress."""

    def __init__(self, *, disable: bool) -> None:
        self.disable = disable
        self.run_id: int | None = None
        self.bar: tqdm | None = None

    def update(self, run: ScoringRun, share: float) -> None:
        if run.pk != self.run_id:
            self.close()
            self.run_id = run.pk
            desc = f"Run {run.pk} {run.sector_id}/{run.offence_type_id}"
            self.bar = tqdm(total=100, desc=desc, unit="%", disable=self.disable)
        assert self.bar is not None
        self.bar.update(round(share * 100) - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
