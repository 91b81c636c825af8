"""Errors of the knowledge base; all are `SupportError`s so adapters translate them in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from bot.errors import ConfigurationError, SupportError


class KnowledgeBaseError(SupportError):
    """Base class of the knowledge base's errors."""


class ArticleError(KnowledgeBaseError):
    """An article file cannot be used; the message names the file (and line, when known)."""

    def __init__(self, path: Union[str, Path], message: str, line: Optional[int] = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class IndexNotFound(KnowledgeBaseError, ConfigurationError):
    """No index has been built in the folder yet (a configuration problem: run the build)."""


class IndexMismatch(KnowledgeBaseError, ConfigurationError):
    """The index was built with another embedding model, dimension or format than the reader's."""


class IndexCorrupt(KnowledgeBaseError):
    """The index folder exists but its files are unreadable or inconsistent."""
