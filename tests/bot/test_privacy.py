"""Personal details hidden from the agents' Slack channel and from the leads' reports."""
import pytest

from bot.privacy import mask_for_channel, mask_for_leads


def test_the_channel_keeps_enough_to_recognise_the_case():
    assert mask_for_channel("card 4111 1111 1111 1234 was charged twice") == "card [card ending 1234] was charged twice"
    assert mask_for_channel("4111-1111-1111-1234") == "[card ending 1234]"
    assert mask_for_channel("send it to 12 Oak Street, Apt 4 please") == "send it to [address] please"
    assert mask_for_channel("now 4417 W Martin Luther King Blvd") == "now [address]"
    assert mask_for_channel("mail jane.doe@example.com") == "mail j…@example.com"
    assert mask_for_channel("order 104512 for $129.99 on 2026-11-02") == "order 104512 for $129.99 on 2026-11-02"


@pytest.mark.parametrize("text, masked", [
    ("where is order 104512", "where is order [order number]"),
    ("order #104512 never came", "order [order number] never came"),
    ("I'm jane.doe@example.com", "I'm [email]"),
    ("card 4111 1111 1111 1234 charged twice", "card [card number] charged twice"),
    ("call me on +1 (555) 010-2030", "call me on [phone]"),
    ("my number is 07700 900123", "my number is [phone]"),
    ("ring 555-010-2030 after 5", "ring [phone] after 5"),
    ("send it to 12 Oak Street, Apt 4 instead", "send it to [address] instead"),
    ("zip 94107 or SW1A 1AA", "zip [postcode] or [postcode]"),
])
def test_leads_see_the_question_never_whose_it_was(text, masked):
    assert mask_for_leads(text) == masked


@pytest.mark.parametrize("text", ["my Pulse 700 won't pair", "is the 2026-11-02 sale on", "it costs $129.99", "error E31",
                                  "returns within 30 days", "firmware 3.0.1 broke it", "I bought 2 of them at 10:30"])
def test_ordinary_questions_are_left_alone(text):
    assert mask_for_leads(text) == text
