"""`bot init DIR`: a new company's support assistant, in a folder of its own.

The folder holds what is the company's: its profile (company.yml, with a logo), its handoff rules (handoff.yml,
a copy of the product's to tune), its help centre (knowledge_base/articles/, one example article), and a .env
naming its order system. The intents, flows, actions and Rasa configuration stay the product's, referenced
rather than copied: they speak for the company through the profile (domain.yml's responses read
{company_name} and friends), so the trained model is the same for every company and an upgrade of the product
is an upgrade of every assistant built on it. The folder's Makefile runs the product's `make run` with
COMPANY_PROFILE, HANDOFF_CONFIG, KB_ARTICLES_DIR and SUPPORT_DATA_DIR pointing into the folder, so `make run`
there works at once.
"""
from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Optional, Sequence

import yaml

from bot.company import TONES, CompanyProfile
from bot.errors import ConfigurationError
from bot.settings import PROJECT_ROOT

ORDER_SYSTEMS = ("demo", "shopify")  # demo: the demo store's SQL tables (its sample customers and orders)
ARTICLE_ID = "contact-us"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "company"


def profile_of(name: str, short_name: str, assistant: str, colour: str, email: str, tone: str) -> dict:
    domain = email.rsplit("@", 1)[-1]
    return {
        "name": name,
        "short_name": short_name,
        "aliases": [],
        "assistant_name": assistant,
        "brand_colour": colour,
        "logo": "logo.svg",
        "support_email": email,
        "tone": tone,
        "links": {"privacy": f"https://{domain}/privacy", "returns_policy": f"https://{domain}/returns"},
        "front_page": "preview",
        "hours": {"timezone": "UTC", "weekly": {"monday": "09:00-17:00", "tuesday": "09:00-17:00",
                                                 "wednesday": "09:00-17:00", "thursday": "09:00-17:00",
                                                 "friday": "09:00-17:00", "saturday": "closed", "sunday": "closed"},
                  "holidays": []},
    }


PROFILE_HEADER = """\
# {name}'s support assistant: who it works for. The widget, the agent desk, the Slack posts and the assistant's
# own words take the name, brand, hours, tone and links from here (validated by bot/company.py at start).
#   name / short_name   the full name (titles) and how the assistant says it in conversation
#   aliases             other names customers write for you (the handoff grammar reads them as your side)
#   assistant_name      how the assistant introduces itself
#   brand_colour, logo  the widget's and the desk's colour (#rrggbb) and logo (svg, png, jpg, webp)
#   tone                formal | casual: how greetings, goodbyes and introductions are worded
#   links               your privacy notice (under the chat) and returns policy
#   front_page          preview: the web app's front page shows the widget as your customers will see it
#   hours               when people are there to take a conversation; outside them, an offline ticket
"""


def logo_svg(initial: str, colour: str, ink: str, name: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" role="img" aria-label="{html.escape(name)}">'
            f'<rect width="32" height="32" rx="7" fill="{colour}"/><text x="16" y="22" font-family="sans-serif" '
            f'font-size="17" font-weight="700" text-anchor="middle" fill="{ink}">{html.escape(initial)}</text></svg>\n')


def example_article(company: CompanyProfile, today: date) -> str:
    domain = company.support_email.rsplit("@", 1)[-1]
    return f"""---
id: {ARTICLE_ID}
title: "Contact {company.short_name} support"
category: general
tags: [contact, support hours, email, help]
status: published
updated: {today.isoformat()}
url: https://{domain}/help/{ARTICLE_ID}
questions:
  - "how do i contact you"
  - "what are your support hours"
  - "what is your email address for support"
---
You can reach our support team by chat or by email at {company.support_email}. {_hours_sentence(company)}

## Ways to reach us
- **Chat:** the assistant on our website answers common questions around the clock and brings in a person from our
  team during support hours.
- **Email:** write to {company.support_email}, with your order number if your question is about an order.

This is an example article: replace it with your own, and add one Markdown file per article in this folder
(`bot kb lint` checks them, `bot kb build` indexes them; `make run` does both).
"""


def _hours_sentence(company: CompanyProfile) -> str:
    contact = company.team_contact()  # "help@acme.example, or chat Monday–Friday 9:00–17:00 (UTC)."
    _, _, hours = contact.partition(", or chat ")
    return f"People are there to chat {hours}" if hours else ""


def makefile(name: str) -> str:
    return f"""\
# {name}'s support assistant. This folder holds what is {name}'s own: company.yml, handoff.yml, the help centre
# (knowledge_base/articles/) and .env; the code, intents, flows and the trained model are the product's,
# installed at PRODUCT, which runs with the paths below pointing here.
PRODUCT ?= {PROJECT_ROOT}

export COMPANY_PROFILE := $(CURDIR)/company.yml
export HANDOFF_CONFIG := $(CURDIR)/handoff.yml
export KB_ARTICLES_DIR := $(CURDIR)/knowledge_base/articles
export SUPPORT_DATA_DIR := $(CURDIR)/var
-include .env
export

.PHONY: run prepare
run:  ## install what is missing, index the help centre, train if needed, start everything
\t$(MAKE) -C $(PRODUCT) run

prepare:  ## the same without starting: app database, help-centre index, model
\t$(PRODUCT)/.venv/bin/python -m bot prepare
"""


def env_file(orders: str) -> str:
    if orders == "shopify":
        backend = ("# The order system: your Shopify shop through its Admin API (a custom app's access token;\n"
                   "# docs/connectors.md). Both must be set before `make run`.\n"
                   "ORDER_BACKEND=shopify\nSHOPIFY_SHOP=\nSHOPIFY_ACCESS_TOKEN=\n")
    else:
        backend = ("# The order system: the demo store's tables, with its sample customers and orders, to try the order\n"
                   "# flows before connecting yours (ORDER_BACKEND=shopify with SHOPIFY_SHOP and SHOPIFY_ACCESS_TOKEN).\n"
                   "ORDER_BACKEND=sql\n")
    return ("# This assistant's settings (the product's .env.example lists every variable). Secrets stay in this file\n"
            "# or the environment, never in company.yml.\n" + backend +
            "# Ports, if the product's defaults (5005, 5055, 8000) are taken:\n# RASA_PORT=5005\n# ACTION_PORT=5055\n# WEB_PORT=8000\n")


def next_steps(folder: Path, company: CompanyProfile, orders: str) -> str:
    steps = [f"Check {folder / 'company.yml'}: the name, colour, logo, support email, hours, tone and links.",
             f"Replace the example article in {folder / 'knowledge_base' / 'articles'} with your help centre "
             "(Markdown with front matter, one file per article).",
             (f"Fill in SHOPIFY_SHOP and SHOPIFY_ACCESS_TOKEN in {folder / '.env'}." if orders == "shopify" else
              f"Try the order flows on the demo store's sample orders, then connect yours in {folder / '.env'} "
              "(ORDER_BACKEND=shopify)."),
             f"cd {folder} && make run, then open the preview page it prints and the desk at /desk/.",
             "Put the widget's script tag (shown on the preview page) on your website."]
    return (f"Created {company.name}'s support assistant in {folder}\n\nNext steps:\n"
            + "".join(f"  {n}. {step}\n" for n, step in enumerate(steps, 1)))


def scaffold(folder: Path, *, name: str, short_name: str = "", assistant: str = "", colour: str = "#1d4ed8",
             email: str = "", tone: str = "casual", orders: str = "demo", today: Optional[date] = None) -> CompanyProfile:
    """Write a new company's folder; refuses a folder that exists and is not empty. Returns the profile written."""
    if folder.exists() and any(folder.iterdir()):
        raise ConfigurationError(f"{folder} exists and is not empty: choose a new folder")
    if orders not in ORDER_SYSTEMS:
        raise ConfigurationError(f"--orders must be one of {', '.join(ORDER_SYSTEMS)}, got {orders!r}")
    short_name = short_name or name
    raw = profile_of(name, short_name, assistant or f"{short_name} Assistant", colour,
                     email or f"support@{slug(short_name)}.example", tone)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    logo = folder / "logo.svg"
    logo.write_text("<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n", encoding="utf-8")  # validated below, then drawn
    try:
        company = CompanyProfile.from_mapping(raw, folder)  # the same checks as at start, before anything else is written
    except ValueError as error:
        logo.unlink()
        if created:
            folder.rmdir()
        raise ConfigurationError(f"the company profile would be invalid: {error}") from None
    logo.write_text(logo_svg(short_name[:1].upper(), company.brand_colour, company.ink_colour, name), encoding="utf-8")
    (folder / "company.yml").write_text(PROFILE_HEADER.format(name=name) + "\n"
                                        + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    shutil.copyfile(PROJECT_ROOT / "handoff.yml", folder / "handoff.yml")
    articles = folder / "knowledge_base" / "articles"
    articles.mkdir(parents=True)
    (articles / f"{ARTICLE_ID}.md").write_text(example_article(company, today or date.today()), encoding="utf-8")
    (folder / ".env").write_text(env_file(orders), encoding="utf-8")
    (folder / "Makefile").write_text(makefile(name), encoding="utf-8")
    (folder / ".gitignore").write_text("var/\n.env\n", encoding="utf-8")
    return company


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="bot init", description="Create a new company's support assistant in DIR.")
    parser.add_argument("folder", metavar="DIR", type=Path, help="a new (or empty) folder")
    parser.add_argument("--name", help="the company's full name (default: from DIR)")
    parser.add_argument("--short-name", default="", help="how the assistant says it in conversation (default: the name)")
    parser.add_argument("--assistant", default="", help="the assistant's name (default: '<short name> Assistant')")
    parser.add_argument("--colour", "--color", default="#1d4ed8", help="the brand colour, #rrggbb")
    parser.add_argument("--email", default="", help="the support email (default: support@<short name>.example)")
    parser.add_argument("--tone", choices=TONES, default="casual")
    parser.add_argument("--orders", choices=ORDER_SYSTEMS, default="demo",
                        help="the order system: demo (the demo store's sample orders) or shopify")
    args = parser.parse_args(list(argv) if argv is not None else None)
    folder: Path = args.folder.resolve()
    name = args.name or " ".join(part.capitalize() for part in re.split(r"[-_\s]+", folder.name) if part)
    try:
        company = scaffold(folder, name=name, short_name=args.short_name, assistant=args.assistant, colour=args.colour,
                           email=args.email, tone=args.tone, orders=args.orders)
    except ConfigurationError as error:
        print(f"bot init: {error}", file=sys.stderr)
        return 2
    print(next_steps(folder, company, args.orders))
    return 0
