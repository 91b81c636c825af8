"""How the product's Rasa launcher passes the API token."""
from bot.rasa_server import arguments


def test_the_server_gets_the_token_from_the_environment():
    assert arguments(["run", "--enable-api", "--port", "5005"], "s3cret") == [
        "run", "--enable-api", "--port", "5005", "--auth-token", "s3cret"]


def test_other_commands_and_a_given_token_are_left_alone():
    assert arguments(["run", "actions", "--port", "5055"], "s3cret") == ["run", "actions", "--port", "5055"]
    assert arguments(["train", "--out", "models"], "s3cret") == ["train", "--out", "models"]
    assert arguments(["run", "--auth-token", "other"], "s3cret") == ["run", "--auth-token", "other"]
    assert arguments(["run"], None) == ["run"]
