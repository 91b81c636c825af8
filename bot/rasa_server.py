"""The `rasa` command line as the product runs it: `python -m bot.rasa_server run ...`.

Four differences from plain `rasa`:
- personal details are masked in every log record (`bot.privacy.install_log_masking`): Rasa logs each
  customer message at debug level, the action server logs what actions were given;
- `bot.rasa_speedups` is applied first to the server (a measured Rasa hot spot);
- `bot.rasa_durability`: a turn the conversation store cannot save fails (the customer is told to send it
  again) instead of living on in memory only, as Rasa's fail-safe store would have it;
- `rasa run` gets the HTTP API token from the environment (RASA_TOKEN) rather than from the command
  line, where `ps` would show it to every user of the machine.
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional


def arguments(argv: List[str], token: Optional[str]) -> List[str]:
    """Rasa's arguments with the API token added to `rasa run` (server only, not `run actions`)."""
    is_server = argv[:1] == ["run"] and (len(argv) < 2 or argv[1].startswith("-"))
    if is_server and token and "--auth-token" not in argv:
        return [*argv, "--auth-token", token]
    return list(argv)


def main() -> None:
    from bot import rasa_durability, rasa_speedups
    from bot.privacy import install_log_masking

    install_log_masking()
    rasa_speedups.apply()
    rasa_durability.apply()
    sys.argv = ["rasa", *arguments(sys.argv[1:], os.environ.get("RASA_TOKEN"))]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
