"""A help-centre passage as the customer is shown it: the same text for every channel, and the card the widget and Slack draw.

One function for the assistant's answers (actions/knowledge.py) and the leads' preview, so what a lead
previews is what a customer will read.
"""
from __future__ import annotations

import re
from typing import Any, Dict

RELATIVE_LINK = re.compile(r"\]\(([a-z0-9-]+)\.md\)")


def help_centre_base(url: str) -> str:
    """The help centre's address, from one article's (links between articles are relative to it)."""
    return url.rsplit("/", 1)[0] + "/" if "/" in url else ""


def customer_passage(passage: str, article_url: str) -> str:
    """The passage with its links to other articles pointing at the help centre."""
    base = help_centre_base(article_url)
    return RELATIVE_LINK.sub(lambda m: f"]({base}{m.group(1)})", passage.strip())


def answer_text(passage: str, title: str, url: str) -> str:
    """The answer as plain text, for channels without cards."""
    return f"{customer_passage(passage, url)}\n\nFrom \"{title}\": {url}\n\nDid this help?"


def answer_card(article_id: str, title: str, url: str, passage: str) -> Dict[str, Any]:
    """The custom payload of an answer (`{"kb": ...}`), which the widget renders as a card."""
    return {"kb": {"article_id": article_id, "title": title, "url": url, "passage": customer_passage(passage, url)}}
