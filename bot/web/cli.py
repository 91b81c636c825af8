"""Desk accounts from the command line (`bot desk add-agent ...`): for the first lead, or when nobody can sign in."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Callable, Optional, Sequence, TextIO

from bot.errors import ConfigurationError
from bot.handoff.models import ROLES
from bot.handoff.service import HandoffService, InvalidInput

PASSWORD_VARIABLE = "DESK_PASSWORD"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="bot desk", description="Manage the agent desk's accounts.",
                                   epilog="Exit codes: 0 ok, 1 refused (e.g. the email exists), 2 usage or configuration error.")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add = commands.add_parser("add-agent", help="create an agent or lead account",
                              description=f"Create a desk account. The password is read from ${PASSWORD_VARIABLE} when set, "
                                          "otherwise asked for twice (never from the command line, where other users "
                                          "could see it).")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=ROLES, default="agent", help="agent (default) or lead")
    return root


def main(argv: Optional[Sequence[str]] = None, handoff_factory: Optional[Callable[[], HandoffService]] = None,
         ask: Callable[[str], str] = getpass.getpass, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # --help exits 0, usage errors 2
        return int(exit_.code or 0)
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        password = ask("Password (at least 10 characters): ")
        if ask("Same password again: ") != password:
            print("error: the passwords differ", file=err)
            return 1
    try:
        handoff = (handoff_factory or _handoff_from_settings)()
        agent = handoff.create_agent(args.email, args.name, args.role, password)
    except InvalidInput as error:
        print(f"error: {error}", file=err)
        return 1
    except ConfigurationError as error:
        print(f"configuration error: {error}", file=err)
        return 2
    print(f"Created {agent.role} {agent.name} <{agent.email}> (id {agent.id}).", file=out)
    return 0


def _handoff_from_settings() -> HandoffService:
    from bot.container import build_handoff
    from bot.settings import Settings

    return build_handoff(Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
