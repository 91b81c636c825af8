"""The handoff settings (`handoff.yml`): triggers and queue figures; the business hours come from the company
profile (`company.yml`, bot/company.py) unless `handoff.yml` still has its own `hours:` section, which wins."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

from bot.company import CompanyProfile, load_company
from bot.errors import ConfigurationError
from bot.handoff.hours import BusinessHours
from bot.settings import rules_path

__all__ = ["HandoffRules", "PolicyTopic", "load_rules", "rules_path"]

TRIGGER_KEYS = {"kb_misses_in_a_row", "not_helpful_in_a_row", "fallback_failed", "damaged_item_value", "frustration",
                "policy_topics"}
QUEUE_KEYS = {"agent_online_minutes", "default_wait_minutes", "recent_handoffs", "offline_reply_hours"}


@dataclass(frozen=True)
class PolicyTopic:
    name: str
    pattern: "re.Pattern[str]"

    def matches(self, text: str) -> bool:
        return bool(self.pattern.search(text))


@dataclass(frozen=True)
class HandoffRules:
    hours: BusinessHours
    kb_misses_in_a_row: int = 2
    not_helpful_in_a_row: int = 2
    fallback_failed: bool = True
    damaged_item_value: float = 150.0
    frustration: Dict[str, Any] = field(default_factory=dict)
    policy_topics: Tuple[PolicyTopic, ...] = ()
    agent_online_minutes: int = 2
    default_wait_minutes: int = 3
    recent_handoffs: int = 50
    offline_reply_hours: int = 24
    # what customers call the company (company.yml): the person-request grammar reads "one of Acme's agents"
    company_names: Tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, config: Mapping, company: Optional[CompanyProfile] = None) -> "HandoffRules":
        """Validate handoff.yml's mapping; hours from its own `hours:` section if it has one, else the company's."""
        unknown = set(config) - {"triggers", "hours", "queue"}
        if unknown:
            raise ValueError(f"unknown section(s) {', '.join(sorted(unknown))}")
        triggers = dict(config.get("triggers") or {})
        queue = dict(config.get("queue") or {})
        for section, keys, given in (("triggers", TRIGGER_KEYS, triggers), ("queue", QUEUE_KEYS, queue)):
            bad = set(given) - keys
            if bad:
                raise ValueError(f"{section}: unknown setting(s) {', '.join(sorted(bad))}")
        topics = []
        for name, phrases in (triggers.get("policy_topics") or {}).items():
            if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
                raise ValueError(f"triggers.policy_topics.{name}: expected a list of phrases")
            alternatives = "|".join(re.escape(p.strip()).replace(r"\ ", r"\s+") for p in phrases)
            topics.append(PolicyTopic(str(name), re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)))
        frustration = triggers.get("frustration") or {}
        if not isinstance(frustration, dict):
            raise ValueError("triggers.frustration: expected a mapping of settings")
        try:
            return cls(
                hours=_hours(config, company),
                kb_misses_in_a_row=_positive(triggers, "kb_misses_in_a_row", 2),
                not_helpful_in_a_row=_positive(triggers, "not_helpful_in_a_row", 2),
                fallback_failed=bool(triggers.get("fallback_failed", True)),
                damaged_item_value=float(triggers.get("damaged_item_value", 150.0)),
                frustration=dict(frustration),
                policy_topics=tuple(topics),
                agent_online_minutes=_positive(queue, "agent_online_minutes", 2),
                default_wait_minutes=_positive(queue, "default_wait_minutes", 3),
                recent_handoffs=_positive(queue, "recent_handoffs", 50),
                offline_reply_hours=_positive(queue, "offline_reply_hours", 24),
                company_names=company.names if company else (),
            )
        except (TypeError, ValueError) as error:
            raise ValueError(str(error)) from None

    def policy_topic(self, text: str) -> Optional[str]:
        """The first policy topic the message is about, if any."""
        return next((topic.name for topic in self.policy_topics if topic.matches(text)), None)


def _hours(config: Mapping, company: Optional[CompanyProfile]) -> BusinessHours:
    if "hours" in config:  # the pre-company.yml place, and the tests' and benchmarks' always-open copies
        return BusinessHours.from_mapping(config.get("hours") or {})
    if company is not None and company.hours is not None:
        return company.hours
    return BusinessHours.from_mapping({})  # no hours anywhere: never open, every request becomes an offline ticket


def _positive(section: Mapping, key: str, default: int) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{key} must be a whole number of at least 1, got {value!r}")
    return value


def load_rules(path: Optional[Path] = None, company: Optional[CompanyProfile] = None) -> HandoffRules:
    """Read and validate the handoff settings, with the company profile's hours and names (COMPANY_PROFILE when
    `company` is not given); a mistake names the file and the setting."""
    path = path or rules_path()
    company = company or load_company()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path}: cannot read the handoff settings: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: expected a mapping with triggers, hours and queue")
    try:
        return HandoffRules.from_mapping(raw, company)
    except ValueError as error:
        raise ConfigurationError(f"{path}: {error}") from None
