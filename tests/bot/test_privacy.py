"""Personal details hidden from the agents' Slack channel, the leads' reports and the log files."""
import logging

import pytest

from bot.privacy import install_log_masking, mask_for_channel, mask_for_leads, mask_for_logs


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


@pytest.mark.parametrize("text, masked", [
    ("Received user message 'I'm jane.doe@example.com'", "Received user message 'I'm j…@example.com'"),
    ("card 4111 1111 1111 1234 charged twice", "card [card ending 1234] charged twice"),
    ("call me on +1 (555) 010-2030.", "call me on [phone]."),
    ("my number is 07700 900123", "my number is [phone]"),
    ("send it to 12 Oak Street, Apt 4 instead", "send it to [address] instead"),
])
def test_logs_keep_no_personal_details(text, masked):
    assert mask_for_logs(text) == masked


@pytest.mark.parametrize("text", ["at 2026-12-06 11:46:03,123 from 192.168.100.200:5005", "order 104512 took 0.123456789 s",
                                  "epoch 1733486763.123, rasa 3.6.21", "GET /api/kb/gaps?days=30 HTTP/1.1 200"])
def test_logs_keep_what_an_operator_needs(text):
    assert mask_for_logs(text) == text


@pytest.fixture
def masked_logging():
    before = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(before)  # the rest of the suite logs as usual


def test_every_record_is_masked_whoever_logs_it(caplog, masked_logging):
    install_log_masking()
    install_log_masking()  # idempotent
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        logger.info("message from %s: %r", "sender-1", "ring 555-010-2030 or mail jane.doe@example.com")
        try:
            raise ValueError("bad address 12 Oak Street")
        except ValueError:
            logger.exception("failed for jane.doe@example.com")
    text = caplog.text
    assert "555-010-2030" not in text and "jane.doe@example.com" not in text and "12 Oak Street" not in text
    assert "sender-1" in text and "[phone]" in text and "ValueError: bad address [address]" in text
