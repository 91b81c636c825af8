"""Split articles into passages (what is shown) and passages into chunks (what is matched).

Passages follow the article's structure: a passage never spans two `##` sections, and within
a section it is built from whole paragraphs, list items and table rows. Long blocks are cut
between sentences (spaCy's rule-based sentencizer on a blank English pipeline: no model to
download), never inside one. Passages are kept within `max_words` so that an answer is a
readable, self-contained piece, and tiny ones are merged with their neighbours.

Each passage is split again, the same way, into chunks of at most `chunk_words` words; the
chunks (prefixed with the article title and section heading) are what is embedded. Customers
ask about one detail ("do you take amex") and a 120-word passage embeds as the average of
everything in it, so the detail is diluted; matching short chunks and showing the passage
around the best one ("small-to-big") lifted Recall@1 on golden-a (the golden file used for
development) from 0.54 to 0.64, dense alone, while StackFAQ's validation split stayed level
(0.960 with whole passages, 0.958 with chunks).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence, Tuple

from bot.knowledge.articles import Article
from bot.knowledge.markdown import LIST_ITEM_RE, Line, plain_text, split_sections, word_count

if TYPE_CHECKING:
    from spacy.language import Language

PARAGRAPH, LIST, TABLE, CODE = "paragraph", "list", "table", "code"
# Bump when the splitting rules change: an index stores each article's passages and reuses
# them while the article is unchanged, so the version is part of every index's fingerprint.
SPLIT_VERSION = 1


@dataclass(frozen=True)
class SplitConfig:
    # 120 words + title and heading stays well inside the model's 256 word pieces.
    max_words: int = 120
    # Passages shorter than this are merged into a neighbour of the same section when it fits.
    min_words: int = 30
    # A "sentence" longer than this is not prose (a pasted log, a run-on list without
    # punctuation) and is cut between words as a last resort.
    hard_max_words: int = 360
    # Chunks: the embedded units inside a passage (see the module docstring).
    chunk_words: int = 30
    chunk_min_words: int = 8


@dataclass(frozen=True)
class Passage:
    """A piece of an article. `text` is the Markdown as written (for display); `embed_text`
    is what is embedded and searched: title, section heading and the plain text, so that a
    passage is understandable on its own (a step list under "Factory reset" says which
    product it resets)."""

    passage_id: str
    article_id: str
    title: str
    section: str
    text: str
    position: int
    embed_text: str


# The section of the passage that holds an article's example questions (front matter `questions`). It is
# searched like any passage, one chunk per question, and never shown: a heading cannot start with NUL.
QUESTIONS_SECTION = "\0questions"


def questions_passage(article_id: str, title: str, questions: Sequence[str], position: int) -> Tuple[Passage, List[Chunk]]:
    """The article's example questions as a passage (for the lexical signal: the customer's own words) with
    one chunk per question, embedded on its own (no title prefix: a customer's wording against a customer's)."""
    text = "\n".join(questions)
    passage = Passage(passage_id(article_id, f"{QUESTIONS_SECTION}\0{text}"), article_id, title, QUESTIONS_SECTION,
                      text, position, text)
    chunks = [Chunk(passage_id(article_id, f"{QUESTIONS_SECTION}\0{q}"), passage.passage_id, q) for q in questions]
    return passage, chunks


def passage_id(article_id: str, embed_text: str) -> str:
    """Content hash: the same article id and embedded text give the same id on every build,
    which is what lets a rebuild reuse the cached embedding. The position is deliberately not
    part of it, so moving a paragraph does not cost a re-embedding."""
    digest = hashlib.sha256(f"{article_id}\0{embed_text}".encode("utf-8")).hexdigest()
    return digest[:24]


def make_embed_text(title: str, section: str, text: str) -> str:
    head = f"{title} — {section}" if section else title
    return f"{head}\n{plain_text(text)}"


@functools.lru_cache(maxsize=1)
def sentence_splitter() -> "Language":
    """spaCy's blank English pipeline with the rule-based sentencizer, built on first use."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def sentences(text: str) -> List[str]:
    text = " ".join(text.split())
    if not text:
        return []
    return [span.text.strip() for span in sentence_splitter()(text).sents if span.text.strip()]


@dataclass
class _Block:
    kind: str
    lines: List[str]

    def units(self, config: SplitConfig) -> List[str]:
        """The pieces this block may be cut into, in order."""
        if self.kind == PARAGRAPH:
            pieces = sentences(" ".join(self.lines))
        elif self.kind == TABLE:
            pieces = self.lines[2:] if len(self.lines) > 2 else self.lines
        elif self.kind == LIST:
            pieces = []
            for item in _list_items(self.lines):
                if word_count(item) <= config.max_words:
                    pieces.append(item)
                else:
                    pieces.extend(sentences(item))
        else:  # code: keep it whole, it is meaningless in halves
            pieces = ["\n".join(self.lines)]
        return [cut for piece in pieces for cut in _hard_cut(piece, config.hard_max_words)]

    @property
    def joiner(self) -> str:
        return " " if self.kind == PARAGRAPH else "\n"

    @property
    def table_header(self) -> List[str]:
        return self.lines[:2] if self.kind == TABLE and len(self.lines) > 2 else []


def _hard_cut(text: str, limit: int) -> List[str]:
    words = text.split()
    if len(words) <= limit:
        return [text]
    return [" ".join(words[i : i + limit]) for i in range(0, len(words), limit)]


def _list_items(lines: Sequence[str]) -> List[str]:
    items: List[str] = []
    for line in lines:
        if LIST_ITEM_RE.match(line) or not items:
            items.append(line.rstrip())
        else:  # continuation or nested line belongs to the item above
            items[-1] += "\n" + line.rstrip()
    return items


def _blocks(lines: Iterable[Line]) -> List[_Block]:
    """Group a section's lines into paragraphs, lists, tables and code blocks."""
    blocks: List[_Block] = []
    current: Optional[_Block] = None
    for line in lines:
        text = line.text
        if line.in_code:
            if current is None or current.kind != CODE:
                current = _Block(CODE, [])
                blocks.append(current)
            current.lines.append(text)
            continue
        if not text.strip():
            current = None
            continue
        stripped = text.strip()
        if stripped.startswith("|"):
            kind = TABLE
        elif LIST_ITEM_RE.match(text) or (current is not None and current.kind == LIST and text[:1].isspace()):
            kind = LIST
        else:
            kind = PARAGRAPH
        if current is None or current.kind != kind or current.kind == CODE:
            current = _Block(kind, [])
            blocks.append(current)
        current.lines.append(text.rstrip() if kind != PARAGRAPH else stripped)
    return blocks


class _Packer:
    """Greedy packing of one section's blocks into passages of at most `max_words`."""

    def __init__(self, config: SplitConfig) -> None:
        self.config = config
        self.done: List[str] = []
        self.current: List[Tuple[int, _Block, str, bool]] = []  # (block no, block, unit, first unit of block)

    def render(self, parts: Sequence[Tuple[int, _Block, str, bool]]) -> str:
        groups: List[str] = []
        index = 0
        while index < len(parts):
            block_no, block, _unit, first = parts[index]
            units = []
            while index < len(parts) and parts[index][0] == block_no:
                units.append(parts[index][2])
                index += 1
            header = block.table_header
            groups.append("\n".join(header + units) if header else block.joiner.join(units))
        return "\n\n".join(groups)

    def words(self, parts: Sequence[Tuple[int, _Block, str, bool]]) -> int:
        return word_count(plain_text(self.render(parts))) if parts else 0

    def fits(self, extra: Sequence[Tuple[int, _Block, str, bool]]) -> bool:
        return self.words(self.current + list(extra)) <= self.config.max_words

    def flush(self) -> None:
        if self.current:
            self.done.append(self.render(self.current))
            self.current = []

    def add_block(self, block_no: int, block: _Block) -> None:
        whole = [
            (
                block_no,
                block,
                "\n".join(block.lines[2:] if block.table_header else block.lines)
                if block.kind != PARAGRAPH
                else " ".join(block.lines),
                True,
            )
        ]
        if self.fits(whole):
            self.current.extend(whole)
            return
        # Start a new passage at the block boundary when the block fits on its own and the
        # current passage is already substantial; otherwise pour the block in unit by unit.
        if self.words(whole) <= self.config.max_words and self.words(self.current) >= self.config.min_words:
            self.flush()
            self.current.extend(whole)
            return
        for number, unit in enumerate(block.units(self.config)):
            part = (block_no, block, unit, number == 0)
            if self.current and not self.fits([part]):
                self.flush()
            self.current.append(part)

    def finish(self) -> List[str]:
        self.flush()
        passages = self.done
        # A short tail (e.g. "See also ..." line) joins the passage before it when it fits.
        merged: List[str] = []
        for text in passages:
            if (
                merged
                and word_count(plain_text(text)) < self.config.min_words
                and word_count(plain_text(merged[-1] + "\n\n" + text)) <= self.config.max_words
            ):
                merged[-1] = merged[-1] + "\n\n" + text
            else:
                merged.append(text)
        return merged


@dataclass(frozen=True)
class Chunk:
    """A few sentences, list items or table rows of one passage, as embedded.

    `chunk_id` is a content hash of (article id, embedded text): the embedding-cache key."""

    chunk_id: str
    passage_id: str
    embed_text: str


def _lines(text: str) -> List[Line]:
    from bot.knowledge.markdown import body_lines

    return body_lines(text)


def split_passage(passage: Passage, config: SplitConfig = SplitConfig()) -> List[Chunk]:
    """The passage's chunks in order; a passage within `chunk_words` is a single chunk."""
    chunk_config = SplitConfig(
        max_words=config.chunk_words, min_words=config.chunk_min_words, hard_max_words=config.hard_max_words
    )
    packer = _Packer(chunk_config)
    for block_no, block in enumerate(_blocks(_lines(passage.text))):
        packer.add_block(block_no, block)
    chunks: List[Chunk] = []
    seen = set()
    for text in packer.finish():
        embed = make_embed_text(passage.title, passage.section, text)
        cid = passage_id(passage.article_id, embed)
        if cid not in seen:
            seen.add(cid)
            chunks.append(Chunk(cid, passage.passage_id, embed))
    return chunks


def split_article(article: Article, config: SplitConfig = SplitConfig()) -> List[Passage]:
    """The article's passages in reading order. Identical passages (same section and text)
    are kept once: they would have the same id and add nothing to retrieval."""
    passages: List[Passage] = []
    seen = set()
    for section in split_sections(article.body, article.body_line, max_level=2):
        heading = section.heading or ""
        packer = _Packer(config)
        for block_no, block in enumerate(_blocks(section.lines)):
            packer.add_block(block_no, block)
        for text in packer.finish():
            embed = make_embed_text(article.title, heading, text)
            pid = passage_id(article.id, embed)
            if pid in seen:
                continue
            seen.add(pid)
            passages.append(Passage(pid, article.id, article.title, heading, text, len(passages), embed))
    return passages


def split_articles(articles: Iterable[Article], config: SplitConfig = SplitConfig()) -> List[Passage]:
    return [passage for article in articles for passage in split_article(article, config)]
