"""Personal details in customers' words, found and hidden before people who do not need them see the text.

Two audiences: the agents' Slack channel (`mask_for_channel`: enough left to recognise the case, e.g.
a card's last four digits) and the support leads' reports (`mask_for_leads`: a lead improving the
help centre needs the question, never whose it was, so every detail becomes a placeholder).
"""
from __future__ import annotations

import re

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
