"""Rasa's own checks of the project: data validation and the conversation tests."""
import re
import subprocess

import pytest
import yaml

from bot.runner import BIN, base_environment
from bot.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

# Responses Rasa's validator cannot see being used: forms ask with utter_ask_<slot>, the
# two-stage fallback utters utter_ask_rephrase and utter_default.
IMPLICIT = {"utter_ask_rephrase", "utter_default"}
# Intents only the desk triggers through Rasa's API (bot.handoff.rasa_gateway): customers never type them.
API_ONLY_INTENTS = {"handoff_resolved", "proactive_message"}  # the hand-back; an order event (bot.proactive.delivery)


def rasa(*args: str, cwd=PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "rasa"), *args], cwd=cwd, env=base_environment(Settings.from_env()),
                          capture_output=True, text=True, timeout=600)


def test_rasa_data_validate_is_clean():
    result = rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
    warned = set(re.findall(r"The utterance '(\w+)' is not used in any story or rule", output))
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    form_slots = {slot for form in domain["forms"].values() for slot in form["required_slots"]}
    actions_code = "".join(p.read_text() for p in (PROJECT_ROOT / "actions").glob("*.py"))
    unexplained = {u for u in warned
                   if u not in IMPLICIT and u.removeprefix("utter_ask_") not in form_slots
                   and f'"{u}"' not in actions_code}
    assert not unexplained, f"responses used nowhere: {unexplained}"
    other_warnings = [line for line in output.splitlines()
                      if "UserWarning" in line and "is not used in any story or rule" not in line
                      and not any(f"The intent '{i}' is listed in the domain file, but is not found in the NLU"
                                  in line for i in API_ONLY_INTENTS)]
    assert not other_warnings, "\n".join(other_warnings)
    assert "Project validation completed with errors" not in output


def test_conversation_tests_pass(trained_model, tmp_path):
    result = rasa("test", "core", "--stories", "tests/test_conversations.yml", "--model", str(trained_model),
                  "--fail-on-prediction-errors", "--out", str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    correct = re.findall(r"Correct:\s+(\d+) / (\d+)", output)
    assert correct and all(a == b for a, b in correct), correct
    stories = yaml.safe_load((PROJECT_ROOT / "tests" / "test_conversations.yml").read_text())["stories"]
    assert correct[0] == (str(len(stories)), str(len(stories)))
