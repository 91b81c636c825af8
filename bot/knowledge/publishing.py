"""Rebuilding the live index from the article folder, one build at a time, and asking the assistant what it serves.

Two leads publishing at once (or a lead and `bot kb build`) must not race: each build reads the
folder and switches the pointer, so a build that read the folder before the other's write but
finished after it would switch the live index back to a version without that write. Builds
therefore run under an exclusive lock on a file in the index folder (`fcntl.flock`, so it holds
across processes and is released by the kernel if a process dies), and each reads the folder
only once it holds the lock.
"""
from __future__ import annotations

import fcntl
import json
import logging
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Protocol

from bot.embeddings import Embedder
from bot.knowledge.articles import load_articles
from bot.knowledge.index import PARSE_CACHE_FILE, BuildReport, build_index, read_pointer

logger = logging.getLogger(__name__)

BUILD_LOCK = ".build.lock"
# not an action of any conversation: the workspace runs it on the action server to ask which version it answers from
STATUS_ACTION = "action_kb_status"


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across threads and processes (created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(str(path), threading.Lock())
    with thread_lock:  # flock is per open file: two threads of one process need their own exclusion too
        handle = open(path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


_thread_locks: dict = {}
_thread_locks_guard = threading.Lock()


class IndexBuilder:
    """Builds the index of `articles_dir` into `index_dir`; only changed articles are embedded again."""

    def __init__(self, articles_dir: Path, index_dir: Path, embedder: Embedder) -> None:
        self.articles_dir = Path(articles_dir)
        self.index_dir = Path(index_dir)
        self.embedder = embedder

    def rebuild(self) -> BuildReport:
        with exclusive(self.index_dir / BUILD_LOCK):
            articles, problems = load_articles(self.articles_dir, parse_cache=self.index_dir / PARSE_CACHE_FILE)
            report = build_index(articles, self.embedder, self.index_dir, problems=problems, progress=False)
        if report.changed:
            logger.info("knowledge-base index %s built: %d articles, %d embedded, %.2f s", report.version, report.articles,
                        report.embedded, report.seconds)
        return report

    def live_version(self) -> Optional[str]:
        """The version the index folder points at (what a reader loads next)."""
        return read_pointer(self.index_dir)


class AssistantProbe(Protocol):
    """Which index version the running assistant answers from (None when it cannot be asked)."""

    def serving_version(self) -> Optional[str]: ...


class ActionServerProbe:
    """Asks the action server, which answers customers' questions from the index, which version it has loaded.

    Its knowledge base checks the index pointer before every search, so the answer is the version the
    next customer question is answered from.
    """

    def __init__(self, webhook_url: str, timeout: float = 5.0) -> None:
        self.webhook_url = webhook_url
        self.timeout = timeout

    def serving_version(self) -> Optional[str]:
        body = {"next_action": STATUS_ACTION, "sender_id": "kb-status", "version": "3.6",
                "tracker": {"sender_id": "kb-status", "slots": {}, "latest_message": {}, "events": [], "paused": False,
                            "followup_action": None, "active_loop": {}, "latest_action_name": None},
                "domain": {}}
        request = urllib.request.Request(self.webhook_url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as error:
            logger.warning("cannot ask the action server at %s which index it serves: %s", self.webhook_url, error)
            return None
        for message in data.get("responses") or []:
            custom = message.get("custom") if isinstance(message, dict) else None
            if isinstance(custom, dict) and "kb_version" in custom:
                version = custom["kb_version"]
                return str(version) if version else None
        return None
