"""`manage.py retrain`: retrain (sector, offence) models now, as the nightly task does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from scoring.management.arguments import (
    as_of_check,
    offences_check,
    pair_arguments_add,
    retrain_table,
    sectors_check,
)
from scoring.services.nightly import RetrainOutcome, models_retrain_all, pairs_select


class Command(BaseCommand):
    help = (
        "Retrain, validate and (when it passes the gates and is no worse) activate a model per "
        "(sector, offence type); a version that does not pass stays a candidate for an analyst."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        pair_arguments_add(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        sectors = sectors_check(options["sector"])
        offences = offences_check(options["offence"])
        as_of = as_of_check(options["as_of"])
        total = len(pairs_select(sectors=sectors, offences=offences))
        with tqdm(total=total, unit="model", desc="Retraining", disable=options["verbosity"] < 1) as bar:

            def advance(outcome: RetrainOutcome) -> None:
                bar.set_postfix_str(f"{outcome.sector}/{outcome.offence}")
                bar.update(1)

            outcomes = models_retrain_all(as_of=as_of, sectors=sectors, offences=offences, progress=advance)
        self.stdout.write("\n".join(retrain_table(outcomes)))
        active = sum(1 for outcome in outcomes if outcome.version is not None and outcome.version.status == "active")
        self.stdout.write(self.style.SUCCESS(f"{active} of {len(outcomes)} new versions activated."))
