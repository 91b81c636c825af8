"""Help articles: Markdown files with YAML front matter, parsed into frozen `Article` records.

A bad file never stops the others from loading: `load_articles` returns the good articles
plus one `Problem` per bad file, naming the file and, where known, the line. The same
front-matter schema check serves the loader and the linter, so a file that lints clean loads.
"""

from __future__ import annotations

import hashlib
import json
import os
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
# `questions`: how customers ask for what the article answers, in their own words (a lead adds the
# wording of questions the assistant missed). They are searched but never shown (passages.questions_passage).
OPTIONAL_FIELDS = ("questions",)
MAX_QUESTIONS = 30
MAX_QUESTION_CHARS = 300
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
    questions: Tuple[str, ...] = ()

    @property
    def published(self) -> bool:
        return self.status == "published"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_text(path: PathLike) -> str:
    """The file's text with newlines normalised; ArticleError for oversized or non-UTF-8 files."""
    try:
        size = os.stat(path).st_size
        if size > MAX_ARTICLE_BYTES:
            raise ArticleError(
                path, f"file is {size:,} bytes, over the {MAX_ARTICLE_BYTES:,}-byte limit for an article"
            )
        with open(path, "rb") as handle:
            raw = handle.read()
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
    # Line by line from the top (the front matter is a few lines; the body can be long).
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    if first.strip() != FRONT_MATTER_DELIMITER:
        raise ArticleError(path, "missing front matter: the file must start with a '---' line", 1)
    start, number = end + 1, 1
    while end >= 0:
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip() == FRONT_MATTER_DELIMITER:
            return text[len(first) + 1 : start - 1] if start > len(first) + 1 else "", "" if end < 0 else text[end + 1 :], number + 2
        start, number = end + 1, number + 1
    raise ArticleError(path, "front matter is not closed: add a '---' line after it", 1)


# libyaml's parser, where PyYAML was built with it: parsing the front matter of 10,000 articles
# takes 20-30 s in pure Python and under a second with it (`python -m bot.bench.kb_scale`).
FAST_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_front_matter(front: str, path: PathLike) -> Dict[str, Any]:
    try:
        try:
            meta = yaml.load(front, Loader=FAST_YAML_LOADER) if front.strip() else None
        except yaml.YAMLError:
            # Parse again in pure Python for the problem: its wording and line marks are the
            # ones the linter's messages (and their tests) are written for.
            meta = yaml.safe_load(front)
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
        if key not in REQUIRED_FIELDS and key not in OPTIONAL_FIELDS:
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
    questions = meta.get("questions")
    if questions is not None and not (
        isinstance(questions, list)
        and len(questions) <= MAX_QUESTIONS
        and all(isinstance(q, str) and q.strip() and len(q) <= MAX_QUESTION_CHARS for q in questions)
    ):
        add("questions", f"front matter: questions must be a list of at most {MAX_QUESTIONS} questions, each text of at most "
                         f"{MAX_QUESTION_CHARS} characters")
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


def _article_body(body: str, body_line: int, path: PathLike) -> Tuple[str, int]:
    """The body as stored and the file line it starts on; ArticleError when it is empty."""
    if not body.strip():
        raise ArticleError(path, "article is empty: there is no text after the front matter", body_line)
    # Leading blank lines after the front matter are not part of the body.
    stripped = body.lstrip("\n")
    return stripped.rstrip(), body_line + len(body) - len(stripped)


def parse_article_text(text: str, path: PathLike, text_hash: Optional[str] = None) -> Tuple[Article, List[Problem]]:
    """Parse an article; ArticleError on the first error, warnings returned alongside.
    `text_hash` is the text's `content_hash` when the caller has it already."""
    front, body, body_line = split_front_matter(text, path)
    meta = parse_front_matter(front, path)
    problems = front_matter_problems(meta, path, key_lines(front))
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ArticleError(path, first.message + more, first.line)
    body, body_line = _article_body(body, body_line, path)
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
        content_hash=text_hash or content_hash(text),
        body_line=body_line,
        questions=clean_questions(meta.get("questions")),
    )
    return article, [p for p in problems if p.severity != ERROR]


def clean_questions(questions: Any) -> Tuple[str, ...]:
    """The front matter's questions, whitespace tidied, duplicates dropped (order kept)."""
    tidy = (" ".join(str(q).split()) for q in questions or ())
    return tuple(dict.fromkeys(q for q in tidy if q))


def parse_article(path: PathLike) -> Article:
    """One article file; ArticleError naming the file (and line) when it cannot be used."""
    article, _warnings = parse_article_text(read_text(path), path)
    return article


def article_files(folder: PathLike) -> List[Path]:
    """The `.md` files under `folder`, sorted; names starting with '.' or '_' (editor temp
    files, templates) are skipped, and so are folders named that way."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigurationError(f"articles folder {root} does not exist or is not a folder")
    found = []
    # os.walk rather than Path.rglob, and sorted by path parts as strings (the order Path
    # objects sort in) rather than as Path objects: a tenth of the time for 10,000 files
    for directory, folders, files in os.walk(root, followlinks=True):
        folders[:] = [name for name in folders if not name.startswith((".", "_"))]
        parts = Path(directory).parts
        for name in files:
            if name.endswith(".md") and not name.startswith((".", "_")):
                found.append((parts + (name,), os.path.join(directory, name)))
    found.sort()
    return [Path(path) for _, path in found]


class ParseCache:
    """Parsed front matter of article files, kept in a JSON file between runs.

    Entries are keyed by a hash of the file's path and full text, so an entry can never be
    stale: an edited (or moved) file simply misses. Only what the YAML parse and the schema
    check produce is kept (metadata and warnings); the body is cut from the text again,
    which costs nothing. On a help centre of 10,000 articles `bot kb build` after one edit
    then parses one file instead of 10,000 (4-5 s). Files with errors are never cached.
    """

    VERSION = 2

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._entries: Dict[str, Dict[str, Any]] = {}
        self._used: Dict[str, Dict[str, Any]] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == self.VERSION and isinstance(data.get("entries"), dict):
                self._entries = data["entries"]
        except (OSError, ValueError):
            pass  # no cache, or an unreadable one: parse everything

    @staticmethod
    def key(path: PathLike, text_hash: str) -> str:
        return hashlib.sha256(f"{path}\0{text_hash}".encode("utf-8")).hexdigest()

    def parse(self, text: str, path: PathLike) -> Tuple[Article, List[Problem]]:
        """`parse_article_text`, from the cache when this exact file was parsed before."""
        text_hash = content_hash(text)
        key = self.key(path, text_hash)
        entry = self._entries.get(key)
        if entry is not None:
            try:
                _front, raw_body, body_line = split_front_matter(text, path)
                body, body_line = _article_body(raw_body, body_line, path)
                article = Article(
                    id=entry["id"],
                    title=entry["title"],
                    category=entry["category"],
                    tags=tuple(entry["tags"]),
                    status=entry["status"],
                    updated=date.fromisoformat(entry["updated"]),
                    url=entry["url"],
                    body=body,
                    path=str(path),
                    content_hash=text_hash,
                    body_line=body_line,
                    questions=tuple(entry["questions"]),
                )
                warnings = [Problem(str(path), line, message, severity) for line, message, severity in entry["warnings"]]
                self._used[key] = entry
                return article, warnings
            except (KeyError, TypeError, ValueError):
                pass  # a damaged entry: parse the file
        article, warnings = parse_article_text(text, path, text_hash)
        self._used[key] = {
            "id": article.id,
            "title": article.title,
            "category": article.category,
            "tags": list(article.tags),
            "status": article.status,
            "updated": article.updated.isoformat(),
            "url": article.url,
            "questions": list(article.questions),
            "warnings": [[w.line, w.message, w.severity] for w in warnings],
        }
        return article, warnings

    def save(self) -> None:
        """Keep the entries of this run's files (so that deleted files drop out)."""
        if self._used == self._entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps({"version": self.VERSION, "entries": self._used}), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)  # a cache that cannot be written is only slower next time


def load_articles(folder: PathLike, parse_cache: Optional[PathLike] = None) -> Tuple[List[Article], List[Problem]]:
    """Every usable article under `folder` plus the problems of the others (and warnings).

    Articles are returned sorted by path. When two files declare the same id the first (by
    path) wins and the second is reported, so the outcome does not depend on directory order.
    `parse_cache`: a file for `ParseCache` (the index command keeps one in the index folder).
    """
    cache = ParseCache(parse_cache) if parse_cache is not None else None
    articles: List[Article] = []
    problems: List[Problem] = []
    seen: Dict[str, Article] = {}
    for path in article_files(folder):
        try:
            text = read_text(path)
            article, warnings = cache.parse(text, path) if cache is not None else parse_article_text(text, path)
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
    if cache is not None:
        cache.save()
    return articles, problems
