"""Business hours in the team's time zone, with holidays: is anyone meant to be there now?"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Dict, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class BusinessHours:
    zone: str
    # per weekday (0 = Monday) the opening span, None when closed all day
    weekly: Tuple[Optional[Tuple[time, time]], ...]
    holidays: frozenset

    @classmethod
    def from_mapping(cls, config: Mapping) -> "BusinessHours":
        """Read `{timezone, weekly: {monday: "08:00-20:00" | closed}, holidays: [YYYY-MM-DD]}`."""
        unknown = set(config) - {"timezone", "weekly", "holidays"}
        if unknown:
            raise ValueError(f"hours: unknown setting(s) {', '.join(sorted(unknown))}")
        zone = str(config.get("timezone") or "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"hours.timezone: unknown time zone {zone!r}") from None
        weekly_config: Dict = dict(config.get("weekly") or {})
        bad_days = set(weekly_config) - set(DAYS)
        if bad_days:
            raise ValueError(f"hours.weekly: unknown day(s) {', '.join(sorted(bad_days))}")
        weekly = tuple(_span(day, weekly_config.get(day)) for day in DAYS)
        holidays = set()
        for raw in config.get("holidays") or []:
            try:
                holidays.add(raw if isinstance(raw, date) else date.fromisoformat(str(raw)))
            except ValueError:
                raise ValueError(f"hours.holidays: {raw!r} is not a date like 2026-12-25") from None
        return cls(zone=zone, weekly=weekly, holidays=frozenset(holidays))

    def _local(self, at: datetime) -> datetime:
        aware = at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # naive times are UTC throughout
        return aware.astimezone(ZoneInfo(self.zone))

    def is_open(self, at: datetime) -> bool:
        local = self._local(at)
        if local.date() in self.holidays:
            return False
        span = self.weekly[local.weekday()]
        return span is not None and span[0] <= local.time() < span[1]

    def next_open(self, at: datetime) -> Optional[datetime]:
        """The next opening time after `at` (UTC, naive), or None when the week has no hours at all."""
        if all(span is None for span in self.weekly):
            return None
        local = self._local(at)
        for days_ahead in range(0, 60):
            day = local.date() + timedelta(days=days_ahead)
            span = self.weekly[day.weekday()]
            if span is None or day in self.holidays:
                continue
            opening = datetime.combine(day, span[0], tzinfo=ZoneInfo(self.zone))
            if opening > local:
                return opening.astimezone(timezone.utc).replace(tzinfo=None)
        return None

    def describe(self, at: datetime) -> str:
        """'Monday at 8:00 (Eastern)'-style wording of the next opening, for the customer."""
        opening = self.next_open(at)
        if opening is None:
            return "soon"
        local = self._local(opening)
        now_local = self._local(at)
        if local.date() == now_local.date():
            day = "today"
        elif local.date() == now_local.date() + timedelta(days=1):
            day = "tomorrow"
        else:
            day = DAYS[local.weekday()].capitalize()
        return f"{day} at {local.hour}:{local.minute:02d} ({local.tzname()})"


def _span(day: str, raw) -> Optional[Tuple[time, time]]:
    if raw is None or str(raw).strip().lower() == "closed":
        return None
    match = SPAN.match(str(raw))
    if not match:
        raise ValueError(f"hours.weekly.{day}: expected 'HH:MM-HH:MM' or 'closed', got {raw!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (0 <= h1 < 24 and 0 <= m1 < 60 and 0 <= m2 < 60 and (0 <= h2 < 24 or (h2 == 24 and m2 == 0))):
        raise ValueError(f"hours.weekly.{day}: {raw!r} is not a time span")
    closing = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
    opening = time(h1, m1)
    if closing <= opening:
        raise ValueError(f"hours.weekly.{day}: closes before it opens ({raw!r})")
    return opening, closing
