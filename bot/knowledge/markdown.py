"""The little Markdown the help articles use: headings, paragraphs, lists, tables, links.

A full Markdown parser is not needed (and not a dependency): articles are written by the
support team to a house style, and the linter reports anything this reader would misread.
Fenced code blocks are honoured so a `## ` or a link inside a code sample is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
# [text](target "optional title"); images (![..](..)) are matched too and treated the same.
LINK_RE = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
TABLE_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Line:
    """One line of an article body with its 1-based line number in the file."""

    number: int
    text: str
    in_code: bool = False


@dataclass
class Section:
    """A heading (None for the text before the first heading) and the lines under it."""

    heading: Optional[str]
    level: int
    line: int
    lines: List[Line] = field(default_factory=list)

    def has_content(self) -> bool:
        return any(line.text.strip() for line in self.lines)


def body_lines(body: str, first_line: int = 1) -> List[Line]:
    """The body's lines numbered from `first_line`, flagged when inside a fenced code block."""
    lines: List[Line] = []
    in_code = False
    for offset, text in enumerate(body.split("\n")):
        fence = bool(FENCE_RE.match(text))
        lines.append(Line(first_line + offset, text, in_code or fence))
        if fence:
            in_code = not in_code
    return lines


def heading_of(line: Line) -> Optional[Tuple[int, str]]:
    """(level, text) when the line is an ATX heading outside code, else None."""
    if line.in_code:
        return None
    match = HEADING_RE.match(line.text)
    if not match:
        return None
    return len(match.group(1)), match.group(2).strip()


def split_sections(body: str, first_line: int = 1, max_level: int = 2) -> List[Section]:
    """Split at headings of level <= `max_level`; deeper headings stay inside their section.

    The first section (heading None) holds the text before the first heading and is
    returned even when empty so that callers can tell "no intro" from "no body".
    """
    sections = [Section(None, 0, first_line)]
    for line in body_lines(body, first_line):
        heading = heading_of(line)
        if heading and heading[0] <= max_level:
            sections.append(Section(heading[1], heading[0], line.number))
        else:
            sections[-1].lines.append(line)
    return sections


def iter_links(lines: List[Line]) -> Iterator[Tuple[Line, str, str]]:
    """(line, text, target) of every inline link outside code blocks and code spans."""
    for line in lines:
        if line.in_code:
            continue
        text = re.sub(r"`[^`]*`", "", line.text)
        for match in LINK_RE.finditer(text):
            yield line, match.group(1), match.group(2)


def internal_target(target: str) -> Optional[str]:
    """The relative file a link points to (`other-id.md`), or None for URLs and anchors."""
    if not target or target.startswith(("#", "/")) or SCHEME_RE.match(target):
        return None
    return target.split("#", 1)[0].split("?", 1)[0] or None


def plain_text(markdown: str) -> str:
    """Markdown reduced to the words a reader sees: link texts kept, markup and pipes dropped.

    This is the text that is embedded and indexed; the Markdown itself is kept for display.
    """
    text = LINK_RE.sub(lambda m: m.group(1), markdown)
    out_lines = []
    for raw in text.split("\n"):
        if TABLE_SEPARATOR_RE.match(raw) and "-" in raw:
            continue
        line = raw.strip()
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            line = "; ".join(cell for cell in cells if cell)
        line = LIST_ITEM_RE.sub("", line)
        line = HEADING_RE.sub(lambda m: m.group(2), line)
        out_lines.append(line)
    text = " ".join(out_lines)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    return " ".join(text.split())


def word_count(text: str) -> int:
    return len(text.split())
