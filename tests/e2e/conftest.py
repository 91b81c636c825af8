"""Real Rasa and action-server processes on their own ports, data folder and demo store."""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
import yaml

from bot import runner
from bot.__main__ import MODEL_DIR, build_knowledge_base
from bot.handoff.hours import DAYS
from bot.settings import PROJECT_ROOT, Settings
from bot.store.directory import SqlCustomerDirectory
from bot.store.seed import seed
from bot.store.service import utcnow

TOKEN = "e2e-test-token"


@dataclass
class Servers:
    settings: Settings
    processes: List[runner.ManagedProcess]

    @property
    def webhook(self) -> str:
        return f"{self.settings.rasa_url}/webhooks/rest/webhook"

    def say(self, sender: str, text: str, metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """Send one customer message over REST; return the bot's messages."""
        body: Dict[str, Any] = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        reply = requests.post(self.webhook, json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def tracker(self, sender: str) -> Dict[str, Any]:
        reply = requests.get(f"{self.settings.rasa_url}/conversations/{sender}/tracker",
                             params={"token": TOKEN}, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def restart(self) -> None:
        runner.stop_all(self.processes)
        self.processes = runner.start_all(self.settings, MODEL_DIR)


def text_of(messages: List[Dict[str, Any]]) -> str:
    return " ".join(m["text"] for m in messages if m.get("text"))


def new_sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The project's model, trained if data, domain or config changed (Rasa's fingerprint)."""
    runner.train(Settings.from_env(), MODEL_DIR)
    return MODEL_DIR


# E2E_PORT_BASE lets two runs on one machine (a developer's and a benchmark's, say) stay apart.
PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "15000"))


def always_open_handoff_config(folder: Path) -> Path:
    """handoff.yml with the team on duty around the clock: tests must not depend on the hour they run at."""
    config = yaml.safe_load((PROJECT_ROOT / "handoff.yml").read_text())
    config["hours"] = {"timezone": "UTC", "weekly": {day: "00:00-24:00" for day in DAYS}, "holidays": []}
    path = folder / "handoff.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Servers]:
    data_dir: Path = tmp_path_factory.mktemp("support-data")
    articles = data_dir / "articles"  # a copy, so tests can change an article and rebuild
    shutil.copytree(PROJECT_ROOT / "knowledge_base" / "articles", articles)
    settings = Settings.from_env({
        "SUPPORT_DATA_DIR": str(data_dir), "RASA_PORT": str(PORT_BASE + 5), "ACTION_PORT": str(PORT_BASE + 55),
        "WEB_PORT": str(PORT_BASE + 80),
        "RASA_TOKEN": TOKEN, "IDENTITY_SECRET": "e2e-identity-secret", "KB_ARTICLES_DIR": str(articles),
        "HANDOFF_CONFIG": str(always_open_handoff_config(data_dir)),
    })
    seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
    build_knowledge_base(settings)
    servers = Servers(settings, runner.start_all(settings, MODEL_DIR))
    yield servers
    runner.stop_all(servers.processes)
