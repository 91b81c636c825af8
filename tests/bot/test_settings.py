import stat

import pytest

from bot.errors import ConfigurationError
from bot.settings import DEFAULT_LOCK_LIFETIME, Settings


def test_defaults_live_in_one_data_folder(tmp_path):
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path)})
    assert settings.tracker_store_url == f"sqlite:///{tmp_path / 'conversations.db'}"
    assert settings.store_db_url == f"sqlite:///{tmp_path / 'store.db'}"
    assert (settings.rasa_port, settings.action_port, settings.lock_store_type) == (5005, 5055, "in_memory")


def test_secrets_are_generated_once_and_private(tmp_path):
    first = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path)})
    assert first.rasa_token == second.rasa_token and len(first.rasa_token) >= 32
    assert first.identity_secret != first.rasa_token
    mode = (tmp_path / "secrets" / "rasa_token").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_environment_wins(tmp_path):
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "RASA_TOKEN": "tok", "RASA_PORT": "6005",
                                  "TRACKER_STORE_URL": "postgresql://u@h/db", "LOCK_STORE": "redis"})
    assert (settings.rasa_token, settings.rasa_port, settings.lock_store_type) == ("tok", 6005, "redis")
    assert settings.rasa_environment()["TRACKER_STORE_URL"] == "postgresql://u@h/db"


def test_the_lock_lifetime_reaches_rasas_lock_store(tmp_path):
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "LOCK_LIFETIME": "25"})
    assert settings.lock_lifetime == 25 and settings.rasa_environment()["TICKET_LOCK_LIFETIME"] == "25"
    assert Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path)}).lock_lifetime == DEFAULT_LOCK_LIFETIME


@pytest.mark.parametrize("name, value", [("RASA_PORT", "abc"), ("ACTION_PORT", "70000"), ("LOCK_STORE", "memcached"),
                                         ("LOCK_LIFETIME", "2"), ("LOCK_LIFETIME", "soon")])
def test_bad_values_name_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), name: value})


def test_child_processes_get_the_same_settings(tmp_path):
    parent = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "RASA_PORT": "16005", "ACTION_PORT": "16055",
                                "WEB_PORT": "16080", "RASA_TOKEN": "t", "IDENTITY_SECRET": "s"})
    child = Settings.from_env(parent.rasa_environment())
    assert child == parent
