"""`manage.py generate_data`: fill the database with synthetic employers, declarations and inspections."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inspections.services.generation import (
    DEFAULT_INSPECTION_RATE,
    MECHANISMS,
    GenerationError,
    demo_data_generate,
)


class Command(BaseCommand):
    help = "Generate synthetic employers, quarterly declarations and past inspections (see docs/data-generation.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--employers", type=int, required=True, help="number of employers to generate")
        parser.add_argument("--seed", type=int, required=True, help="the same seed always gives the same data")
        parser.add_argument("--quarters", type=int, default=12, help="quarters of declarations (default 12)")
        parser.add_argument(
            "--inspection-rate",
            type=float,
            default=DEFAULT_INSPECTION_RATE,
            help=f"share of employers inspected per year (default {DEFAULT_INSPECTION_RATE})",
        )
        parser.add_argument(
            "--replace", action="store_true", help="delete all employers, declarations and inspections first"
        )
        parser.add_argument(
            "--mechanisms",
            choices=MECHANISMS,
            default="a",
            help="how fraud shows in the declarations: set a or set b (default a; see docs/data-generation.md)",
        )
        parser.add_argument(
            "--truth",
            metavar="FILE",
            help="also write the ground truth (which employer commits which offence) to this CSV file",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = demo_data_generate(
                employers=options["employers"],
                seed=options["seed"],
                quarters=options["quarters"],
                inspection_rate=options["inspection_rate"],
                replace=options["replace"],
                progress=options["verbosity"] > 0,
                mechanisms=options["mechanisms"],
                truth=options["truth"],
            )
        except GenerationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(str(summary)))
        if options["truth"]:
            self.stdout.write(f"Ground truth written to {options['truth']}.")
