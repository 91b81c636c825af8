"""Portable SQL pieces the insight queries need and SQLAlchemy Core does not have for both engines."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class seconds_between(FunctionElement):
    """`seconds_between(a, b)`: seconds from timestamp a to timestamp b (negative when b is earlier)."""

    type = sa.Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _sqlite(element: seconds_between, compiler, **kw) -> str:  # noqa: ANN001 - SQLAlchemy's signature
    a, b = list(element.clauses)
    return f"((julianday({compiler.process(b, **kw)}) - julianday({compiler.process(a, **kw)})) * 86400.0)"


@compiles(seconds_between)
def _default(element: seconds_between, compiler, **kw) -> str:  # noqa: ANN001 - PostgreSQL and the SQL standard
    a, b = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(b, **kw)} - {compiler.process(a, **kw)}))"


from bot.slack.places import PREFIX as SLACK_PREFIX  # noqa: E402 - Slack conversations' ids; everything else is the website

WEBSITE, SLACK = "website", "slack"
CHANNELS = (WEBSITE, SLACK)


def channel_of(conversation_id: str) -> str:
    return SLACK if conversation_id.startswith(SLACK_PREFIX) else WEBSITE


def channel_filter(column: sa.Column, channel: str | None):  # noqa: ANN201 - a SQL expression
    """A WHERE clause keeping the conversations of one channel (None: all)."""
    if channel is None:
        return sa.true()
    is_slack = column.like(f"{SLACK_PREFIX}%")
    return is_slack if channel == SLACK else sa.not_(is_slack)
