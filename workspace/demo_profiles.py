"""Demo only: a short risk profile for each (sector, offence) of `make demo`, so that a new
user sees what the task force writes there. Plausible, not researched: each is to be
rewritten by a real task force from its own cases (the demo keeps any text already there)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from inspections.models import OffenceType, Sector
from workspace.models import RiskProfile

# (sector, offence) -> (patterns behind the model, what to look for on site)
PROFILES: dict[tuple[str, str], tuple[str, str]] = {
    ("construction", "undeclared_work"): (
        "Sites whose declared headcount cannot carry the work: turnover or site size far above "
        "what the declared FTE could build, few hires before a big job, and a wage per FTE well "
        "under the sector median.\n\nOften a main contractor with a chain of small subcontractors "
        "that change every year.",
        "Check every person on site against Dimona and the site attendance register (Checkin@Work "
        "above the threshold). Ask for the subcontracting contracts and who supplies the workers. "
        "Vans and workers arriving before 7:00 are worth a first visit.",
    ),
    ("construction", "part_time_abuse"): (
        "A high share of part-time contracts in trades that are full-time by nature (masons, "
        "roofers), with part-time wages that stay flat while the company grows.",
        "Compare the published work schedules with the hours actually worked (site diary, fuel "
        "cards, vehicle tracking). Part-timers on site outside their schedule are the finding.",
    ),
    ("construction", "bogus_self_employment"): (
        "Few employees, many invoices from one-person businesses that work only for this "
        "employer, often registered in the same months and from abroad; outgoing workers who "
        "return as self-employed.",
        "Who gives the orders, supplies the tools and sets the hours? Interview the self-employed "
        "on site separately; check whether they have other clients, their own insurance and a "
        "price per job rather than per hour.",
    ),
    ("construction", "temporary_layoff_fraud"): (
        "Temporary-unemployment days on dry, busy months (weather is the usual reason given), "
        "while invoices, purchases of materials or site registrations go on.",
        "Visit sites on declared unemployment days. Compare the days declared with the site "
        "register, the suppliers' delivery notes and the weather records for the place.",
    ),
    ("cleaning", "undeclared_work"): (
        "Contracts with offices or shops whose surface needs more hours than the declared staff "
        "could work; a wage per FTE under the sector median; many short contracts.",
        "Go at the client's opening or closing time, when cleaners work. Check each person against "
        "Dimona and the client's access badges; ask the client who cleans and since when.",
    ),
    ("cleaning", "part_time_abuse"): (
        "Nearly all staff part-time on small contracts (a few hours a day) while the client "
        "contracts describe full days of cleaning; few hours declared per worker for many sites.",
        "Ask for the work schedules and each site's planning; compare them with the clients' "
        "access logs and the time-registration device where one is required.",
    ),
    ("cleaning", "bogus_self_employment"): (
        "Cleaners registered as self-employed who work for one firm only, on its clients' sites, "
        "at hours it sets; the firm's own headcount is small for its turnover.",
        "Who plans the rounds, supplies products and machines, and bills the client? A cleaner "
        "with one client, a fixed schedule and the firm's uniform is an employee.",
    ),
    ("cleaning", "temporary_layoff_fraud"): (
        "Temporary unemployment declared while the clients' contracts run on: offices are still "
        "cleaned, invoices unchanged.",
        "Ask the clients whether the cleaning stopped on the declared days; compare the invoices "
        "with the unemployment days of the workers assigned to them.",
    ),
    ("hospitality", "undeclared_work"): (
        "Turnover (or the cash register's) high for the declared staff, especially evenings and "
        "weekends; students and flexi-jobs declared only on some days; a low wage per FTE.",
        "Visit at the busiest hours (Friday and Saturday evenings). Check everyone in the kitchen "
        "and the dining room against Dimona and the registered cash system's user log.",
    ),
    ("hospitality", "part_time_abuse"): (
        "Staff declared on short part-time contracts in places open long hours every day; the "
        "declared hours do not cover the opening hours.",
        "Compare the work schedules posted on site with who is actually working and the cash "
        "system's log-ins; ask staff when they started that day.",
    ),
    ("hospitality", "bogus_self_employment"): (
        "Cooks and managers registered as self-employed or as partners of the company, working "
        "its hours and nowhere else; few employees for the size of the place.",
        "Who sets the menu, the hours and the pay? Check for a partnership deed that gives real "
        "say, and whether the 'partner' can refuse work or has other clients.",
    ),
    ("hospitality", "temporary_layoff_fraud"): (
        "Temporary unemployment declared for economic reasons while the cash register shows "
        "normal takings, or on days the place advertises as open.",
        "Visit on declared unemployment days; compare the cash system's daily takings and its "
        "user log with the days declared for each worker.",
    ),
}


def demo_risk_profiles_ensure() -> int:
    """Write the demo's profile of each (sector, offence) that has no text yet; returns how
    many were written. A profile someone wrote is kept."""
    author = get_user_model().objects.filter(username="taskforce").first()
    sectors, offences = (
        set(Sector.objects.values_list("pk", flat=True)),
        set(OffenceType.objects.values_list("pk", flat=True)),
    )
    written = 0
    for (sector, offence), (patterns, on_site) in PROFILES.items():
        if sector not in sectors or offence not in offences:
            continue
        profile, _ = RiskProfile.objects.get_or_create(sector_id=sector, offence_type_id=offence)
        if profile.patterns or profile.on_site:
            continue
        profile.patterns, profile.on_site, profile.updated_by = patterns, on_site, author
        profile.save()
        written += 1
    return written
