"""Errors of the knowledge base; all are `SupportError`s so adapters translate them in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

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


class EditConflict(KnowledgeBaseError):
    """The article changed since the lead opened it (another lead, an editor, a `git pull`): nothing was written.

    `current_hash` is the file's version now (None when it is gone), so the lead can look at it and decide.
    """

    def __init__(self, message: str, current_hash: Optional[str]) -> None:
        super().__init__(message)
        self.current_hash = current_hash


class ArticleRefused(KnowledgeBaseError):
    """The article cannot be saved or published as it is; `problems` are the lint findings that say why."""

    def __init__(self, message: str, problems: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)
