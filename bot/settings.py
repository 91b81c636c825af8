"""One typed settings object, read from the environment once.

Every variable is documented in `.env.example`. `Settings.from_env()` fails fast with a
message naming the variable that is wrong.
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from bot.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _get(env: Mapping[str, str], name: str) -> str:
    """The variable's value without surrounding blanks ('' when unset); Make's .env include keeps them."""
    return (env.get(name) or "").strip()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if not 0 < value < 65536:
        raise ConfigurationError(f"{name} must be a port between 1 and 65535, got {value}")
    return value


# How long a conversation's lock ticket lives without being renewed (Rasa's TICKET_LOCK_LIFETIME). A live process
# renews its tickets every lifetime/3, waiting or running (bot/rasa_durability.py), so this bounds only how long a
# conversation whose worker died mid-turn (kill -9) stays locked; it must stay well above the event loop's longest
# stall, or a renewal comes too late (the longest turn `make bench-cluster` measured: docs/benchmarks.md).
DEFAULT_LOCK_LIFETIME = 60


def _seconds(env: Mapping[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    if not raw.isdigit() or not lowest <= int(raw) <= highest:
        raise ConfigurationError(f"{name} must be a whole number of seconds from {lowest} to {highest}, got {raw!r}")
    return int(raw)


def _count(env: Mapping[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    if not raw.isdigit() or not lowest <= int(raw) <= highest:
        raise ConfigurationError(f"{name} must be a whole number from {lowest} to {highest}, got {raw!r}")
    return int(raw)


ORDER_BACKENDS = ("sql", "shopify")
# SHOPIFY_SHOP: "acme", "acme.myshopify.com" (or the shop's own domain), or a base URL (tests, proxies)
_SHOP = re.compile(r"^(https?://[^\s/?#]+(/[^\s?#]*)?|[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)*)$")


def _order_backend(env: Mapping[str, str]) -> tuple[str, str, str]:
    """(ORDER_BACKEND, SHOPIFY_SHOP, SHOPIFY_ACCESS_TOKEN), checked at start: a Shopify backend needs both."""
    backend = (_get(env, "ORDER_BACKEND") or "sql").lower()
    if backend not in ORDER_BACKENDS:
        raise ConfigurationError(f"ORDER_BACKEND must be one of {', '.join(ORDER_BACKENDS)}, got {backend!r}")
    shop, token = _get(env, "SHOPIFY_SHOP"), _get(env, "SHOPIFY_ACCESS_TOKEN")
    if backend == "shopify":
        missing = [name for name, value in (("SHOPIFY_SHOP", shop), ("SHOPIFY_ACCESS_TOKEN", token)) if not value]
        if missing:
            raise ConfigurationError(f"ORDER_BACKEND=shopify needs {' and '.join(missing)} (the shop's domain and "
                                     "its custom app's Admin API access token)")
    if shop and not _SHOP.match(shop):
        raise ConfigurationError(f"SHOPIFY_SHOP must be a shop name, a domain or an http(s) URL, got {shop!r}")
    return backend, shop, token


@dataclass(frozen=True)
class Settings:
    """Where things live and how the processes reach each other."""

    data_dir: Path
    rasa_port: int
    action_port: int
    web_port: int
    host: str
    rasa_token: str
    identity_secret: str
    tracker_store_url: str
    store_db_url: str
    lock_store_type: str
    lock_store_host: str
    app_db_url: str
    kb_articles_dir: Path
    kb_index_dir: Path
    handoff_config: Path
    public_web_url: str = ""
    # Slack (bot/channels/slack.py): off unless both the bot token and the signing secret are set
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_agents_channel: str = ""  # channel id where handoffs are posted for agents; empty: agents use the desk only
    slack_api_url: str = ""  # Slack's Web API; only tests (a local fake) and proxies change it
    # RabbitMQ: when set, Rasa publishes customer messages there (its Pika event broker) and the web app consumes
    # them for the desk; unset, Rasa's event broker writes them to the app database itself (one machine)
    rabbitmq_url: str = ""
    # Redis for socket.io across Rasa workers: an agent's reply sent through one worker reaches the customer
    # connected to another (python-socketio's AsyncRedisManager); unset, one worker holds every connection
    redis_url: str = ""
    internal_rasa_url: str = ""  # RASA_URL: another host's Rasa (containers); default http://SUPPORT_HOST:RASA_PORT
    public_rasa_url: str = ""  # PUBLIC_RASA_URL: Rasa as browsers reach it, behind a proxy; default the above
    lock_lifetime: int = DEFAULT_LOCK_LIFETIME  # LOCK_LIFETIME, seconds
    # The order backend (bot/container.py build_directory): "sql", the demo store's tables, or "shopify"
    order_backend: str = "sql"
    shopify_shop: str = ""  # SHOPIFY_SHOP
    shopify_access_token: str = field(default="", repr=False)  # SHOPIFY_ACCESS_TOKEN; kept out of any repr
    # COMPANY_PROFILE (bot/company.py): the company's name, brand, hours, tone and links
    company_profile: Path = PROJECT_ROOT / "company.yml"
    feedback_config: Path = PROJECT_ROOT / "feedback.yml"  # FEEDBACK_CONFIG: CSAT and NPS after a resolved conversation
    # Proactive messages (bot/proactive): the token the store sends with its order events (STORE_API_TOKEN), the
    # most messages one customer gets in 24 hours, and how long after a delivery "Did it arrive OK?" is asked
    store_api_token: str = field(default="", repr=False)
    proactive_max_per_day: int = 3
    proactive_nudge_hours: int = 24

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def slack_agents_enabled(self) -> bool:
        return self.slack_enabled and bool(self.slack_agents_channel)

    @property
    def action_endpoint_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def rasa_url(self) -> str:
        """Where the product's own processes reach Rasa (the load balancer in a cluster)."""
        return self.internal_rasa_url or f"http://{self.host}:{self.rasa_port}"

    @property
    def public_rasa(self) -> str:
        """Where browsers reach Rasa's socket.io channel."""
        return self.public_rasa_url or self.rasa_url

    @property
    def web_url(self) -> str:
        """Where the web app (agent desk, widget, demo page) answers; PUBLIC_WEB_URL when behind a proxy."""
        return self.public_web_url or f"http://{self.host}:{self.web_port}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        """Read and validate the settings; secrets are generated into the data folder when unset."""
        env = os.environ if env is None else env
        data_dir = data_dir_of(env)
        kb_articles_dir, kb_index_dir = knowledge_paths(env)
        lock_type = (_get(env, "LOCK_STORE") or "in_memory").strip().lower()
        if lock_type not in ("in_memory", "redis"):
            raise ConfigurationError(f"LOCK_STORE must be 'in_memory' or 'redis', got {lock_type!r}")
        order_backend, shopify_shop, shopify_access_token = _order_backend(env)
        return cls(
            data_dir=data_dir,
            rasa_port=_int(env, "RASA_PORT", 5005),
            action_port=_int(env, "ACTION_PORT", 5055),
            web_port=_int(env, "WEB_PORT", 8000),
            host=_get(env, "SUPPORT_HOST") or "127.0.0.1",
            rasa_token=_get(env, "RASA_TOKEN") or _secret_file(data_dir, "rasa_token"),
            identity_secret=_get(env, "IDENTITY_SECRET") or _secret_file(data_dir, "identity_secret"),
            tracker_store_url=_get(env, "TRACKER_STORE_URL") or f"sqlite:///{data_dir / 'conversations.db'}",
            store_db_url=_get(env, "STORE_DB_URL") or f"sqlite:///{data_dir / 'store.db'}",
            lock_store_type=lock_type,
            lock_store_host=_get(env, "LOCK_STORE_HOST") or "127.0.0.1",
            app_db_url=app_db_url(env),
            kb_articles_dir=kb_articles_dir,
            kb_index_dir=kb_index_dir,
            handoff_config=rules_path(env),
            public_web_url=_get(env, "PUBLIC_WEB_URL").rstrip("/"),
            slack_bot_token=_get(env, "SLACK_BOT_TOKEN"),
            slack_signing_secret=_get(env, "SLACK_SIGNING_SECRET"),
            slack_agents_channel=_get(env, "SLACK_AGENTS_CHANNEL"),
            slack_api_url=_get(env, "SLACK_API_URL"),
            rabbitmq_url=_get(env, "RABBITMQ_URL"),
            redis_url=_get(env, "REDIS_URL"),
            internal_rasa_url=_get(env, "RASA_URL").rstrip("/"),
            public_rasa_url=_get(env, "PUBLIC_RASA_URL").rstrip("/"),
            lock_lifetime=_seconds(env, "LOCK_LIFETIME", DEFAULT_LOCK_LIFETIME, 5, 3600),
            order_backend=order_backend,
            shopify_shop=shopify_shop,
            shopify_access_token=shopify_access_token,
            company_profile=company_path(env),
            feedback_config=feedback_path(env),
            store_api_token=_get(env, "STORE_API_TOKEN") or _secret_file(data_dir, "store_api_token"),
            proactive_max_per_day=_count(env, "PROACTIVE_MAX_PER_DAY", 3, 1, 100),
            proactive_nudge_hours=_count(env, "PROACTIVE_NUDGE_HOURS", 24, 0, 720),
        )

    def rasa_environment(self) -> dict[str, str]:
        """The variables `endpoints.yml` and the action server read (Rasa substitutes `${VAR}`)."""
        return {
            "SUPPORT_DATA_DIR": str(self.data_dir),
            "ACTION_ENDPOINT_URL": self.action_endpoint_url,
            "TRACKER_STORE_URL": self.tracker_store_url,
            "STORE_DB_URL": self.store_db_url,
            "LOCK_STORE": self.lock_store_type,
            "LOCK_STORE_HOST": self.lock_store_host,
            "LOCK_LIFETIME": str(self.lock_lifetime),
            "TICKET_LOCK_LIFETIME": str(self.lock_lifetime),  # what Rasa's lock store reads
            "RASA_TOKEN": self.rasa_token,
            "IDENTITY_SECRET": self.identity_secret,
            "APP_DB_URL": self.app_db_url,
            "KB_ARTICLES_DIR": str(self.kb_articles_dir),
            "KB_INDEX_DIR": str(self.kb_index_dir),
            "HANDOFF_CONFIG": str(self.handoff_config),
            "COMPANY_PROFILE": str(self.company_profile),
            "FEEDBACK_CONFIG": str(self.feedback_config),
            # every process builds the same Settings: the web app reaches Rasa's API, Rasa links to the desk
            "SUPPORT_HOST": self.host,
            "RASA_PORT": str(self.rasa_port),
            "ACTION_PORT": str(self.action_port),
            "WEB_PORT": str(self.web_port),
            "PUBLIC_WEB_URL": self.public_web_url,
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_AGENTS_CHANNEL": self.slack_agents_channel,
            "SLACK_API_URL": self.slack_api_url,
            "RABBITMQ_URL": self.rabbitmq_url,
            "REDIS_URL": self.redis_url,
            "RASA_URL": self.internal_rasa_url,
            "PUBLIC_RASA_URL": self.public_rasa_url,
            "ORDER_BACKEND": self.order_backend,
            "SHOPIFY_SHOP": self.shopify_shop,
            "SHOPIFY_ACCESS_TOKEN": self.shopify_access_token,
            "STORE_API_TOKEN": self.store_api_token,
            "PROACTIVE_MAX_PER_DAY": str(self.proactive_max_per_day),
            "PROACTIVE_NUDGE_HOURS": str(self.proactive_nudge_hours),
        }


def data_dir_of(env: Optional[Mapping[str, str]] = None) -> Path:
    env = os.environ if env is None else env
    return Path(_get(env, "SUPPORT_DATA_DIR") or PROJECT_ROOT / "var").resolve()


def app_db_url(env: Optional[Mapping[str, str]] = None) -> str:
    env = os.environ if env is None else env
    return _get(env, "APP_DB_URL") or f"sqlite:///{data_dir_of(env) / 'app.db'}"


def knowledge_paths(env: Optional[Mapping[str, str]] = None) -> tuple[Path, Path]:
    """(articles folder, index folder), for commands that need no other setting (bot kb ...)."""
    env = os.environ if env is None else env
    articles = Path(_get(env, "KB_ARTICLES_DIR") or PROJECT_ROOT / "knowledge_base" / "articles").resolve()
    return articles, Path(_get(env, "KB_INDEX_DIR") or data_dir_of(env) / "kb_index").resolve()


def rules_path(env: Optional[Mapping[str, str]] = None) -> Path:
    """The handoff settings file (triggers, business hours, queue): HANDOFF_CONFIG or ./handoff.yml."""
    env = os.environ if env is None else env
    raw = _get(env, "HANDOFF_CONFIG")
    return Path(raw).resolve() if raw else PROJECT_ROOT / "handoff.yml"


def feedback_path(env: Optional[Mapping[str, str]] = None) -> Path:
    """The feedback settings file (who is asked NPS after a resolved conversation): FEEDBACK_CONFIG or ./feedback.yml."""
    env = os.environ if env is None else env
    raw = _get(env, "FEEDBACK_CONFIG")
    return Path(raw).resolve() if raw else PROJECT_ROOT / "feedback.yml"


def company_path(env: Optional[Mapping[str, str]] = None) -> Path:
    """The company profile (name, brand, hours, tone, links): COMPANY_PROFILE or ./company.yml."""
    env = os.environ if env is None else env
    raw = _get(env, "COMPANY_PROFILE")
    return Path(raw).resolve() if raw else PROJECT_ROOT / "company.yml"


def _secret_file(data_dir: Path, name: str) -> str:
    """Return the secret stored in the data folder, creating it (mode 600) on first use."""
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
