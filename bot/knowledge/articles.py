"""Help articles: Markdown files with YAML front matter, parsed into frozen `Article` records.

A bad file never stops the others from loading: `load_articles` returns the good articles
plus one `Problem` per bad file, naming the file and, where known, the line. The same
front-matter schema check serves the loader and the linter, so a file that lints clean loads.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import yaml

from bot.errors import ConfigurationError
from bot.knowledge.errors import ArticleError

PathLike = Union[str, Path]

# Far above any real help article (the longest is ~2 kB): a bigger file is a mistake, e.g. an
# exported PDF or a log pasted in, and would only produce noise passages.
MAX_ARTICLE_BYTES = 1024 * 1024
STATUSES = ("published", "draft")
REQUIRED_FIELDS = ("id", "title", "category", "tags", "status", "updated", "url")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FRONT_MATTER_DELIMITER = "---"

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """Something wrong with an article file; `line` is 1-based, None when it is the whole file."""

    file: str
    line: Optional[int]
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = "" if self.severity == ERROR else f"{self.severity}: "
        return f"{where}: {prefix}{self.message}"

    @classmethod
    def from_error(cls, error: ArticleError) -> "Problem":
        return cls(error.path, error.line, error.reason)


@dataclass(frozen=True)
class Article:
    """One help article. `content_hash` covers front matter and body, so any edit changes it."""

    id: str
    title: str
    category: str
    tags: Tuple[str, ...]
    status: str
    updated: date
    url: str
    body: str
    path: str
    content_hash: str
    # line of the file on which the body starts, so problems found in the body can name a line
    body_line: int = 1

    @property
    def published(self) -> bool:
        return self.status == "published"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_text(path: PathLike) -> str:
    """The file's text with newlines normalised; ArticleError for oversized or non-UTF-8 files."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_ARTICLE_BYTES:
            raise ArticleError(
                path, f"file is {size:,} bytes, over the {MAX_ARTICLE_BYTES:,}-byte limit for an article"
            )
        raw = path.read_bytes()
    except OSError as error:
        raise ArticleError(path, f"cannot read the file: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")  # a BOM from a Windows editor is harmless: accept it
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ArticleError(
            path,
            f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at offset {error.start}); save the file as UTF-8",
            line,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str, path: PathLike) -> Tuple[str, str, int]:
    """(front matter, body, line the body starts on) of an article's text."""
    if not text.strip():
        raise ArticleError(path, "file is empty", 1)
    lines = text.split("\n")
    if lines[0].strip() != FRONT_MATTER_DELIMITER:
        raise ArticleError(path, "missing front matter: the file must start with a '---' line", 1)
    for index in range(1, len(lines)):
        if lines[index].strip() == FRONT_MATTER_DELIMITER:
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    raise ArticleError(path, "front matter is not closed: add a '---' line after it", 1)


def parse_front_matter(front: str, path: PathLike) -> Dict[str, Any]:
    try:
        meta = yaml.safe_load(front) if front.strip() else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        # +2: the front matter starts on the file's second line, YAML marks are 0-based
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ArticleError(path, f"malformed front matter: {problem}", line) from None
    if not isinstance(meta, dict):
        raise ArticleError(path, "malformed front matter: expected 'key: value' lines", 2)
    return meta


def key_lines(front: str) -> Dict[str, int]:
    """File line of each top-level front-matter key, to point problems at the right line."""
    found: Dict[str, int] = {}
    for offset, line in enumerate(front.split("\n")):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match:
            found.setdefault(match.group(1), offset + 2)
    return found


def front_matter_problems(meta: Mapping[str, Any], path: PathLike, lines: Mapping[str, int]) -> List[Problem]:
    """Schema check of the front matter; errors make the article unusable, warnings do not."""
    file = str(path)
    problems: List[Problem] = []

    def add(key: str, message: str, severity: str = ERROR) -> None:
        problems.append(Problem(file, lines.get(key, 2), message, severity))

    for key in REQUIRED_FIELDS:
        if key not in meta or meta[key] is None or meta[key] == "":
            problems.append(Problem(file, lines.get(key, 2), f"front matter: required field '{key}' is missing"))
    for key in meta:
        if key not in REQUIRED_FIELDS:
            add(key, f"front matter: unknown field '{key}' (ignored)", WARNING)

    article_id = meta.get("id")
    if article_id is not None:
        if not isinstance(article_id, str) or not SLUG_RE.match(article_id):
            add("id", f"front matter: id {article_id!r} is not a slug (lowercase letters, digits and single hyphens)")
        elif article_id != Path(path).stem:
            add("id", f"front matter: id '{article_id}' does not match the file name '{Path(path).name}'")
    title = meta.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        add("title", "front matter: title must be text")
    category = meta.get("category")
    if category is not None and (not isinstance(category, str) or not SLUG_RE.match(category)):
        add("category", f"front matter: category {category!r} is not a slug")
    tags = meta.get("tags")
    if tags is not None and not (
        isinstance(tags, list) and all(isinstance(t, (str, int, float)) and str(t).strip() for t in tags)
    ):
        add("tags", "front matter: tags must be a list like [returns, refunds]")
    status = meta.get("status")
    if status is not None and status not in STATUSES:
        add("status", f"front matter: status {status!r} must be one of {', '.join(STATUSES)}")
    if meta.get("updated") is not None and _as_date(meta["updated"]) is None:
        add("updated", f"front matter: updated {meta['updated']!r} is not a date like 2026-08-18")
    url = meta.get("url")
    if url is not None and not (isinstance(url, str) and re.match(r"^https?://\S+$", url)):
        add("url", f"front matter: url {url!r} must be an http(s) address")
    return problems


def _as_date(value: Any) -> Optional[date]:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_article_text(text: str, path: PathLike) -> Tuple[Article, List[Problem]]:
    """Parse an article; ArticleError on the first error, warnings returned alongside."""
    front, body, body_line = split_front_matter(text, path)
    meta = parse_front_matter(front, path)
    problems = front_matter_problems(meta, path, key_lines(front))
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ArticleError(path, first.message + more, first.line)
    if not body.strip():
        raise ArticleError(path, "article is empty: there is no text after the front matter", body_line)
    # Leading blank lines after the front matter are not part of the body.
    stripped = body.lstrip("\n")
    body_line += len(body) - len(stripped)
    body = stripped.rstrip()
    article = Article(
        id=meta["id"],
        title=" ".join(str(meta["title"]).split()),
        category=meta["category"],
        tags=tuple(str(tag).strip() for tag in meta["tags"]),
        status=meta["status"],
        updated=_as_date(meta["updated"]),  # type: ignore[arg-type]  # checked above
        url=meta["url"],
        body=body,
        path=str(path),
        content_hash=content_hash(text),
        body_line=body_line,
    )
    return article, [p for p in problems if p.severity != ERROR]


def parse_article(path: PathLike) -> Article:
    """One article file; ArticleError naming the file (and line) when it cannot be used."""
    article, _warnings = parse_article_text(read_text(path), path)
    return article


def article_files(folder: PathLike) -> List[Path]:
    """The `.md` files under `folder`, sorted; names starting with '.' or '_' (editor temp
    files, templates) are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigurationError(f"articles folder {root} does not exist or is not a folder")
    return sorted(
        path
        for path in root.rglob("*.md")
        if path.is_file() and not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)
    )


def load_articles(folder: PathLike) -> Tuple[List[Article], List[Problem]]:
    """Every usable article under `folder` plus the problems of the others (and warnings).

    Articles are returned sorted by path. When two files declare the same id the first (by
    path) wins and the second is reported, so the outcome does not depend on directory order.
    """
    articles: List[Article] = []
    problems: List[Problem] = []
    seen: Dict[str, Article] = {}
    for path in article_files(folder):
        try:
            text = read_text(path)
            article, warnings = parse_article_text(text, path)
        except ArticleError as error:
            problems.append(Problem.from_error(error))
            continue
        problems.extend(warnings)
        if article.id in seen:
            id_line = key_lines(split_front_matter(text, path)[0]).get("id", 2)
            problems.append(
                Problem(str(path), id_line, f"duplicate id '{article.id}': already used by {seen[article.id].path}")
            )
            continue
        seen[article.id] = article
        articles.append(article)
    return articles, problems
