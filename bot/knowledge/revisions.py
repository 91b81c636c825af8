"""Every version of every article a lead saved, in the app database: who, when, what, the whole text.

The files are the source of truth for what is served; this is the history behind them, so that
nothing a lead wrote is lost (a deleted article, an edit overwritten by a revert) and any
version can be brought back. A change made to a file outside the workspace (an editor, a
`git pull`) is recorded as a revision by "files" the next time the workspace sees the file, so
the history stays continuous and every diff is between two texts that really existed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Protocol, Sequence

import sqlalchemy as sa

from bot.store.directory import create_engine

# what a revision did
CREATED, SAVED, PUBLISHED, UNPUBLISHED, DELETED, REVERTED, ON_DISK = (
    "created", "saved", "published", "unpublished", "deleted", "reverted", "changed on disk")
FILES = "files"  # the editor of a change found on disk


@dataclass(frozen=True)
class Revision:
    id: int
    article_id: str
    at: datetime
    editor: str  # the lead's name, or "files"
    agent_id: Optional[int]
    action: str
    status: Optional[str]  # the article's status in this version; None once deleted
    text: Optional[str]  # the whole file; None for a deletion
    text_hash: Optional[str]
    detail: str = ""


class RevisionStore(Protocol):
    def add(self, article_id: str, at: datetime, editor: str, agent_id: Optional[int], action: str,
            status: Optional[str], text: Optional[str], text_hash: Optional[str], detail: str = "") -> Revision: ...

    def history(self, article_id: str) -> List[Revision]: ...

    def get(self, revision_id: int) -> Optional[Revision]: ...

    def latest(self, article_ids: Optional[Sequence[str]] = None) -> Dict[str, Revision]: ...


metadata = sa.MetaData()

article_revisions = sa.Table(
    "article_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(128), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("editor", sa.String(200), nullable=False),
    sa.Column("agent_id", sa.Integer),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16)),
    sa.Column("text", sa.Text),
    sa.Column("text_hash", sa.String(64)),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)


class SqlRevisionStore:
    """Revisions in SQLite or PostgreSQL (the app database)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> "SqlRevisionStore":
        store = cls(create_engine(url))
        metadata.create_all(store._engine)
        return store

    def add(self, article_id: str, at: datetime, editor: str, agent_id: Optional[int], action: str,
            status: Optional[str], text: Optional[str], text_hash: Optional[str], detail: str = "") -> Revision:
        values = dict(article_id=article_id, at=at, editor=editor, agent_id=agent_id, action=action, status=status,
                      text=text, text_hash=text_hash, detail=detail)
        with self._engine.begin() as conn:
            new_id = conn.execute(sa.insert(article_revisions).values(**values)).inserted_primary_key[0]
        return Revision(id=int(new_id), **values)

    def history(self, article_id: str) -> List[Revision]:
        """Newest first."""
        query = (sa.select(article_revisions).where(article_revisions.c.article_id == article_id)
                 .order_by(article_revisions.c.id.desc()))
        with self._engine.connect() as conn:
            return [_revision(row) for row in conn.execute(query)]

    def get(self, revision_id: int) -> Optional[Revision]:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(article_revisions).where(article_revisions.c.id == revision_id)).first()
        return _revision(row) if row else None

    def latest(self, article_ids: Optional[Sequence[str]] = None) -> Dict[str, Revision]:
        """The newest revision of each article (of `article_ids`, or of all)."""
        r = article_revisions.c
        newest = sa.select(sa.func.max(r.id)).group_by(r.article_id)
        if article_ids is not None:
            newest = newest.where(r.article_id.in_(list(article_ids)))
        query = sa.select(article_revisions).where(r.id.in_(newest.scalar_subquery()))
        with self._engine.connect() as conn:
            return {row.article_id: _revision(row) for row in conn.execute(query)}


def _revision(row: sa.engine.Row) -> Revision:
    return Revision(id=int(row.id), article_id=row.article_id, at=row.at, editor=row.editor, agent_id=row.agent_id,
                    action=row.action, status=row.status, text=row.text, text_hash=row.text_hash, detail=row.detail or "")
