"""Path converters for the inspectorate's identifiers."""

from __future__ import annotations


class EnterpriseNumberConverter:
    """A KBO/BCE enterprise number as stored (Employer.enterprise_number): 10 ASCII digits,
    the first 0 or 1, as the employer table's check constraint has it.

    Anything else (a NUL byte, dots, full-width digits, a trailing newline) never reaches a
    view: it is a 404 from the resolver, rather than a query PostgreSQL or psycopg2 refuses.
    [0-9] rather than \\d, which in a Python pattern also matches "１" or "٣". The checksum is
    not checked here: a well-formed number nobody has is an ordinary "not found".
    """

    regex = "[01][0-9]{9}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
