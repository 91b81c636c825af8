"""The insights dashboard's query time (issue 18): `python -m bot.bench.dashboard --conversations 100000`.

Seeds a synthetic history (bot/insights/synthetic.py) into two SQLite files in a temporary folder, the app
database and the tracker store, as a default install has them, then times `InsightsDashboard.dashboard` (every
figure of the page) for the last 30 days per day, the whole 90 days per week, and one channel: the median of
`--runs` runs each, after one warm-up run (the page is read again and again; the first read fills the OS cache).
Target: the page in <= 1 s at 100,000 conversations. Prints the numbers; nothing is asserted.

The databases have the indexes the product gives them: the app database's by its migrations' tables (the period
columns of handoffs, tickets, ratings, NPS, comments and help-centre events), the tracker store's by
`ensure_tracker_indexes` (customer messages and slot events by type and time), as SupportSQLTrackerStore adds them.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import List, Optional, Sequence

from bot.insights.dashboard import DAY, WEEK, InsightsDashboard, Period
from bot.insights.sql import SLACK
from bot.insights.synthetic import seed


def timed(dashboard: InsightsDashboard, period: Period, runs: int) -> List[float]:
    dashboard.dashboard(period)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        dashboard.dashboard(period)
        times.append(time.perf_counter() - start)
    return times


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    try:
        app_url, tracker_url = f"sqlite:///{folder / 'app.db'}", f"sqlite:///{folder / 'conversations.db'}"
        start = time.perf_counter()
        summary = seed(app_url, tracker_url, conversations=args.conversations, days=90)
        print(f"seeded {summary.conversations:,} conversations ({summary.events:,} tracker events, "
              f"{summary.handoffs:,} handoffs, {summary.tickets:,} tickets, {summary.ratings:,} ratings, "
              f"{summary.nps:,} NPS answers, {summary.comments:,} comments, "
              f"{summary.knowledge_events:,} help-centre events) in {time.perf_counter() - start:.1f} s")
        dashboard = InsightsDashboard.from_urls(app_url, tracker_url)
        midnight = summary.until.replace(hour=0, minute=0)
        cases = (
            ("last 30 days, per day, all channels", Period(midnight - timedelta(days=30), summary.until, None, DAY)),
            ("90 days, per week, all channels", Period(midnight - timedelta(days=90), summary.until, None, WEEK)),
            ("90 days, per week, Slack", Period(midnight - timedelta(days=90), summary.until, SLACK, WEEK)),
        )
        for name, period in cases:
            times = timed(dashboard, period, args.runs)
            print(f"{name}: median {statistics.median(times) * 1000:.0f} ms "
                  f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {args.runs} runs)")
        if args.keep:
            print(f"databases kept in {folder}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
