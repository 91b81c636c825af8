"""How actions reach the services: built once per action-server process, replaceable in tests."""
from __future__ import annotations

import threading
from typing import Optional

from bot.container import Services, build_services
from bot.settings import Settings

_lock = threading.Lock()
_services: Optional[Services] = None


def get_services() -> Services:
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                _services = build_services(Settings.from_env())
    return _services


def use_services(services: Optional[Services]) -> None:
    """Install services (tests pass fakes); None makes the next call build them from settings."""
    global _services
    _services = services
