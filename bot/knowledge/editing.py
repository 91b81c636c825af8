"""An article as a lead edits it (form fields + Markdown body), and the file text it is written as.

The web editor writes the same Markdown files `bot kb` reads, in the layout the hand-written
ones use (the front matter keys in `REQUIRED_FIELDS` order, tags as a flow list, questions one
per line), so a file saved in the browser reads like one written in an editor and its diff in
git shows only what the lead changed. Every value is written so that YAML reads back exactly
the string that was given (`parse_article_text(render(fields)) == fields`, tested on odd text).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Mapping, Sequence, Tuple

import yaml

from bot.knowledge.articles import Article, clean_questions

# Candidates for a plain YAML scalar: letters, digits, spaces and punctuation, not starting with an
# indicator character. A candidate is written plain only if YAML reads it back as the same string
# (which rules out "yes", "12", "a: b", "x #y", dates); anything else is written double-quoted
# (JSON escaping is valid YAML).
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.,/()'?!&+:#=%@~;-]*$")
_FLOW_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.'?&+-]*$")  # inside [a, b]: no commas or brackets


@dataclass(frozen=True)
class ArticleFields:
    """Everything a lead sets on an article; `updated` is stamped when it is saved."""

    id: str
    title: str
    category: str
    tags: Tuple[str, ...]
    status: str
    url: str
    body: str
    questions: Tuple[str, ...] = ()

    @classmethod
    def of(cls, article: Article) -> "ArticleFields":
        return cls(id=article.id, title=article.title, category=article.category, tags=article.tags,
                   status=article.status, url=article.url, body=article.body, questions=article.questions)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "ArticleFields":
        """From the API's JSON (already type-checked there); whitespace tidied like the loader does."""
        return cls(
            id=str(data.get("id") or "").strip(),
            title=" ".join(str(data.get("title") or "").split()),
            category=str(data.get("category") or "").strip(),
            tags=tuple(t for t in (" ".join(str(tag).split()) for tag in data.get("tags") or ()) if t),
            status=str(data.get("status") or "draft").strip(),
            url=str(data.get("url") or "").strip(),
            body=normalise_body(str(data.get("body") or "")),
            questions=clean_questions(data.get("questions") or ()),
        )

    def with_status(self, status: str) -> "ArticleFields":
        return replace(self, status=status)


def normalise_body(body: str) -> str:
    """Newlines as the loader normalises them, no trailing blanks (the file ends with one newline)."""
    return body.replace("\r\n", "\n").replace("\r", "\n").strip("\n").rstrip()


def _yaml_same(text: str, written: str) -> bool:
    try:
        return yaml.safe_load(written) == text
    except yaml.YAMLError:
        return False


def scalar(text: str, flow: bool = False) -> str:
    """`text` as a YAML scalar that reads back as exactly `text`."""
    pattern = _FLOW_PLAIN if flow else _PLAIN
    if pattern.match(text) and not text.endswith((" ", ":")) and _yaml_same(text, text):
        return text
    return json.dumps(text, ensure_ascii=False)


def render(fields: ArticleFields, updated: date) -> str:
    """The article file's text: front matter, a blank-free body, one final newline."""
    lines = [
        "---",
        f"id: {scalar(fields.id)}",
        f"title: {scalar(fields.title)}",
        f"category: {scalar(fields.category)}",
        "tags: [" + ", ".join(scalar(tag, flow=True) for tag in fields.tags) + "]",
        f"status: {scalar(fields.status)}",
        f"updated: {updated.isoformat()}",
        f"url: {scalar(fields.url)}",
    ]
    if fields.questions:
        lines.append("questions:")
        # quoted always, as the hand-written files do: customers' wording is full of colons and apostrophes
        lines.extend(f"  - {json.dumps(q, ensure_ascii=False)}" for q in fields.questions)
    lines.append("---")
    return "\n".join(lines) + "\n" + normalise_body(fields.body) + "\n"


def body_line(text: str) -> int:
    """The file line (1-based) the body starts on, so an editor of the body alone can place lint findings."""
    lines = text.split("\n")
    fences = [i for i, line in enumerate(lines) if line.strip() == "---"][:2]
    if len(fences) < 2 or fences[0] != 0:
        return 1
    start = fences[1] + 1
    while start < len(lines) - 1 and not lines[start].strip():
        start += 1
    return start + 1


def add_questions(fields: ArticleFields, questions: Sequence[str]) -> ArticleFields:
    """The article with `questions` appended to its own (duplicates, in any case, dropped)."""
    have = {q.lower() for q in fields.questions}
    extra = [q for q in clean_questions(questions) if q.lower() not in have]
    return replace(fields, questions=clean_questions((*fields.questions, *extra)))
