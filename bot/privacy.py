"""Personal details in customers' words, found and hidden before people who do not need them see the text.

Two audiences: the agents' Slack channel (`mask_for_channel`: enough left to recognise the case, e.g.
a card's last four digits) and the support leads' reports (`mask_for_leads`: a lead improving the
help centre needs the question, never whose it was, so every detail becomes a placeholder).
"""
from __future__ import annotations

import logging
import re
from typing import Any

# 13-19 digits, optionally grouped by spaces or dashes: a payment card number (or near enough to hide)
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# "12 Oak Street", "4417 W. Martin Luther King Jr Blvd", "Flat 3, 9 Mill Lane": a number, words, a street word
STREET = re.compile(
    r"\b\d{1,6}[A-Za-z]?(?:[ ,]+[A-Za-z][A-Za-z.'-]*){1,5}[ ]+(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|"
    r"boulevard|blvd|way|court|ct|place|pl|terrace|close|crescent|square|sq|parkway|pkwy|highway|hwy)\b\.?"
    r"(?:[ ,]+(?:apt|apartment|unit|suite|flat|#)\s*[\w-]+)?", re.IGNORECASE)
EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
# +1 (555) 010-2030, 555-010-2030, +44 20 7946 0958, 07700 900123: 9-15 digits with phone punctuation, not a date
PHONE = re.compile(r"(?<![\w-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,6}){1,4}(?![\w-])")
# the store's order numbers: six digits, maybe after '#'
ORDER = re.compile(r"(?<![\w-])#?\d{6}(?![\w-])")
POSTCODE = re.compile(r"\b(?:\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b")


def mask_for_channel(text: str) -> str:
    """What an agent's Slack channel may show of a customer's words: card numbers keep their last
    four digits, street addresses and email local parts are hidden. The desk shows them in full."""
    def card(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return f"[card ending {digits[-4:]}]"

    text = CARD.sub(card, text)
    text = STREET.sub("[address]", text)
    return EMAIL.sub(lambda m: f"{m.group(1)}…@{m.group(2)}", text)


def _phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[phone]" if 9 <= len(digits) <= 15 else match.group(0)


def mask_for_leads(text: str) -> str:
    """A customer's question with every personal detail replaced by what kind of detail it was."""
    text = EMAIL.sub("[email]", text)
    text = CARD.sub("[card number]", text)
    text = STREET.sub("[address]", text)
    text = PHONE.sub(_phone, text)  # before order numbers: a phone number's groups can look like one
    text = ORDER.sub("[order number]", text)
    return POSTCODE.sub("[postcode]", text)


# In log lines a phone number is told from the numbers a log is full of (times, IP addresses, versions) by
# its separators: spaces, dashes and brackets only, and never next to a colon, a dot-digit or a letter.
LOG_PHONE = re.compile(r"(?<![\w:./-])(?:\+\d{1,3}[ -]?)?(?:\(\d{2,4}\)[ -]?)?\d{2,5}(?:[ -]\d{2,6}){1,4}(?![\w:/-])(?!\.\d)")


def mask_for_logs(text: str) -> str:
    """What the product's log files may keep of a customer's words: emails keep their first letter and domain
    (enough to tell whose sign-in failed), card numbers their last four digits, phone numbers and street
    addresses nothing. Order numbers stay: an operator finding the cause of a failure needs them."""
    text = mask_for_channel(text)
    return LOG_PHONE.sub(lambda m: "[phone]" if 9 <= len(re.sub(r"\D", "", m.group(0))) <= 15 else m.group(0), text)


def install_log_masking() -> None:
    """Mask personal details in every log record this process creates, whichever library logs it and whichever
    handler writes it (Rasa logs each customer message at debug level; uvicorn logs query strings).

    A log record factory rather than a handler filter: Rasa, uvicorn and sanic add their own handlers after
    start-up, and a filter on one handler would miss the others. The message is formatted once here, masked,
    and the record then carries the masked text; a traceback is formatted and masked here too."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_personal_data", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record for logging's own error report
            return record
        masked = mask_for_logs(message)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_for_logs(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_for_logs(record.stack_info)
        return record

    masking_factory.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)
