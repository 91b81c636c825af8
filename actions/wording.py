"""Words several topics share, so they say the same thing in one place."""
from __future__ import annotations

from actions.services import get_services


def team_contact() -> str:
    """Where a person can be reached: the company's support email and chat hours (company.yml)."""
    return get_services().company.team_contact()
