from pathlib import Path

import pytest

from bot.errors import ConfigurationError
from bot.handoff.rules import load_rules, rules_path


def test_the_shipped_settings_load():
    rules = load_rules()
    assert rules.kb_misses_in_a_row == 2 and rules.not_helpful_in_a_row == 2
    assert rules.hours.zone == "America/New_York"


@pytest.mark.parametrize("text, topic", [
    ("I'm going to dispute the charge with my bank", "disputed charge"),
    ("I will talk to my LAWYER", "legal"),
    ("this is going to small   claims court", "legal"),
    ("how do I charge my speaker", None),
    ("the courtesy of a reply would be nice", None),  # "court" only as a whole word
])
def test_policy_topics_match_whole_phrases(text, topic):
    assert load_rules().policy_topic(text) == topic


@pytest.mark.parametrize("content, message", [
    ("triggers: {kb_misses: 2}", "unknown setting"),
    ("triggers: {kb_misses_in_a_row: 0}", "at least 1"),
    ("queue: {agent_online_minutes: soon}", "at least 1"),
    ("triggers: {policy_topics: {legal: lawyer}}", "expected a list"),
    ("hours: {timezone: Nowhere/Land}", "unknown time zone"),
    ("extra: 1", "unknown section"),
    ("- a list", "expected a mapping"),
    ("triggers: [", "cannot read"),
])
def test_mistakes_name_the_file_and_setting(tmp_path: Path, content, message):
    path = tmp_path / "handoff.yml"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message) as error:
        load_rules(path)
    assert str(path) in str(error.value)


def test_handoff_config_variable_points_elsewhere(tmp_path: Path):
    assert rules_path({"HANDOFF_CONFIG": str(tmp_path / "x.yml")}) == tmp_path / "x.yml"
