"""What a run reports: GenerationSummary when it wrote data, GenerationError when it refuses."""

from __future__ import annotations

from dataclasses import dataclass


class GenerationError(Exception):
    """The generator refuses to run (data present, reference data missing, bad arguments)."""


@dataclass(frozen=True)
class GenerationSummary:
    """What one run wrote, and the baseline hit rate a model has to beat."""

    employers: int
    active_employers: int
    declarations: int
    inspections: int
    inspections_by_origin: dict[str, int]
    findings: int
    offences_found: int
    random_controls: int
    random_control_hits: int
    quarters: int
    seconds: float
    mechanisms: str = "a"

    @property
    def random_control_hit_rate(self) -> float:
        """Share of completed random controls that found at least one offence."""
        return self.random_control_hits / self.random_controls if self.random_controls else 0.0

    @property
    def rows(self) -> int:
        return self.employers + self.declarations + self.inspections + self.findings

    def __str__(self) -> str:
        origins = ", ".join(f"{origin} {count:,}" for origin, count in self.inspections_by_origin.items())
        return (
            f"{self.employers:,} employers ({self.active_employers:,} active at the end), "
            f"fraud mechanisms {self.mechanisms}, "
            f"{self.declarations:,} declarations over {self.quarters} quarters, "
            f"{self.inspections:,} inspections ({origins}), "
            f"{self.findings:,} findings ({self.offences_found:,} offences found); "
            f"random-control hit rate {self.random_control_hit_rate:.1%} "
            f"({self.random_control_hits:,} of {self.random_controls:,}); "
            f"{self.rows:,} rows in {self.seconds:.1f} s"
        )
