"""The help-centre answer as customers see it (the assistant's answers and the leads' preview)."""
from bot.knowledge.answers import answer_card, answer_text, help_centre_base


def test_relative_links_point_at_the_help_centre():
    text = answer_text("See [pairing](pair-headphones.md).", "Pairing", "https://help.example/articles/reset")
    assert "[pairing](https://help.example/articles/pair-headphones)" in text
    assert text.endswith('From "Pairing": https://help.example/articles/reset\n\nDid this help?')


def test_the_card_carries_the_same_passage():
    card = answer_card("reset", "Reset", "https://help.example/articles/reset", "  See [x](other.md).  ")
    assert card == {"kb": {"article_id": "reset", "title": "Reset", "url": "https://help.example/articles/reset",
                           "passage": "See [x](https://help.example/articles/other)."}}


def test_help_centre_base_of_an_address_without_a_path():
    assert help_centre_base("no-slash") == ""
    assert help_centre_base("https://help.example/a") == "https://help.example/"
