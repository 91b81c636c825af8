"""The product as `make run` starts it (bot.runner: action server, Rasa server, web app), on a data folder
of its own, with Slack switched on against the local fake of Slack's Web API, and a desk agent and a
lead to fuzz the desk's API as."""
from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from bot import runner
from bot.handoff.hours import DAYS
from bot.identity import sign_identity
from bot.settings import PROJECT_ROOT, Settings

AGENT = ("battery-agent@reliability.example", "Battery Agent", "battery agent password")
LEAD = ("battery-lead@reliability.example", "Battery Lead", "battery lead password")
# the demo store's first customer (bot/store/seed.py): the identity the battery's forgeries start from
JANE = {"customer_id": "C1001", "email": "jane.doe@example.com"}


@dataclass
class Product:
    settings: Settings
    processes: List[runner.ManagedProcess]
    slack: Any  # tests.slack_fake.FakeSlack
    slack_secret: str

    @property
    def web_url(self) -> str:
        return self.settings.web_url

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa_url

    def identity_claim(self, customer: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """A correctly signed identity, as the shop's site puts it in the widget's metadata."""
        who = customer or JANE
        return {**who, "signature": sign_identity(self.settings.identity_secret, who["customer_id"], who["email"])}

    def log_files(self) -> List[Path]:
        return sorted(p for p in self.settings.log_dir.rglob("*") if p.is_file())

    def stop(self) -> None:
        runner.stop_all(self.processes)
        self.slack.stop()


def _always_open(folder: Path) -> Path:
    """handoff.yml with the team on duty around the clock, so the run does not depend on the hour."""
    config = yaml.safe_load((PROJECT_ROOT / "handoff.yml").read_text())
    config["hours"] = {"timezone": "UTC", "weekly": {day: "00:00-24:00" for day in DAYS}, "holidays": []}
    path = folder / "handoff.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_product(data_dir: Path, port_base: int, train: bool = True) -> Product:
    from bot.__main__ import MODEL_DIR, build_knowledge_base
    from bot.container import build_handoff
    from bot.store.directory import SqlCustomerDirectory
    from bot.store.seed import seed
    from bot.store.service import utcnow

    # the local fake of Slack's Web API is the tests' (tests/slack_fake.py): one fake, used by both
    from tests.slack_fake import FakeSlack

    if train:
        runner.train(Settings.from_env(), MODEL_DIR)
    slack = FakeSlack().start()
    slack.add_user("UJANE0001", JANE["email"], "Jane Doe")
    slack.add_user("USTRANGER", "stranger@elsewhere.example", "Stranger")
    articles = data_dir / "articles"
    shutil.copytree(PROJECT_ROOT / "knowledge_base" / "articles", articles)
    slack_secret = secrets.token_hex(16)
    settings = Settings.from_env({
        "SUPPORT_DATA_DIR": str(data_dir), "RASA_PORT": str(port_base + 5), "ACTION_PORT": str(port_base + 55),
        "WEB_PORT": str(port_base + 80), "RASA_TOKEN": secrets.token_hex(16), "IDENTITY_SECRET": secrets.token_hex(16),
        "KB_ARTICLES_DIR": str(articles), "HANDOFF_CONFIG": str(_always_open(data_dir)),
        "SLACK_BOT_TOKEN": "xoxb-battery", "SLACK_SIGNING_SECRET": slack_secret, "SLACK_AGENTS_CHANNEL": "CAGENTS001",
        "SLACK_API_URL": slack.url,
    })
    seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
    build_knowledge_base(settings)
    handoff = build_handoff(settings)
    for email, name, password in (AGENT, LEAD):
        handoff.ensure_agent(email, name, "lead" if (email, name, password) == LEAD else "agent", password)
    try:
        processes = runner.start_all(settings, MODEL_DIR)
    except BaseException:
        slack.stop()
        raise
    return Product(settings, processes, slack, slack_secret)
