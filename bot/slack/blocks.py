"""Slack messages (Block Kit) for what the assistant says and for the agents' handoff posts.

Pure functions from the product's records to Slack's JSON; nothing here talks to Slack.

Text from customers, agents and articles is escaped for Slack (`&`, `<`, `>`), so a customer
cannot ping `<!channel>`, mention people or forge links in the agents' channel, and the
Markdown the assistant writes (`**bold**`, `[label](url)`) becomes Slack's own mrkdwn.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bot.handoff.models import ABANDONED, AGENT_AUTHOR, ASSIGNED, CUSTOMER, NOTE, REASON_LABELS, RESOLVED, WAITING, Handoff, HandoffMessage
from bot.privacy import mask_for_channel

SECTION_LIMIT = 3000      # Slack's limit on a section's text
BUTTON_TEXT_LIMIT = 75    # on a button's label
BUTTON_VALUE_LIMIT = 2000  # on a button's value
FALLBACK_LIMIT = 3900     # the notification text; Slack truncates far later, readers much sooner
MAX_BUTTONS = 25          # per actions block
TRANSCRIPT_TURNS = 6      # the last turns shown in a handoff post (the whole transcript is in the desk)

_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^)\s]{1,2000})\)")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
STATE_LINES = {
    WAITING: ":hourglass_flowing_sand: Waiting for an agent",
    ASSIGNED: ":speech_balloon: {agent} has this conversation",
    RESOLVED: ":white_check_mark: Resolved by {agent}, handed back to the assistant",
    ABANDONED: ":heavy_minus_sign: Closed without an answer",
}


def escape(text: str) -> str:
    """Slack's three control characters, as its docs require for any text we did not write."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """A customer's Slack message as they typed it (Slack escapes the same three characters)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn(text: str) -> str:
    """The assistant's Markdown as Slack mrkdwn: escaped, links as <url|label>, bold as *bold*."""
    escaped = escape(text)
    escaped = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1).replace('|', '/')}>", escaped)
    return _BOLD.sub(r"*\1*", escaped)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# what the customer sees ------------------------------------------------------------------

def bot_message(message: Mapping[str, Any]) -> Tuple[str, List[Dict[str, Any]]]:
    """One message of the assistant (Rasa's output: text, buttons, custom, agent) as (fallback text, blocks)."""
    text = str(message.get("text") or "")
    custom = message.get("custom") if isinstance(message.get("custom"), dict) else {}
    blocks: List[Dict[str, Any]] = []
    agent = message.get("agent")
    if agent:
        blocks.append(_context(f"*{escape(str(agent))}* · support team"))
    card = custom.get("kb") if isinstance(custom.get("kb"), dict) else None
    if card and card.get("passage"):
        # the knowledge-base card: passage, source article, then the question the buttons answer
        blocks.append(_section(mrkdwn(str(card["passage"]))))
        title, url = escape(str(card.get("title") or "Help centre")), str(card.get("url") or "")
        source = f"<{url}|{title}>" if url.startswith(("https://", "http://")) else title
        blocks.append(_context(f":book: From {source}"))
        blocks.append(_section("Did this help?"))
    elif text:
        blocks.extend(_section(part) for part in _paragraphs(mrkdwn(text)))
    buttons = [b for b in (message.get("buttons") or message.get("quick_replies") or []) if isinstance(b, dict)]
    if buttons:
        blocks.append(reply_buttons(buttons))
    fallback = clip(text or (card or {}).get("passage") or "", FALLBACK_LIMIT)
    if agent and fallback:
        fallback = f"{agent}: {fallback}"
    return fallback, blocks


def reply_buttons(buttons: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Quick replies: each button's value is the payload the assistant expects (e.g. /answer_helped)."""
    elements = []
    for index, button in enumerate(buttons[:MAX_BUTTONS]):
        title = str(button.get("title") or button.get("payload") or "")
        payload = str(button.get("payload") or title)
        elements.append({"type": "button", "action_id": f"reply_{index}",
                         "text": {"type": "plain_text", "text": clip(title, BUTTON_TEXT_LIMIT), "emoji": True},
                         "value": payload[:BUTTON_VALUE_LIMIT]})
    return {"type": "actions", "block_id": "replies", "elements": elements}


def answered(blocks: Sequence[Mapping[str, Any]], title: str, user_id: str) -> List[Dict[str, Any]]:
    """The message after a quick reply was clicked: the buttons give way to what was chosen, by whom."""
    kept = [dict(b) for b in blocks if b.get("type") != "actions"]
    return kept + [_context(f"<@{user_id}> chose *{escape(title)}*")]


def _paragraphs(text: str) -> List[str]:
    """Sections of at most SECTION_LIMIT characters, split at blank lines where possible."""
    parts: List[str] = []
    for paragraph in text.split("\n\n"):
        while len(paragraph) > SECTION_LIMIT:
            parts.append(paragraph[:SECTION_LIMIT])
            paragraph = paragraph[SECTION_LIMIT:]
        if paragraph.strip():
            if parts and len(parts[-1]) + len(paragraph) + 2 <= SECTION_LIMIT:
                parts[-1] += "\n\n" + paragraph
            else:
                parts.append(paragraph)
    return parts[:40]  # Slack allows 50 blocks per message


def _section(text: str) -> Dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def _context(text: str) -> Dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}]}


# what agents see -------------------------------------------------------------------------

def handoff_post(handoff: Handoff, desk_url: str, company: str = "") -> Tuple[str, List[Dict[str, Any]]]:
    """The agents' channel post for a handoff: who, what they want, why, mood, what was tried; then
    the state and the buttons that fit it (Claim while waiting, Resolve while assigned). `company`: the profile's
    short name (company.yml), so a channel shared by several assistants says whose customer it is."""
    packet = handoff.packet or {}
    customer = packet.get("customer") or {}
    who = escape(handoff.customer_name or customer.get("name") or "Anonymous customer")
    verified = "verified customer" if handoff.customer_verified else "not verified"
    email = f" · {escape(mask_for_channel(handoff.customer_email))}" if handoff.customer_email else ""
    reason = REASON_LABELS.get(handoff.reason, handoff.reason)
    frustration = float(handoff.frustration or 0.0)
    mood = "high" if frustration >= 0.6 else "some" if frustration >= 0.3 else "low"
    lines = [
        f"*{who}* ({verified}{email}) on *{escape(handoff.channel)}*",
        f"*Wants:* {escape(mask_for_channel(str(packet.get('wants') or handoff.summary)))}",
        f"*Why handed off:* {escape(reason)} ({escape(mask_for_channel(handoff.reason_detail))})",
        f"*Frustration:* {mood} ({frustration:.2f})",
    ]
    tried = packet.get("tried") or []
    lines.append("*Tried:* " + (escape(mask_for_channel("; ".join(map(str, tried)))) if tried else "nothing yet"))
    turns = [t for t in packet.get("transcript") or [] if isinstance(t, dict) and t.get("text")][-TRANSCRIPT_TURNS:]
    recent = "\n".join(f"> *{_speaker(t)}:* {escape(mask_for_channel(clip(' '.join(str(t['text']).split()), 300)))}"
                       for t in turns)
    link = desk_link(desk_url, handoff.id)
    state = STATE_LINES.get(handoff.state, handoff.state).format(agent=escape(handoff.agent_name or "an agent"))
    blocks: List[Dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(f"Handoff #{handoff.id}: {reason}", 150)}},
        _section("\n".join(lines)),
    ]
    if recent:
        blocks.append(_section("*Latest messages*\n" + recent))
    blocks.append(_context((f"{escape(company)} support · " if company else "") + state
                           + (" · reply in this thread to answer the customer" if handoff.state == ASSIGNED else "")))
    buttons: List[Dict[str, Any]] = []
    if handoff.state == WAITING:
        buttons.append({"type": "button", "action_id": "handoff_claim", "style": "primary",
                        "text": {"type": "plain_text", "text": "Claim"}, "value": str(handoff.id)})
    if handoff.state == ASSIGNED:
        buttons.append({"type": "button", "action_id": "handoff_resolve",
                        "text": {"type": "plain_text", "text": "Resolve"}, "value": str(handoff.id),
                        "confirm": {"title": {"type": "plain_text", "text": "Resolve this conversation?"},
                                    "text": {"type": "plain_text", "text": "The assistant takes the conversation back and "
                                                                          "asks the customer for a rating."},
                                    "confirm": {"type": "plain_text", "text": "Resolve"},
                                    "deny": {"type": "plain_text", "text": "Not yet"}}})
    buttons.append({"type": "button", "action_id": "handoff_open", "url": link,
                    "text": {"type": "plain_text", "text": "Open in desk"}, "value": str(handoff.id)})
    blocks.append({"type": "actions", "block_id": f"handoff_{handoff.id}", "elements": buttons})
    fallback = (f"{escape(company)} handoff" if company else "Handoff") + f" #{handoff.id} ({reason}): {who} — {state}"
    return fallback, blocks


def _speaker(turn: Mapping[str, Any]) -> str:
    who = turn.get("who")
    if who == "agent":
        return escape(str(turn.get("agent") or "Agent"))
    return "Customer" if who == "customer" else "Assistant"


def desk_link(desk_url: str, handoff_id: int) -> str:
    """Where the desk shows a handoff."""
    return f"{desk_url.rstrip('/')}/desk/#/handoff/{handoff_id}"


def thread_line(message: HandoffMessage, customer_name: Optional[str] = None) -> str:
    """A line of the handoff's transcript as posted in its thread."""
    text = escape(mask_for_channel(message.text))
    if message.author == CUSTOMER:
        return f"*{escape(customer_name or 'Customer')}:* {text}"
    if message.author == AGENT_AUTHOR:
        return f"*{escape(message.agent_name or 'Agent')}* (from the desk): {text}"
    if message.author == NOTE:
        return f":memo: Note from {escape(message.agent_name or 'an agent')}: {text}"
    return f"_{text}_"

