"""The company profile (`company.yml`): who the assistant works for, in one file.

The widget, the desk and the leads' pages, the Slack posts and the assistant's own words take the company's
name, brand colour, logo, support email, business hours, tone and links from here, so a team adopts the
product by editing this file, not the code. `COMPANY_PROFILE` points at another file (`bot init` writes one
per company).

Business hours live here because they are the company's (the desk, the offline form and "reach us" texts
all say them). A `hours:` section left in an older `handoff.yml` still counts and wins over this one
(bot/handoff/rules.py), so existing deployments keep their hours.

Pure: a frozen record and its validation; nothing is read at import time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import yaml

from bot.errors import ConfigurationError
from bot.handoff.hours import DAYS, BusinessHours
from bot.settings import company_path

__all__ = ["CompanyProfile", "Links", "TONES", "FRONT_PAGES", "load_company", "current_company", "describe_week"]

TONES = ("formal", "casual")
# what the web app's front page is: the demo store (the shipped demo only) or a plain page with the widget
FRONT_PAGES = ("preview", "demo_store")
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp"}
KEYS = {"name", "short_name", "aliases", "assistant_name", "brand_colour", "logo", "support_email", "tone", "links",
        "hours", "front_page"}
LINK_KEYS = {"privacy", "returns_policy"}
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
# a name is shown in HTML (escaped), Slack mrkdwn (escaped) and Rasa responses (where braces are placeholders)
_NAME_FORBIDDEN = re.compile(r"[{}<>\x00-\x1f\x7f]")
NAME_LIMIT = 80


@dataclass(frozen=True)
class Links:
    privacy: str = ""
    returns_policy: str = ""


@dataclass(frozen=True)
class CompanyProfile:
    """The company as customers and agents see it."""

    name: str  # the full name: page titles, the desk, the widget's header
    short_name: str  # how the assistant says it in conversation ("welcome to Acme")
    assistant_name: str  # what the assistant calls itself
    brand_colour: str  # #rrggbb
    support_email: str
    tone: str  # one of TONES
    links: Links = field(default_factory=Links)
    hours: Optional[BusinessHours] = None  # None: the profile has no hours (an older handoff.yml holds them)
    logo: Optional[Path] = None  # an image file, served by the web app at /brand/logo
    aliases: Tuple[str, ...] = ()  # other names customers use for the company
    front_page: str = "preview"

    @property
    def names(self) -> Tuple[str, ...]:
        """Every name customers may call the company by, longest first (so "Acme Tools" wins over "Acme")."""
        unique = {n.strip().lower(): n.strip() for n in (self.name, self.short_name, *self.aliases) if n.strip()}
        return tuple(sorted(unique.values(), key=len, reverse=True))

    @property
    def logo_type(self) -> str:
        return LOGO_TYPES.get(self.logo.suffix.lower(), "application/octet-stream") if self.logo else ""

    @property
    def ink_colour(self) -> str:
        """Black or white, whichever reads better on the brand colour (WCAG contrast, as the widget does)."""
        def channel(hex_pair: str) -> float:
            c = int(hex_pair, 16) / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        colour = self.brand_colour
        lum = 0.2126 * channel(colour[1:3]) + 0.7152 * channel(colour[3:5]) + 0.0722 * channel(colour[5:7])
        return "#ffffff" if 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.05 else "#111111"

    def team_contact(self) -> str:
        """Where a person can be reached, in the customer's words: the email and, when known, the hours."""
        week = describe_week(self.hours) if self.hours else ""
        return f"{self.support_email}, or chat {week}." if week else f"{self.support_email}."

    def mention_pattern(self) -> "re.Pattern[str]":
        """The company's names as whole words, possessive included ("Acme's")."""
        return _mention_pattern(self.names)

    def as_second_person(self, text: str) -> str:
        """`text` with the company's names replaced by "your" ("one of Acme's agents" → "one of your agents")."""
        return self.mention_pattern().sub("your", text)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], base: Path) -> "CompanyProfile":
        """Validate a parsed company.yml; `base` is the folder relative paths (the logo) are read from."""
        unknown = set(raw) - KEYS
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(KEYS))})")
        name = _name(raw, "name", required=True)
        short_name = _name(raw, "short_name") or name
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list):
            raise ValueError("aliases: expected a list of names")
        alias_names = tuple(_name({"alias": a}, "alias", required=True) for a in aliases)
        colour = str(raw.get("brand_colour") or "").strip()
        if not _COLOUR.match(colour):
            raise ValueError(f"brand_colour: expected a colour like #1d4ed8, got {raw.get('brand_colour')!r}")
        if len(colour) == 4:
            colour = "#" + "".join(c * 2 for c in colour[1:])
        email = str(raw.get("support_email") or "").strip()
        if not _EMAIL.match(email):
            raise ValueError(f"support_email: expected an email address, got {raw.get('support_email')!r}")
        tone = str(raw.get("tone") or "casual").strip().lower()
        if tone not in TONES:
            raise ValueError(f"tone: expected one of {', '.join(TONES)}, got {raw.get('tone')!r}")
        front_page = str(raw.get("front_page") or "preview").strip().lower()
        if front_page not in FRONT_PAGES:
            raise ValueError(f"front_page: expected one of {', '.join(FRONT_PAGES)}, got {raw.get('front_page')!r}")
        hours_raw = raw.get("hours")
        if hours_raw is not None and not isinstance(hours_raw, dict):
            raise ValueError("hours: expected a mapping with timezone, weekly and holidays")
        return cls(
            name=name, short_name=short_name, assistant_name=_name(raw, "assistant_name", required=True),
            brand_colour=colour.lower(), support_email=email, tone=tone, links=_links(raw.get("links")),
            hours=BusinessHours.from_mapping(hours_raw) if hours_raw is not None else None,
            logo=_logo(raw.get("logo"), base), aliases=alias_names, front_page=front_page,
        )


def _name(raw: Mapping[str, Any], key: str, required: bool = False) -> str:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{key}: missing (a name such as 'Acme Outdoor')")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected text, got {value!r}")
    text = " ".join(value.split())
    if len(text) > NAME_LIMIT or _NAME_FORBIDDEN.search(text):
        raise ValueError(f"{key}: at most {NAME_LIMIT} characters, without braces, angle brackets or control "
                         f"characters, got {value!r}")
    return text


def _links(raw: Any) -> Links:
    if raw is None:
        return Links()
    if not isinstance(raw, dict):
        raise ValueError("links: expected a mapping (privacy, returns_policy)")
    unknown = set(raw) - LINK_KEYS
    if unknown:
        raise ValueError(f"links: unknown link(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(LINK_KEYS))})")
    checked = {}
    for key in LINK_KEYS:
        url = str(raw.get(key) or "").strip()
        parts = urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"[\s<>\"']", url)):
            raise ValueError(f"links.{key}: expected an http(s) address, got {url!r}")
        checked[key] = url
    return Links(**checked)


def _logo(raw: Any, base: Path) -> Optional[Path]:
    if raw is None or not str(raw).strip():
        return None
    path = Path(str(raw).strip())
    path = path if path.is_absolute() else (base / path)
    if path.suffix.lower() not in LOGO_TYPES:
        raise ValueError(f"logo: expected an image file ({', '.join(sorted(LOGO_TYPES))}), got {raw!r}")
    if not path.is_file():
        raise ValueError(f"logo: {path} does not exist (a path relative to the profile, or an absolute one)")
    return path.resolve()


@lru_cache(maxsize=16)
def _mention_pattern(names: Tuple[str, ...]) -> "re.Pattern[str]":
    if not names:
        return re.compile(r"(?!x)x")  # matches nothing
    alternatives = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names)
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?:'s|\u2019s|s')?(?![\w'])", re.IGNORECASE)


def describe_week(hours: BusinessHours) -> str:
    """The weekly hours in words: "Monday–Friday 8:00–20:00 and Saturday 9:00–17:00 (New York time)"."""
    runs: list = []  # [first day, last day, span]
    for day, span in zip(DAYS, hours.weekly):
        if span is not None and runs and runs[-1][2] == span and DAYS.index(runs[-1][1]) == DAYS.index(day) - 1:
            runs[-1][1] = day
        elif span is not None:
            runs.append([day, day, span])
    if not runs:
        return ""
    parts = []
    for first, last, (opening, closing) in runs:
        days = first.capitalize() if first == last else f"{first.capitalize()}–{last.capitalize()}"
        end = "24:00" if (closing.hour, closing.minute) == (23, 59) and closing.second == 59 else f"{closing.hour}:{closing.minute:02d}"
        parts.append(f"{days} {opening.hour}:{opening.minute:02d}–{end}")
    said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    zone = hours.zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"{said} ({zone} time)" if zone.upper() != "UTC" else f"{said} (UTC)"


def load_company(path: Optional[Path] = None) -> CompanyProfile:
    """Read and validate the company profile; a mistake names the file and the setting."""
    path = path or company_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path}: cannot read the company profile: {error} (COMPANY_PROFILE)") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: expected a mapping with name, assistant_name, brand_colour, ...")
    try:
        return CompanyProfile.from_mapping(raw, path.parent)
    except ValueError as error:
        raise ConfigurationError(f"{path}: {error}") from None


@lru_cache(maxsize=4)
def _cached(path: Path, mtime_ns: int) -> CompanyProfile:
    return load_company(path)


def current_company() -> CompanyProfile:
    """The profile COMPANY_PROFILE names, read on first use and again when the file changes.

    For the code that runs inside Rasa's processes (the NLU's frustration cues, the handoff grammar), which
    no composition root reaches; everything else receives its profile from bot/container.py.
    """
    path = company_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0  # load_company says what is wrong
    return _cached(path, mtime)
