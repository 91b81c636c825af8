"""The support leads' knowledge workspace: edit, lint, publish, revise and try the help articles.

Plain Python over the article folder (the source of truth: `bot kb` and git read the same files),
the revision store (the history behind them) and the index builder; no web framework. The rules:

- **Leads write, agents read.** Every change names the lead who made it; an agent is refused.
- **Never overwrite unseen work.** A change carries the version (`etag`, the SHA-256 of the file's
  text) the lead opened; if the file is different now (another lead, an editor, a `git pull`)
  nothing is written and `EditConflict` says so.
- **Lint on every save.** The findings come back with every save. A published article must be free
  of errors (`ArticleRefused` otherwise); a draft may keep cross-article errors (a link to an
  article not written yet) but never a file the loader cannot read.
- **Atomic files.** A file is written to a hidden temporary in the same folder (the loader skips
  names starting with '.') and renamed over the old one, so a reader never sees half a file.
- **Publishing is live within seconds.** A change to what is published rebuilds the index
  incrementally (only the changed article is embedded); the action servers pick the new version up
  on their next question, and `live_status` asks them which version they serve.
"""
from __future__ import annotations

import difflib
import os
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Dict, List, Optional, Protocol, Tuple

from bot.errors import NotAllowed, NotFound
from bot.handoff.models import Agent
from bot.knowledge.answers import answer_card, answer_text
from bot.knowledge.articles import (
    ERROR,
    SLUG_RE,
    Article,
    Problem,
    article_files,
    content_hash,
    load_articles,
    parse_article_text,
    read_text,
)
from bot.knowledge.editing import ArticleFields, body_line, render
from bot.knowledge.errors import ArticleError, ArticleRefused, EditConflict
from bot.knowledge.index import BuildReport
from bot.knowledge.lint import links_to, lint_articles
from bot.knowledge.passages import QUESTIONS_SECTION, split_article
from bot.knowledge.publishing import AssistantProbe, exclusive
from bot.knowledge.revisions import (
    CREATED,
    DELETED,
    FILES,
    ON_DISK,
    PUBLISHED,
    REVERTED,
    SAVED,
    UNPUBLISHED,
    Revision,
    RevisionStore,
)

PUBLISHED_STATUS, DRAFT_STATUS = "published", "draft"
WRITE_LOCK = ".workspace.lock"


class IndexRebuilder(Protocol):
    """What the workspace needs of `publishing.IndexBuilder`."""

    def rebuild(self) -> BuildReport: ...

    def live_version(self) -> Optional[str]: ...


@dataclass(frozen=True)
class ArticleSummary:
    """One row of the article list."""

    id: str
    title: str
    category: str
    tags: Tuple[str, ...]
    status: str
    updated: Optional[date]
    path: str  # relative to the articles folder
    errors: int
    warnings: int
    last_editor: Optional[str]
    last_edited_at: Optional[datetime]
    readable: bool = True  # False: the file does not load; `problems` of `get` say why


@dataclass(frozen=True)
class ArticleView:
    """An article as the editor opens it."""

    id: str
    path: str
    etag: str
    text: str
    fields: Optional[ArticleFields]  # None when the file cannot be read as an article
    problems: Tuple[Problem, ...]


@dataclass(frozen=True)
class Publication:
    """What a change did to the live index."""

    index_version: Optional[str]
    rebuilt: bool
    seconds: float


@dataclass(frozen=True)
class SaveResult:
    article: Optional[ArticleView]  # None after a deletion
    revision: Revision
    problems: Tuple[Problem, ...]
    publication: Optional[Publication]  # None when the published set did not change


@dataclass(frozen=True)
class LiveStatus:
    index_version: Optional[str]  # what the index folder points at
    serving_version: Optional[str]  # what the running assistant answers from (None: could not ask)

    @property
    def live(self) -> bool:
        return self.index_version is not None and self.serving_version == self.index_version


@dataclass(frozen=True)
class PreviewCard:
    """One passage as the assistant would answer with it."""

    section: str
    text: str  # the plain-text answer (channels without cards)
    custom: Dict[str, object]  # the card payload the widget renders


@dataclass
class KnowledgeWorkspace:
    articles_dir: Path
    revisions: RevisionStore
    builder: IndexRebuilder
    clock: Callable[[], datetime]
    lock_dir: Path
    probe: Optional[AssistantProbe] = None
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    # -- reading ------------------------------------------------------------------------------

    def list(self) -> List[ArticleSummary]:
        """Every article file, readable or not, sorted by title, with its lint counts and last editor."""
        articles, problems = load_articles(self.articles_dir)
        problems = problems + lint_articles(articles)
        counts: Dict[str, List[int]] = {}
        for problem in problems:
            errors_warnings = counts.setdefault(str(Path(problem.file).resolve()), [0, 0])
            errors_warnings[0 if problem.severity == ERROR else 1] += 1
        loaded = {str(Path(a.path).resolve()): a for a in articles}
        latest = self.revisions.latest()
        rows = []
        for path in article_files(self.articles_dir):
            key = str(path.resolve())
            errors, warnings = counts.get(key, [0, 0])
            article = loaded.get(key)
            revision = latest.get(article.id if article else path.stem)
            editor, edited = (revision.editor, revision.at) if revision else (None, None)
            relative = str(path.relative_to(self.articles_dir))
            if article is None:
                rows.append(ArticleSummary(path.stem, path.stem, "", (), "unreadable", None, relative, errors, warnings,
                                           editor, edited, readable=False))
            else:
                rows.append(ArticleSummary(article.id, article.title, article.category, article.tags, article.status,
                                           article.updated, relative, errors, warnings, editor, edited))
        return sorted(rows, key=lambda r: (r.title.lower(), r.id))

    def get(self, article_id: str) -> ArticleView:
        path = self._path_of(article_id)
        if path is None:
            raise NotFound(f"no article '{article_id}'")
        return self._view(article_id, path)

    def history(self, article_id: str) -> List[Revision]:
        """Newest first; a change made to the file outside the workspace is recorded first."""
        self._check_id(article_id)
        path = self._path_of(article_id)
        if path is not None:
            with self._writing():
                self._record_outside_change(article_id, path)
        found = self.revisions.history(article_id)
        if not found and path is None:
            raise NotFound(f"no article '{article_id}'")
        return found

    def revision(self, revision_id: int) -> Tuple[Revision, str]:
        """A revision and its diff against the one before it."""
        return self._revision(revision_id), self.diff(revision_id)

    def _revision(self, revision_id: int) -> Revision:
        revision = self.revisions.get(revision_id)
        if revision is None:
            raise NotFound(f"no revision {revision_id}")
        return revision

    def diff(self, revision_id: int) -> str:
        """The unified diff of a revision against the one before it (of the same article)."""
        revision = self._revision(revision_id)
        older = [r for r in self.revisions.history(revision.article_id) if r.id < revision.id]
        before = older[0].text if older and older[0].text is not None else ""
        after = revision.text or ""
        name = f"{revision.article_id}.md"
        return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                            fromfile=f"a/{name}" if before else "/dev/null",
                                            tofile=f"b/{name}" if after else "/dev/null"))

    def check(self, fields: ArticleFields, article_id: Optional[str] = None) -> List[Problem]:
        """The lint findings the article would have if saved now (nothing is written)."""
        path = self._target_path(article_id or fields.id, fields.id)
        text = render(fields, self.clock().date())
        _article, problems = self._lint(text, path)
        return problems

    def body_line(self, fields: ArticleFields) -> int:
        """Where the body starts in the file these fields are saved as (for placing findings in the editor)."""
        return body_line(render(fields, self.clock().date()))

    def preview(self, fields: ArticleFields) -> List[PreviewCard]:
        """The article's passages as the assistant would answer with each (questions are searched, never shown)."""
        text = render(fields, self.clock().date())
        path = self._target_path(fields.id, fields.id)
        try:
            article, _ = parse_article_text(text, path)
        except ArticleError as error:
            raise ArticleRefused(f"the article cannot be previewed: {error.reason}", [Problem.from_error(error)]) from None
        return [PreviewCard(section=p.section, text=answer_text(p.text, article.title, article.url),
                            custom=answer_card(article.id, article.title, article.url, p.text))
                for p in split_article(article) if p.section != QUESTIONS_SECTION]

    def live_status(self) -> LiveStatus:
        serving = self.probe.serving_version() if self.probe is not None else None
        return LiveStatus(index_version=self.builder.live_version(), serving_version=serving)

    # -- changing -----------------------------------------------------------------------------

    def create(self, who: Agent, fields: ArticleFields) -> SaveResult:
        """A new article file `<id>.md` in the articles folder, as a draft or published."""
        self._must_lead(who)
        self._check_id(fields.id)
        with self._writing():
            if self._path_of(fields.id) is not None:
                raise EditConflict(f"an article with the id '{fields.id}' already exists; open it, or choose another id",
                                   self._hash_of(fields.id))
            path = self.articles_dir / f"{fields.id}.md"
            return self._write(who, fields.id, path, fields, CREATED, was_published=False)

    def save(self, who: Agent, article_id: str, fields: ArticleFields, etag: str) -> SaveResult:
        """The article as the lead edited it, with the status the lead chose (published or draft)."""
        self._must_lead(who)
        self._check_id(article_id)
        if fields.id != article_id:
            raise ArticleRefused("an article's id cannot change (links and the index use it); create a new article instead")
        with self._writing():
            path, current = self._current(article_id, etag)
            was_published = current is not None and current.published
            action = SAVED if fields.status == (current.status if current else None) else (
                PUBLISHED if fields.status == PUBLISHED_STATUS else UNPUBLISHED)
            return self._write(who, article_id, path, fields, action, was_published)

    def set_status(self, who: Agent, article_id: str, status: str, etag: str) -> SaveResult:
        """Publish or unpublish the article as it is on disk."""
        self._must_lead(who)
        self._check_id(article_id)
        if status not in (PUBLISHED_STATUS, DRAFT_STATUS):
            raise ArticleRefused(f"status must be '{PUBLISHED_STATUS}' or '{DRAFT_STATUS}'")
        with self._writing():
            path, current = self._current(article_id, etag)
            if current is None:
                raise ArticleRefused(f"the file of '{article_id}' cannot be read as an article; fix it first",
                                     self._view(article_id, path).problems)
            action = PUBLISHED if status == PUBLISHED_STATUS else UNPUBLISHED
            return self._write(who, article_id, path, ArticleFields.of(current).with_status(status), action, current.published)

    def revert(self, who: Agent, article_id: str, revision_id: int, etag: Optional[str]) -> SaveResult:
        """Bring back the article as it was in a revision (a deleted one too: then `etag` is None)."""
        self._must_lead(who)
        self._check_id(article_id)
        revision = self.revisions.get(revision_id)
        if revision is None or revision.article_id != article_id or revision.text is None:
            raise NotFound(f"no revision {revision_id} of '{article_id}' with text to bring back")
        with self._writing():
            path = self._path_of(article_id)
            was_published = False
            if path is None:
                if etag is not None:
                    raise EditConflict(f"'{article_id}' was deleted since you opened it", None)
                path = self.articles_dir / f"{article_id}.md"
            else:
                path, current = self._current(article_id, etag or "")
                was_published = current is not None and current.published
            return self._write_text(who, article_id, path, revision.text, REVERTED, was_published,
                                    detail=f"to revision {revision.id} of {revision.at:%Y-%m-%d %H:%M}")

    def delete(self, who: Agent, article_id: str, etag: str) -> SaveResult:
        """Remove the file; its text stays in the history, and `revert` brings it back."""
        self._must_lead(who)
        self._check_id(article_id)
        with self._writing():
            path, current = self._current(article_id, etag)
            others, _ = load_articles(self.articles_dir)
            linking = links_to(path, [a for a in others if a.id != article_id])
            if linking:
                names = sorted({Path(p.file).stem for p in linking})
                raise ArticleRefused(f"not deleted: {', '.join(names)} link{'s' if len(names) == 1 else ''} to it; "
                                     "change those links first", linking)
            self._record_outside_change(article_id, path)  # the text being deleted is in the history first
            os.unlink(path)
            revision = self.revisions.add(article_id, self.clock(), who.name, who.id, DELETED, None, None, None)
            publication = self._publish() if current is None or current.published else None
            return SaveResult(article=None, revision=revision, problems=(), publication=publication)

    # -- inside --------------------------------------------------------------------------------

    def _must_lead(self, who: Agent) -> None:
        if not who.is_lead:
            raise NotAllowed("only leads can change help articles; agents can read them")

    @staticmethod
    def _check_id(article_id: str) -> None:
        # ids are file names: a slug can hold no '/', '..' or NUL, so no path can leave the folder
        if not isinstance(article_id, str) or len(article_id) > 120 or not SLUG_RE.match(article_id):
            raise ArticleRefused(f"{article_id!r} is not an article id (lowercase letters, digits and single hyphens)")

    def _writing(self):
        """One writer at a time, across threads and the web app's processes."""
        return exclusive(self.lock_dir / WRITE_LOCK)

    def _path_of(self, article_id: str) -> Optional[Path]:
        """The file of an article: `<id>.md` anywhere under the folder (the loader's rule: file name = id)."""
        self._check_id(article_id)
        for path in article_files(self.articles_dir):
            if path.stem == article_id:
                return path
        return None

    def _target_path(self, article_id: str, new_id: str) -> Path:
        self._check_id(new_id)
        return self._path_of(article_id) or (self.articles_dir / f"{new_id}.md")

    def _hash_of(self, article_id: str) -> Optional[str]:
        path = self._path_of(article_id)
        return content_hash(read_text(path)) if path is not None else None

    def _view(self, article_id: str, path: Path) -> ArticleView:
        text = read_text(path)
        try:
            article, warnings = parse_article_text(text, path)
        except ArticleError as error:
            return ArticleView(article_id, self._relative(path), content_hash(text), text, None, (Problem.from_error(error),))
        articles, _ = load_articles(self.articles_dir)
        mine = str(path.resolve())
        problems = tuple(warnings) + tuple(p for p in lint_articles(articles) if str(Path(p.file).resolve()) == mine)
        return ArticleView(article_id, self._relative(path), content_hash(text), text, ArticleFields.of(article), problems)

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.articles_dir))

    def _current(self, article_id: str, etag: str) -> Tuple[Path, Optional[Article]]:
        """(path, article as on disk or None when unreadable), or EditConflict when it is not what the lead opened."""
        path = self._path_of(article_id)
        if path is None:
            raise EditConflict(f"'{article_id}' was deleted since you opened it", None)
        text = read_text(path)
        now = content_hash(text)
        if now != etag:
            raise EditConflict(f"'{article_id}' was changed since you opened it (by another lead, or in the files); "
                               "nothing was saved", now)
        try:
            return path, parse_article_text(text, path)[0]
        except ArticleError:
            return path, None

    def _lint(self, text: str, path: Path) -> Tuple[Optional[Article], List[Problem]]:
        """The article parsed from `text` at `path`, and its findings among the other articles."""
        try:
            article, warnings = parse_article_text(text, path)
        except ArticleError as error:
            return None, [Problem.from_error(error)]
        mine = str(path.resolve())
        others, _ = load_articles(self.articles_dir)
        together = [a for a in others if str(Path(a.path).resolve()) != mine and a.id != article.id] + [article]
        found = [p for p in lint_articles(together) if str(Path(p.file).resolve()) == mine]
        return article, sorted(warnings + found, key=lambda p: (p.line or 0, p.message))

    def _write(self, who: Agent, article_id: str, path: Path, fields: ArticleFields, action: str,
               was_published: bool) -> SaveResult:
        return self._write_text(who, article_id, path, render(fields, self.clock().date()), action, was_published)

    def _write_text(self, who: Agent, article_id: str, path: Path, text: str, action: str, was_published: bool,
                    detail: str = "") -> SaveResult:
        article, problems = self._lint(text, path)
        if article is None:
            raise ArticleRefused(f"not saved: {problems[0].message}", problems)
        if article.id != article_id:
            raise ArticleRefused(f"the text is of article '{article.id}', not '{article_id}'", problems)
        errors = [p for p in problems if p.severity == ERROR]
        if article.published and errors:
            raise ArticleRefused(f"not published: {errors[0].message}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
                                 problems)
        self._record_outside_change(article_id, path)
        _atomic_write(path, text)
        revision = self.revisions.add(article_id, self.clock(), who.name, who.id, action, article.status, text,
                                      content_hash(text), detail)
        publication = self._publish() if article.published or was_published else None
        return SaveResult(article=self._view(article_id, path), revision=revision, problems=tuple(problems),
                          publication=publication)

    def _record_outside_change(self, article_id: str, path: Path) -> None:
        """The file as it is now, as a revision by "files", when the history does not end with it."""
        if not path.exists():
            return
        text = read_text(path)
        latest = self.revisions.latest([article_id]).get(article_id)
        if latest is None or latest.text_hash != content_hash(text):
            try:
                status: Optional[str] = parse_article_text(text, path)[0].status
            except ArticleError:
                status = None
            self.revisions.add(article_id, self.clock(), FILES, None, ON_DISK, status, text, content_hash(text),
                               "the file as found on disk" if latest is None else "changed outside the workspace")

    def _publish(self) -> Publication:
        report = self.builder.rebuild()
        return Publication(index_version=report.version or None, rebuilt=report.changed, seconds=report.seconds)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a power cut only once the folder is synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
