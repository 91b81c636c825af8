"""The company profile (bot/company.py): the shipped demo file, validation with clear errors, the words it gives."""
from pathlib import Path

import pytest
import yaml

from bot.company import CompanyProfile, current_company, describe_week, load_company
from bot.errors import ConfigurationError
from bot.handoff.hours import BusinessHours
from bot.handoff.rules import load_rules
from bot.settings import PROJECT_ROOT, Settings

VALID = {
    "name": "Acme Outdoor Ltd", "short_name": "Acme", "assistant_name": "Scout", "brand_colour": "#0A7", "support_email":
    "help@acme.example", "tone": "formal", "links": {"privacy": "https://acme.example/privacy"},
    "hours": {"timezone": "Europe/London", "weekly": {"monday": "09:00-17:00", "tuesday": "09:00-17:00"}},
}


def write(folder: Path, profile: dict) -> Path:
    path = folder / "company.yml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def test_the_shipped_profile_is_the_demo_stores_and_valid() -> None:
    company = load_company(PROJECT_ROOT / "company.yml")
    assert company.short_name == "Brightwave" and company.front_page == "demo_store"
    assert company.logo is not None and company.logo.is_file() and company.logo_type == "image/svg+xml"
    assert company.hours is not None and company.hours.zone == "America/New_York"
    assert company.team_contact() == ("support@brightwave.example, or chat Monday–Friday 8:00–20:00 and "
                                      "Saturday 9:00–17:00 (New York time).")


def test_a_profile_is_read_with_its_defaults(tmp_path: Path) -> None:
    company = load_company(write(tmp_path, VALID))
    assert (company.name, company.short_name, company.assistant_name, company.tone) == ("Acme Outdoor Ltd", "Acme", "Scout", "formal")
    assert company.brand_colour == "#00aa77" and company.ink_colour == "#111111"
    assert company.links.privacy == "https://acme.example/privacy" and company.links.returns_policy == ""
    assert company.front_page == "preview" and company.logo is None
    assert company.names == ("Acme Outdoor Ltd", "Acme")
    assert company.team_contact() == "help@acme.example, or chat Monday–Tuesday 9:00–17:00 (London time)."


def test_short_name_defaults_to_the_name_and_hours_are_optional(tmp_path: Path) -> None:
    profile = {k: v for k, v in VALID.items() if k not in ("short_name", "hours")}
    company = load_company(write(tmp_path, profile))
    assert company.short_name == "Acme Outdoor Ltd" and company.hours is None
    assert company.team_contact() == "help@acme.example."


@pytest.mark.parametrize("change, named", [
    ({"name": ""}, "name: missing"),
    ({"assistant_name": None}, "assistant_name: missing"),
    ({"name": "Acme {company_name}"}, "name: at most 80 characters, without braces"),
    ({"short_name": "<b>Acme</b>"}, "short_name:"),
    ({"brand_colour": "blue"}, "brand_colour: expected a colour like #1d4ed8"),
    ({"brand_colour": None}, "brand_colour"),
    ({"support_email": "help at acme"}, "support_email: expected an email address"),
    ({"tone": "pirate"}, "tone: expected one of formal, casual"),
    ({"links": {"privacy": "javascript:alert(1)"}}, "links.privacy: expected an http(s) address"),
    ({"links": {"terms": "https://acme.example/terms"}}, "links: unknown link(s) terms"),
    ({"logo": "missing.svg"}, "logo:"),
    ({"logo": "logo.gif"}, "logo: expected an image file"),
    ({"hours": {"timezone": "Mars/Olympus"}}, "hours.timezone: unknown time zone"),
    ({"hours": {"weekly": {"monday": "9-5"}}}, "hours.weekly.monday"),
    ({"front_page": "shop"}, "front_page: expected one of"),
    ({"colour": "#000000"}, "unknown setting(s) colour"),
    ({"aliases": "Acme"}, "aliases: expected a list"),
])
def test_a_mistake_names_the_file_and_the_setting(tmp_path: Path, change: dict, named: str) -> None:
    path = write(tmp_path, {**VALID, **change})
    with pytest.raises(ConfigurationError) as raised:
        load_company(path)
    assert str(path) in str(raised.value) and named in str(raised.value)


def test_a_missing_or_broken_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the company profile"):
        load_company(tmp_path / "nope.yml")
    (tmp_path / "company.yml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        load_company(tmp_path / "company.yml")


def test_the_logo_is_read_relative_to_the_profile(tmp_path: Path) -> None:
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(b"\x89PNG")
    company = load_company(write(tmp_path, {**VALID, "logo": "brand/logo.png"}))
    assert company.logo == (tmp_path / "brand" / "logo.png").resolve() and company.logo_type == "image/png"


def test_company_mentions_read_as_a_token_whatever_the_case_or_possessive() -> None:
    company = CompanyProfile.from_mapping({**VALID, "aliases": ["Acme Co"]}, Path("."))
    pattern = company.mention_pattern()
    assert pattern.sub("<co>", "I expected better from ACME, and acme's team; not from acmeville") == \
        "I expected better from <co>, and <co> team; not from acmeville"
    assert company.as_second_person("one of Acme Outdoor Ltd's agents") == "one of your agents"


def test_describe_week_groups_days_and_names_the_zone() -> None:
    hours = BusinessHours.from_mapping({"timezone": "UTC", "weekly": {
        "monday": "00:00-24:00", "tuesday": "00:00-24:00", "thursday": "10:00-12:30", "sunday": "closed"}})
    assert describe_week(hours) == "Monday–Tuesday 0:00–24:00 and Thursday 10:00–12:30 (UTC)"
    assert describe_week(BusinessHours.from_mapping({})) == ""


def test_the_settings_name_the_profile_and_pass_it_to_the_processes(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "COMPANY_PROFILE": str(path)})
    assert settings.company_profile == path.resolve()
    assert settings.rasa_environment()["COMPANY_PROFILE"] == str(path.resolve())
    assert Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path)}).company_profile == PROJECT_ROOT / "company.yml"


def test_current_company_follows_the_environment_and_the_files_changes(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, VALID)
    monkeypatch.setenv("COMPANY_PROFILE", str(path))
    assert current_company().short_name == "Acme"
    write(tmp_path, {**VALID, "short_name": "Acme Gear"})
    import os
    os.utime(path, ns=(1, 10**18))  # a later modification time than the first write, whatever the clock's resolution
    assert current_company().short_name == "Acme Gear"


# --- the business hours moved here from handoff.yml -------------------------------------------------


def test_the_handoff_rules_take_the_companys_hours_and_names(tmp_path: Path) -> None:
    company = load_company(write(tmp_path, VALID))
    handoff = tmp_path / "handoff.yml"
    handoff.write_text(yaml.safe_dump({"triggers": {"kb_misses_in_a_row": 3}}), encoding="utf-8")
    rules = load_rules(handoff, company)
    assert rules.hours.zone == "Europe/London" and rules.kb_misses_in_a_row == 3
    assert rules.company_names == ("Acme Outdoor Ltd", "Acme")


def test_hours_left_in_an_older_handoff_yml_still_count_and_win(tmp_path: Path) -> None:
    company = load_company(write(tmp_path, VALID))
    handoff = tmp_path / "handoff.yml"
    handoff.write_text(yaml.safe_dump({"hours": {"timezone": "Asia/Tokyo", "weekly": {"monday": "09:00-18:00"}}}),
                       encoding="utf-8")
    assert load_rules(handoff, company).hours.zone == "Asia/Tokyo"


def test_no_hours_anywhere_means_never_open(tmp_path: Path) -> None:
    company = load_company(write(tmp_path, {k: v for k, v in VALID.items() if k != "hours"}))
    handoff = tmp_path / "handoff.yml"
    handoff.write_text("triggers: {}\n", encoding="utf-8")
    assert all(span is None for span in load_rules(handoff, company).hours.weekly)


def test_the_shipped_handoff_yml_has_no_hours_of_its_own_and_gets_the_companys() -> None:
    assert "hours" not in yaml.safe_load((PROJECT_ROOT / "handoff.yml").read_text(encoding="utf-8"))
    assert load_rules().hours == load_company(PROJECT_ROOT / "company.yml").hours
