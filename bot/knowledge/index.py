"""The index of the published articles, stored as versioned folders of immutable segments.

Layout of an index folder::

    var/kb_index/
      current                      <- text file naming the live version (switched atomically)
      v20261123T163500123456Z-1a2b3c4d/
        manifest.json              <- model, dimension, build time, article hashes, segments
        seg-0f1e2d3c4b5a6978/      <- one or two segments (see segment.py for the files)

What is embedded: the chunks of every passage (see `passages.py`: small units match a precise
question better, the passage around the best chunk is what is shown) and every article's
title. Titles get their own vector because questions tend to paraphrase a title ("how do I
reset my Pulse 700" / "Restart or reset Pulse 700 Wireless Headphones"); on StackFAQ's
validation split, scoring an article as the better of its title and its best chunk lifts
Recall@1 from 0.952 to 0.958 (`python -m bot.bench.kb`).

A build writes a complete new version folder under a temporary name, renames it into place
and only then replaces `current` with `os.replace`, so a reader sees either the old or the new
index, never half of one. Previous versions are kept for a while (a reader may have read the
pointer just before the switch) and double as the embedding cache: a chunk or title whose id
(a hash of its embedded text) is in one of them is not embedded again.

Incremental by article: an article whose content hash is unchanged keeps its passages,
chunks, vectors and term counts; only new and edited articles are split, tokenised and
embedded. A small index is rewritten as one segment on every change (it takes milliseconds).
A large one keeps its big segment, with its HNSW graph, and puts the changed articles into a
small second segment, so that editing one article of 10,000 writes a few files of kilobytes
instead of re-writing (and re-building the graph of) hundreds of megabytes; the rules are in
`IndexLayout` (segment.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np

from bot.embeddings import Embedder
from bot.knowledge.articles import Article, PathLike, Problem
from bot.knowledge.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from bot.knowledge.lexical import LEXICAL_VERSION, TermCounts, Tokenizer, body_document, lexical_document
from bot.knowledge.passages import SPLIT_VERSION, Chunk, Passage, SplitConfig, questions_passage, split_article, split_passage
from bot.knowledge.segment import (
    HNSW,
    ID_BYTES,
    IndexLayout,
    LiveFilter,
    Segment,
    SegmentData,
    article_line,
    ids_array,
    link_segment,
    new_segment_name,
    passage_line,
    write_file,
    write_segment,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
POINTER = "current"
MANIFEST = "manifest.json"
# Below this many new texts a progress bar is just noise (an edit re-embeds a handful).
PROGRESS_MIN_TEXTS = 300
EMBED_BATCH = 64
KEEP_VERSIONS = 3
# `load_articles`' parse cache, kept in the index folder by `bot kb build` (see articles.ParseCache)
PARSE_CACHE_FILE = "articles-cache.json"


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    version: str
    built_at: str
    fingerprint: str
    split: Dict[str, int]
    articles: Dict[str, str]  # live article id -> content hash
    passages: int  # live passages
    chunks: int  # live chunks
    segments: Tuple[str, ...]  # segment folders, in row order
    # segment folder -> ids of its articles that a later segment (or a deletion) superseded
    superseded: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    problems: Tuple[str, ...] = ()

    def to_json(self) -> str:
        data = asdict(self)
        data["segments"] = list(self.segments)
        data["superseded"] = {name: sorted(ids) for name, ids in self.superseded.items()}
        data["problems"] = list(self.problems)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Dict) -> "Manifest":
        return cls(
            format_version=int(data["format_version"]),
            model=str(data["model"]),
            dimension=int(data["dimension"]),
            version=str(data["version"]),
            built_at=str(data["built_at"]),
            fingerprint=str(data["fingerprint"]),
            split=dict(data.get("split", {})),
            articles=dict(data["articles"]),
            passages=int(data["passages"]),
            chunks=int(data["chunks"]),
            segments=tuple(data["segments"]),
            superseded={str(k): tuple(v) for k, v in dict(data.get("superseded", {})).items()},
            problems=tuple(data.get("problems", ())),
        )

    @property
    def built_at_datetime(self) -> datetime:
        return datetime.fromisoformat(self.built_at)


@dataclass(frozen=True)
class BuildReport:
    folder: str
    version: str
    changed: bool  # False: nothing that affects the index changed, no new version written
    articles: int
    drafts_skipped: int
    passages: int
    chunks: int
    embedded: int  # texts embedded by this build (chunks and titles)
    reused: int  # chunk and title vectors that were not embedded again
    seconds: float
    problems: Tuple[Problem, ...] = ()
    segments: int = 1  # 2: the big segment was kept and the changes went into a delta
    processed: int = 0  # articles split and tokenised by this build (new or edited)
    # seconds per stage: split, embed, rows (tokenise and assemble), write (graph included), graph
    timings: Dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# reading the folder


def _write_file(path: Path, data: bytes) -> None:
    write_file(path, data)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible everywhere (Windows); the rename is atomic regardless
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_pointer(folder: PathLike) -> Optional[str]:
    """The live version's folder name, or None when nothing was built yet."""
    try:
        name = (Path(folder) / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def read_manifest(folder: PathLike, version: Optional[str] = None) -> Manifest:
    """The manifest of the live (or the given) version; IndexNotFound when there is none."""
    folder = Path(folder)
    version = version or read_pointer(folder)
    if version is None:
        raise IndexNotFound(f"no knowledge-base index in {folder}: build it first (python -m bot.knowledge.cli build)")
    path = folder / version / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(f"{path} is missing: the 'current' pointer names a version that does not exist") from None
    except ValueError as error:
        raise IndexCorrupt(f"{path}: unreadable manifest ({error!r}); rebuild the index") from None
    if isinstance(data, dict) and data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"{folder / version}: index format {data.get('format_version')}, this version reads format {FORMAT_VERSION}; "
            "rebuild the index"
        )
    try:
        return Manifest.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise IndexCorrupt(f"{path}: unreadable manifest ({error!r}); rebuild the index") from None


def check_compatible(manifest: Manifest, embedder: Embedder, where: PathLike) -> None:
    """IndexMismatch unless the index's vectors are comparable with the embedder's."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(
            f"{where}: index format {manifest.format_version}, this version reads format {FORMAT_VERSION}; rebuild the index"
        )
    if manifest.model != embedder.name or manifest.dimension != embedder.dimension:
        raise IndexMismatch(
            f"{where}: index was built with model '{manifest.model}' ({manifest.dimension}-d) but this process "
            f"embeds queries with '{embedder.name}' ({embedder.dimension}-d); rebuild the index with that model"
        )


def _load_segments(
    where: Path, manifest: Manifest, cache: Optional[Mapping[str, Segment]] = None, exact: bool = False
) -> List[Segment]:
    segments = []
    for name in manifest.segments:
        segment = cache.get(name) if cache else None
        if segment is not None:
            # The same files, hard-linked into this version: read what is still unread from
            # here, the version it was first loaded from may be pruned.
            segment.folder = where / name
        else:
            if not (where / name).is_dir():
                raise IndexCorrupt(f"{where / name} is missing; rebuild the index")
            segment = Segment(where / name, name, exact=exact)
        if segment.dimension != manifest.dimension:
            raise IndexCorrupt(f"{where / name}: index files disagree with the manifest; rebuild the index")
        segments.append(segment)
    return segments


# ---------------------------------------------------------------------------------------------
# the loaded index


class ArticleTable(Mapping[str, Article]):
    """The live articles by id, parsed from their segment on first access."""

    def __init__(self, rows: Dict[str, Tuple[Segment, int]]) -> None:
        self._rows = rows

    def __getitem__(self, article_id: str) -> Article:
        segment, row = self._rows[article_id]
        return segment.article(row)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._rows


class PassageTable(Sequence[Passage]):
    """Every passage row of a snapshot (superseded rows included, see `Snapshot.passage_alive`),
    parsed on access."""

    def __init__(self, segments: Sequence[Segment], offsets: np.ndarray) -> None:
        self._segments = tuple(segments)
        self._offsets = offsets

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return tuple(self[i] for i in range(*row.indices(len(self))))
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        part = int(np.searchsorted(self._offsets, row, side="right")) - 1
        return self._segments[part].passage(row - int(self._offsets[part]))


@dataclass(frozen=True)
class Snapshot:
    """One loaded version of the index; never mutated, swapped whole on reload.

    Rows are numbered across the segments in order. Rows of superseded articles (edited or
    deleted since the big segment was written) are still there and flagged dead in the
    `*_alive` masks; searches never return them.
    """

    version: str
    manifest: Manifest
    segments: Tuple[Segment, ...]
    articles: Mapping[str, Article]  # live articles by id
    passages: Sequence[Passage]  # every passage row
    article_ids: Tuple[str, ...]  # every article row (title_vectors' order)
    title_vectors: np.ndarray
    article_alive: np.ndarray
    passage_alive: np.ndarray
    chunk_alive: np.ndarray
    passage_article: np.ndarray  # article row of each passage row
    chunk_passage: np.ndarray  # passage row of each chunk row
    chunk_offsets: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(1, dtype=np.int64))
    live_filters: Tuple[Optional[LiveFilter], ...] = field(repr=False, default=())
    title_filters: Tuple[Optional[LiveFilter], ...] = field(repr=False, default=())
    article_offsets: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(1, dtype=np.int64))

    @classmethod
    def assemble(cls, manifest: Manifest, segments: Sequence[Segment]) -> "Snapshot":
        article_alive, passage_alive, chunk_alive, live_filters, title_filters = [], [], [], [], []
        rows: Dict[str, Tuple[Segment, int]] = {}
        for segment in segments:
            superseded = set(manifest.superseded.get(segment.name, ()))
            alive = np.asarray([aid not in superseded for aid in segment.article_ids], dtype=bool)
            passages = alive[segment.passage_article] if segment.passages else np.zeros(0, dtype=bool)
            chunks = passages[segment.chunk_passage] if segment.chunks else np.zeros(0, dtype=bool)
            article_alive.append(alive)
            passage_alive.append(passages)
            chunk_alive.append(chunks)
            live_filters.append(segment.live_filter(chunks) if segment.chunks else None)
            title_filters.append(segment.title_filter(alive) if segment.articles else None)
            for row, article_id in enumerate(segment.article_ids):
                if alive[row]:
                    if article_id in rows:
                        raise IndexCorrupt(f"{segment.folder}: article '{article_id}' is live twice; rebuild the index")
                    rows[article_id] = (segment, row)
        article_offsets = np.cumsum([0] + [s.articles for s in segments]).astype(np.int64)
        passage_offsets = np.cumsum([0] + [s.passages for s in segments]).astype(np.int64)
        chunk_offsets = np.cumsum([0] + [s.chunks for s in segments]).astype(np.int64)
        live_passages = int(sum(int(p.sum()) for p in passage_alive))
        live_chunks = int(sum(int(c.sum()) for c in chunk_alive))
        if set(rows) != set(manifest.articles) or (live_passages, live_chunks) != (manifest.passages, manifest.chunks):
            raise IndexCorrupt(f"{segments[0].folder.parent if segments else manifest.version}: index files disagree with the manifest; "
                               "rebuild the index")
        dimension = manifest.dimension

        def joined(parts: List[np.ndarray], dtype) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return cls(
            version=manifest.version,
            manifest=manifest,
            segments=tuple(segments),
            articles=ArticleTable(rows),
            passages=PassageTable(segments, passage_offsets),
            article_ids=tuple(aid for s in segments for aid in s.article_ids),
            title_vectors=np.vstack([s.titles for s in segments]).astype(np.float32)
            if segments
            else np.zeros((0, dimension), dtype=np.float32),
            article_alive=joined(article_alive, bool),
            passage_alive=joined(passage_alive, bool),
            chunk_alive=joined(chunk_alive, bool),
            passage_article=joined([s.passage_article + article_offsets[i] for i, s in enumerate(segments)], np.int64),
            chunk_passage=joined([s.chunk_passage + passage_offsets[i] for i, s in enumerate(segments)], np.int64),
            chunk_offsets=chunk_offsets,
            live_filters=tuple(live_filters),
            title_filters=tuple(title_filters),
            article_offsets=article_offsets,
        )

    @property
    def chunks(self) -> int:
        return len(self.chunk_passage)

    @property
    def vectors(self) -> np.ndarray:
        """Every chunk vector, in row order (a copy: for tools and tests, not the query path)."""
        if not self.segments:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return np.vstack([np.asarray(s.vectors) for s in self.segments])

    def chunk_cosines(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Cosine of the query vector with some chunk rows (float32)."""
        rows = np.asarray(rows, dtype=np.int64)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if len(self.segments) == 1:
            return self.segments[0].cosines(rows, vector)
        out = np.empty(len(rows), dtype=np.float32)
        for i, segment in enumerate(self.segments):
            start, end = self.chunk_offsets[i], self.chunk_offsets[i + 1]
            inside = (rows >= start) & (rows < end)
            if inside.any():
                out[inside] = segment.cosines(rows[inside] - start, vector)
        return out

    def search(self, query_vector: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """(cosines, chunk rows) of the k nearest live chunks of one query vector."""
        return self._search(query_vector, k, titles=False)

    def search_titles(self, query_vector: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """(cosines, article rows) of the k nearest live titles of one query vector."""
        return self._search(query_vector, k, titles=True)

    def _search(self, query_vector: np.ndarray, k: int, titles: bool) -> Tuple[np.ndarray, np.ndarray]:
        query = np.ascontiguousarray(np.asarray(query_vector, dtype=np.float32).reshape(1, -1))
        found = []
        for i, segment in enumerate(self.segments):
            if titles:
                scores, rows = segment.search_titles(query, k, self.title_filters[i] if self.title_filters else None)
                found.append((scores, rows + self.article_offsets[i]))
            else:
                scores, rows = segment.search(query, k, self.live_filters[i] if self.live_filters else None)
                found.append((scores, rows + self.chunk_offsets[i]))
        if not found:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if len(found) == 1:
            return found[0]
        scores = np.concatenate([s for s, _ in found])
        rows = np.concatenate([r for _, r in found])
        order = np.argsort(-scores, kind="stable")[:k]
        return scores[order], rows[order]


def load_snapshot(
    folder: PathLike,
    embedder: Embedder,
    version: Optional[str] = None,
    segments: Optional[Mapping[str, Segment]] = None,
    exact: bool = False,
) -> Snapshot:
    """Load the live (or the given) version. `segments` are already loaded segments by
    folder name: a reload that keeps the big segment reuses it instead of reading it again.
    `exact` searches every segment by brute force (for measuring the approximate search)."""
    folder = Path(folder)
    manifest = read_manifest(folder, version)
    where = folder / manifest.version
    check_compatible(manifest, embedder, where)
    return Snapshot.assemble(manifest, _load_segments(where, manifest, segments, exact))


# ---------------------------------------------------------------------------------------------
# building


def title_id(article: Article) -> str:
    """Embedding-cache key of an article's title vector (a content hash, like chunk ids)."""
    return hashlib.sha256(f"{article.id}\0title\0{article.title}".encode("utf-8")).hexdigest()[:ID_BYTES]


def fingerprint(model: str, dimension: int, split: SplitConfig, articles: Sequence[Article]) -> str:
    """What determines the index's content; equal fingerprints mean a rebuild would change nothing.

    Passages are a function of the article's content, the split settings and the splitting
    code (SPLIT_VERSION), term counts of the tokenizer (LEXICAL_VERSION), so comparing this
    needs no article to be split again: `bot kb build` with nothing changed is a no-op in
    milliseconds, whatever the size of the help centre.
    """
    payload = json.dumps(
        {
            "format": FORMAT_VERSION,
            "split_version": SPLIT_VERSION,
            "lexical_version": LEXICAL_VERSION,
            "model": model,
            "dimension": dimension,
            "split": asdict(split),
            "articles": sorted((a.id, a.content_hash) for a in articles),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _versions(folder: Path) -> List[str]:
    """Complete version folders, newest first (names start with the UTC build time)."""
    if not folder.is_dir():
        return []
    return sorted(
        (p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("v") and (p / MANIFEST).exists()),
        reverse=True,
    )


def _normalise(vectors: np.ndarray) -> np.ndarray:
    # Inner product equals cosine only for unit vectors; the Embedder contract promises them,
    # re-normalising costs nothing and protects the scores' calibration from a sloppy embedder.
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embed_texts(texts: Sequence[str], embedder: Embedder, progress: Optional[bool] = None) -> np.ndarray:
    """Embed in batches, with a progress bar for big jobs (None: only above a few hundred)."""
    from tqdm import tqdm

    if progress is None:
        progress = len(texts) > PROGRESS_MIN_TEXTS
    chunks: List[np.ndarray] = []
    with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            batch = list(texts[start : start + EMBED_BATCH])
            vectors = np.asarray(embedder.embed(batch), dtype=np.float32)
            if vectors.shape != (len(batch), embedder.dimension) or not np.isfinite(vectors).all():
                raise IndexCorrupt(
                    f"embedder '{embedder.name}' returned {vectors.shape} for {len(batch)} texts, "
                    f"expected ({len(batch)}, {embedder.dimension}) finite values"
                )
            chunks.append(vectors)
            bar.update(len(batch))
    if not chunks:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return _normalise(np.vstack(chunks))


@dataclass(frozen=True)
class PreparedArticle:
    """A new or edited article split into passages and chunks, before embedding."""

    article: Article
    passages: Tuple[Passage, ...]
    chunks: Tuple[Tuple[Chunk, int], ...]  # (chunk, passage number within the article)


def prepare_article(article: Article, split: SplitConfig) -> PreparedArticle:
    passages = list(split_article(article, split))
    chunks = [(chunk, number) for number, passage in enumerate(passages) for chunk in split_passage(passage, split)]
    if article.questions:  # last, so that the article's passages and their chunks stay in order
        passage, question_chunks = questions_passage(article.id, article.title, article.questions, len(passages))
        chunks += [(chunk, len(passages)) for chunk in question_chunks]
        passages.append(passage)
    return PreparedArticle(article, tuple(passages), tuple(chunks))


def _segment_rows(prepared: Sequence[PreparedArticle], vectors: Mapping[str, np.ndarray], dimension: int) -> SegmentData:
    """The rows of prepared articles (in their order), with vectors from `vectors` by id."""
    if not prepared:
        return SegmentData.empty(dimension)
    tokenizer = Tokenizer()
    passages = [p for item in prepared for p in item.passages]
    passage_article = np.repeat(np.arange(len(prepared), dtype=np.int32), [len(item.passages) for item in prepared])
    passage_base = np.cumsum([0] + [len(item.passages) for item in prepared])
    chunk_passage = np.asarray(
        [passage_base[i] + number for i, item in enumerate(prepared) for _, number in item.chunks], dtype=np.int32
    )
    chunk_ids = [chunk.chunk_id for item in prepared for chunk, _ in item.chunks]
    title_ids = [title_id(item.article) for item in prepared]

    def matrix(keys: List[str]) -> np.ndarray:
        return np.vstack([vectors[key] for key in keys]).astype(np.float32) if keys else np.zeros((0, dimension), np.float32)

    tags = {item.article.id: item.article.tags for item in prepared}
    return SegmentData(
        article_lines=tuple(article_line(item.article) for item in prepared),
        article_ids=tuple(item.article.id for item in prepared),
        title_ids=ids_array(title_ids),
        passage_lines=tuple(passage_line(p) for p in passages),
        passage_ids=ids_array([p.passage_id for p in passages]),
        passage_article=passage_article,
        chunk_ids=ids_array(chunk_ids),
        chunk_passage=chunk_passage,
        vectors=matrix(chunk_ids),
        titles=matrix(title_ids),
        counts=TermCounts.from_tokens([tokenizer(lexical_document(p, tags[p.article_id])) for p in passages]),
        body_counts=TermCounts.from_tokens([tokenizer(body_document(p)) for p in passages]),
    )


def _cached_vectors(segments: Iterable[Segment], article_ids: Set[str], keys: Set[str]) -> Dict[str, np.ndarray]:
    """Vectors of `keys` (chunk and title ids) found among the rows of `article_ids` in the
    given segments (superseded rows included: they hold the article's previous text)."""
    found: Dict[str, np.ndarray] = {}
    if not keys or not article_ids:
        return found
    for segment in segments:
        rows = segment.article_rows(dict.fromkeys(article_ids))
        if not len(rows):
            continue
        for key, vector in zip(segment.title_ids[rows], segment.titles[rows]):
            found.setdefault(key.decode("ascii"), np.asarray(vector, dtype=np.float32))
        chunk_rows = segment.chunk_rows_of(rows)
        wanted = [(row, key.decode("ascii")) for row, key in zip(chunk_rows, segment.chunk_ids[chunk_rows])]
        wanted = [(row, key) for row, key in wanted if key in keys and key not in found]
        if wanted:
            block = np.asarray(segment.vectors[np.asarray([row for row, _ in wanted], dtype=np.int64)], dtype=np.float32)
            for (_, key), vector in zip(wanted, block):
                found.setdefault(key, vector)
    return {key: vector for key, vector in found.items() if key in keys}


def _cache_segments(folder: Path, model: str, dimension: int, loaded: Sequence[Segment]) -> List[Segment]:
    """The segments of every kept version built with the same model, each once."""
    segments = {segment.name: segment for segment in loaded}
    for version in _versions(folder):
        try:
            manifest = read_manifest(folder, version)
            if manifest.model != model or manifest.dimension != dimension:
                continue
            for name in manifest.segments:
                if name not in segments:
                    segments[name] = Segment(folder / version / name, name)
        except Exception as error:  # noqa: BLE001 - a broken old version only means no cache
            log.warning("ignoring the embedding cache in %s: %s", folder / version, error)
    return list(segments.values())


def build_index(
    articles: Iterable[Article],
    embedder: Embedder,
    folder: PathLike,
    *,
    split: SplitConfig = SplitConfig(),
    problems: Sequence[Problem] = (),
    force: bool = False,
    progress: Optional[bool] = None,
    keep_versions: int = KEEP_VERSIONS,
    layout: IndexLayout = IndexLayout(),
) -> BuildReport:
    """Index the published articles into `folder` and make the result the live version.

    Idempotent: when nothing that affects the index changed, no new version is written
    (unless `force`, which also re-splits every article and rebuilds the segment from
    scratch; vectors still come from the cache). `problems` (from loading the articles) are
    recorded in the manifest.
    """
    started = time.perf_counter()
    folder = Path(folder)
    all_articles = list(articles)
    published = sorted((a for a in all_articles if a.published), key=lambda a: a.id)
    drafts = len(all_articles) - len(published)
    recorded = tuple(problems)
    fp = fingerprint(embedder.name, embedder.dimension, split, published)
    dimension = embedder.dimension

    live = read_pointer(folder)
    current: Optional[Manifest] = None
    if live:
        try:
            current = read_manifest(folder, live)
        except Exception:  # noqa: BLE001 - an unreadable or old-format live version is simply replaced
            current = None
    if current is not None and current.fingerprint == fp and not force:
        return BuildReport(str(folder), live or "", False, len(published), drafts, current.passages, current.chunks, 0, 0,
                           time.perf_counter() - started, recorded, len(current.segments), 0)

    # What the live version already holds, unchanged: kept row by row.
    previous: List[Segment] = []
    if (
        current is not None
        and not force
        and (current.model, current.dimension, current.split) == (embedder.name, dimension, asdict(split))
    ):
        try:
            previous = _load_segments(folder / current.version, current)
        except IndexCorrupt as error:
            log.warning("rebuilding from scratch: %s", error)
            previous = []
    wanted = {a.id: a for a in published}
    keep: List[np.ndarray] = []
    kept_ids: Set[str] = set()
    for segment in previous:
        superseded = set(current.superseded.get(segment.name, ())) if current else set()
        rows = [
            row
            for row, aid in enumerate(segment.article_ids)
            if aid not in superseded and aid in wanted and current is not None and current.articles.get(aid) == wanted[aid].content_hash
        ]
        keep.append(np.asarray(rows, dtype=np.int64))
        kept_ids.update(segment.article_ids[row] for row in rows)

    timings: Dict[str, float] = {}
    mark = time.perf_counter()
    todo = [prepare_article(a, split) for a in published if a.id not in kept_ids]
    timings["split"] = time.perf_counter() - mark
    # (cache key, text) of everything to embed: chunks, then titles; duplicates embedded once
    texts = [(c.chunk_id, c.embed_text) for item in todo for c, _ in item.chunks] + [
        (title_id(item.article), item.article.title) for item in todo
    ]
    keys = {key for key, _ in texts}
    cache = _cached_vectors(
        _cache_segments(folder, embedder.name, dimension, previous), {item.article.id for item in todo}, keys
    ) if todo else {}
    missing = list({key: text for key, text in texts if key not in cache}.items())
    mark = time.perf_counter()
    fresh = embed_texts([text for _, text in missing], embedder, progress)
    timings["embed"] = time.perf_counter() - mark
    cache.update({key: vector for (key, _), vector in zip(missing, fresh)})
    mark = time.perf_counter()
    new_rows = _segment_rows(todo, cache, dimension)

    # One segment, or the big one kept plus a delta with everything changed since it was written.
    plan: List[Tuple[str, Optional[SegmentData]]] = []  # (folder name, data to write or None to link)
    superseded_out: Dict[str, Tuple[str, ...]] = {}
    base = previous[0] if previous and previous[0].dense == HNSW else None
    if base is not None:
        delta = SegmentData.concatenate([s.data().select(rows) for s, rows in zip(previous[1:], keep[1:])] + [new_rows], dimension)
        base_kept = set(base.article_ids[row] for row in keep[0])
        base_dropped_chunks = base.chunks - len(base.chunk_rows_of(keep[0]))
        if (
            delta.chunks <= max(layout.delta_min_chunks, layout.delta_max_fraction * base.chunks)
            and base_dropped_chunks <= layout.max_superseded_fraction * base.chunks
        ):
            plan.append((base.name, None))
            superseded_out[base.name] = tuple(sorted(set(base.article_ids) - base_kept))
            if delta.articles:
                plan.append((new_segment_name(), delta))
    if not plan:
        merged = SegmentData.concatenate([s.data().select(rows) for s, rows in zip(previous, keep)] + [new_rows], dimension)
        plan.append((new_segment_name(), merged))

    timings["rows"] = time.perf_counter() - mark
    live_passages = sum(d.passages for _, d in plan if d is not None)
    live_chunks = sum(d.chunks for _, d in plan if d is not None)
    if base is not None and plan[0][1] is None:  # the kept rows of the linked base count too
        alive = np.zeros(base.articles, dtype=bool)
        alive[keep[0]] = True
        passage_alive = alive[base.passage_article]
        live_passages += int(passage_alive.sum())
        live_chunks += int(passage_alive[base.chunk_passage].sum())

    now = datetime.now(timezone.utc)
    version = f"v{now.strftime('%Y%m%dT%H%M%S%fZ')}-{fp[:8]}"
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dimension=dimension,
        version=version,
        built_at=now.isoformat(timespec="seconds"),
        fingerprint=fp,
        split=asdict(split),
        articles={a.id: a.content_hash for a in published},
        passages=live_passages,
        chunks=live_chunks,
        segments=tuple(name for name, _ in plan),
        superseded={name: ids for name, ids in superseded_out.items() if ids},
        problems=tuple(str(p) for p in recorded),
    )
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".tmp-{version}-{os.getpid()}"
    staging.mkdir()
    mark = time.perf_counter()
    timings["graph"] = 0.0
    try:
        for name, data in plan:
            if data is None:
                link_segment(folder / (current.version if current else "") / name, staging / name)
            else:
                timings["graph"] += write_segment(data, staging / name, dimension, layout)["graph_seconds"]
        # The manifest is written last: a version folder with a manifest is complete.
        _write_file(staging / MANIFEST, manifest.to_json().encode("utf-8"))
        _fsync_dir(staging)
        os.rename(staging, folder / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    switch_pointer(folder, version)
    timings["write"] = time.perf_counter() - mark
    _prune(folder, keep=max(1, keep_versions))
    return BuildReport(
        str(folder),
        version,
        True,
        len(published),
        drafts,
        live_passages,
        live_chunks,
        len(missing),
        live_chunks + len(published) - len(missing),
        time.perf_counter() - started,
        recorded,
        len(plan),
        len(todo),
        timings,
    )


def switch_pointer(folder: PathLike, version: str) -> None:
    """Atomically make `version` the live index (readers see the old or the new name)."""
    folder = Path(folder)
    temporary = folder / f".{POINTER}.{os.getpid()}.{threading.get_ident()}.tmp"
    _write_file(temporary, (version + "\n").encode("utf-8"))
    os.replace(temporary, folder / POINTER)
    _fsync_dir(folder)


def _prune(folder: Path, keep: int) -> None:
    live = read_pointer(folder)
    old = [v for v in _versions(folder) if v != live]
    for version in old[max(0, keep - 1) :]:
        shutil.rmtree(folder / version, ignore_errors=True)
    # Staging folders of crashed builds (older than an hour, so not a build in progress).
    for leftover in folder.glob(".tmp-*"):
        try:
            if time.time() - leftover.stat().st_mtime > 3600:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# reading


class KnowledgeIndex:
    """The live index of a folder, reloadable in place while a server is running.

    Queries read `snapshot` once and use only it, so a concurrent reload never mixes two
    versions within one search. A reload reuses the segments it already has loaded (they
    are immutable): after an edit of a big index only the small delta segment is read.
    """

    def __init__(self, folder: PathLike, embedder: Embedder, snapshot: Snapshot, pointer_stamp: Tuple) -> None:
        self.folder = Path(folder)
        self.embedder = embedder
        self._snapshot = snapshot
        self._stamp = pointer_stamp
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: PathLike, embedder: Embedder) -> "KnowledgeIndex":
        """Load the live version; IndexNotFound / IndexMismatch / IndexCorrupt with the reason."""
        folder = Path(folder)
        stamp = _pointer_stamp(folder)
        return cls(folder, embedder, load_snapshot(folder, embedder), stamp)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def manifest(self) -> Manifest:
        return self._snapshot.manifest

    @property
    def version(self) -> str:
        return self._snapshot.version

    @property
    def passages(self) -> Sequence[Passage]:
        return self._snapshot.passages

    @property
    def articles(self) -> Mapping[str, Article]:
        return self._snapshot.articles

    def reload_if_changed(self) -> bool:
        """Switch to a newer live version if the pointer changed; True when it did.

        The check is one `stat` of the pointer file (os.replace gives it a new inode and
        mtime), so it is cheap enough to run before every query. A new version that cannot be
        loaded (e.g. built with another model) is logged and the current one kept serving.
        """
        stamp = _pointer_stamp(self.folder)
        if stamp == self._stamp:
            return False
        with self._lock:
            if stamp == self._stamp:
                return False
            version = read_pointer(self.folder)
            if version is None or version == self._snapshot.version:
                self._stamp = stamp
                return False
            try:
                loaded = {segment.name: segment for segment in self._snapshot.segments}
                snapshot = load_snapshot(self.folder, self.embedder, version, loaded)
            except (IndexMismatch, IndexCorrupt, IndexNotFound) as error:
                log.error("keeping knowledge-base index %s: cannot load %s: %s", self._snapshot.version, version, error)
                self._stamp = stamp
                return False
            self._snapshot = snapshot
            self._stamp = stamp
            log.info("knowledge-base index reloaded: %s", version)
            return True


def _pointer_stamp(folder: Path) -> Tuple:
    try:
        stat = os.stat(folder / POINTER)
    except FileNotFoundError:
        return ()
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
