"""The first desk accounts, so a fresh install can sign in without anyone typing a password into a config file."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import List, Optional, Tuple

from bot.company import load_company
from bot.handoff.models import AGENT, LEAD
from bot.handoff.service import HandoffService

# at the domain of the company's support email (company.yml): lead@acme.example, agent@acme.example
FIRST_ACCOUNTS = (
    ("lead", "Support lead", LEAD, "desk-lead-password"),
    ("agent", "Support agent", AGENT, "desk-agent-password"),
)


def bootstrap_accounts(handoff: HandoffService, secrets_dir: Path, email_domain: Optional[str] = None) -> List[Tuple[str, str, Path]]:
    """Create a lead and an agent when there are no accounts at all; (email, role, password file) of each created.

    Their emails are at `email_domain`, by default the domain of the support email in the company profile.

    The passwords are random and written to `secrets_dir` with mode 600 (a file already there is
    reused, so a half-finished earlier run does not leave a password nobody knows).
    """
    if handoff.store.list_agents():
        return []
    domain = email_domain or load_company().support_email.rsplit("@", 1)[1]
    created = []
    for local_part, name, role, file_name in FIRST_ACCOUNTS:
        email = f"{local_part}@{domain}"
        path = secrets_dir / file_name
        handoff.ensure_agent(email, name, role, _password_file(path))
        created.append((email, role, path))
    return created


def _password_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(18)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return password
