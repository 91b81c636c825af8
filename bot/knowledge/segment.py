"""Segments: the immutable parts an index version is made of.

A segment holds a set of articles with everything retrieval needs about them, in row order
(articles sorted by id, their passages in reading order, each passage's chunks in order):

    segment.json          counts, dimension, the dense index kind
    articles.jsonl        one article per line (+ article_offsets.npy: where each line starts)
    passages.jsonl        one passage per line (+ passage_offsets.npy)
    rows.npz              ids and the article of each passage / passage of each chunk
    vectors.npy           chunk embeddings (L2-normalised float32)
    titles.npy            title embeddings, one per article row
    terms.json            vocabularies of the two lexical fields
    counts.npz            term counts of each passage's searchable text (title, heading, text, tags)
    body_counts.npz       term counts of each passage's own text (to pick the passage shown)
    index.faiss           HNSW graph over the chunk vectors, only in large segments
    titles.faiss          HNSW graph over the title vectors, in the same segments

Files are written once and never modified, so a new index version can share an unchanged
segment with the previous one through hard links instead of writing it again, and a server
that has a segment loaded can keep it across a reload. Articles and passages are read lazily
(memory-mapped, parsed on access): a query needs the text of a handful of passages, not of
100,000, and a reload that keeps the big segment parses nothing.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse

from bot.knowledge.articles import Article
from bot.knowledge.errors import IndexCorrupt
from bot.knowledge.lexical import TermCounts
from bot.knowledge.passages import Passage

SEGMENT_FILE = "segment.json"
ARTICLES_FILE = "articles.jsonl"
ARTICLE_OFFSETS_FILE = "article_offsets.npy"
PASSAGES_FILE = "passages.jsonl"
PASSAGE_OFFSETS_FILE = "passage_offsets.npy"
ROWS_FILE = "rows.npz"
VECTORS_FILE = "vectors.npy"
TITLES_FILE = "titles.npy"
TERMS_FILE = "terms.json"
COUNTS_FILE = "counts.npz"
BODY_COUNTS_FILE = "body_counts.npz"
ANN_FILE = "index.faiss"
TITLE_ANN_FILE = "titles.faiss"
FILES = (
    ARTICLES_FILE,
    ARTICLE_OFFSETS_FILE,
    PASSAGES_FILE,
    PASSAGE_OFFSETS_FILE,
    ROWS_FILE,
    VECTORS_FILE,
    TITLES_FILE,
    TERMS_FILE,
    COUNTS_FILE,
    BODY_COUNTS_FILE,
)
FLAT, HNSW = "flat", "hnsw"
ID_BYTES = 24  # chunk, passage and title ids are 24 hex characters


@dataclass(frozen=True)
class IndexLayout:
    """How segments are searched and when an update writes a small delta segment.

    Exact search reads every chunk vector for every query: about 1 ms per 10,000 chunks
    here, so past `ann_min_chunks` a segment also gets an HNSW graph (FAISS IndexHNSWFlat:
    no training, sub-millisecond queries at 300,000 chunks; recall against exact search is
    reported by `python -m bot.bench.kb_scale`). Small knowledge bases, like the demo store,
    stay exact.

    Building the graph of a large segment takes minutes, and rewriting it would take
    seconds, so an update of a large index keeps the big segment as it is (hard-linked into
    the new version, the edited articles' old rows marked superseded) and writes the
    changed articles into a small exact "delta" segment. Once the delta outgrows
    `delta_min_chunks` and `delta_max_fraction` of the base, or too much of the base is
    superseded, the update merges everything into one segment again (no re-embedding:
    vectors are copied).
    """

    ann_min_chunks: int = 20_000
    hnsw_m: int = 32
    # A better-connected graph for the same query time: on 28,000 chunks (python -m
    # bot.bench.kb_scale's vectors) recall@10 0.985 with 100 against 0.966 with 40, for a
    # build 1.7 times as long.
    hnsw_ef_construction: int = 100
    # Candidates explored per query: the retriever asks for the top 100 chunks (and titles),
    # and the graph search must look beyond them to find them. More is closer to exact
    # search and slower: at 100,000 passages (286,000 chunks) of `python -m bot.bench.kb_scale`'s
    # synthetic help centre, 128 / 192 / 256 / 384 gave the exact search's top article for 87 /
    # 90 / 92 / 96% of the questions at a search p95 of 7.7 / 9.1 / 10.2 / 12.3 ms. 192 keeps
    # the p95 within the 10 ms budget; that synthetic data's scores are much flatter than the
    # real model's (more near-ties), see docs/benchmarks.md.
    hnsw_ef_search: int = 192
    # Titles: 10,000 of them for 100,000 passages, an easier graph.
    hnsw_title_ef_search: int = 128
    delta_min_chunks: int = 2_000
    delta_max_fraction: float = 0.05
    max_superseded_fraction: float = 0.10

    def __post_init__(self) -> None:
        if self.ann_min_chunks < 1 or self.hnsw_m < 2 or min(self.hnsw_ef_search, self.hnsw_title_ef_search, self.hnsw_ef_construction) < 1:
            raise ValueError("ann_min_chunks, hnsw_ef_search and hnsw_ef_construction must be >= 1, hnsw_m >= 2")
        if self.delta_min_chunks < 0 or not 0 <= self.delta_max_fraction <= 1 or not 0 <= self.max_superseded_fraction <= 1:
            raise ValueError("delta_min_chunks must be >= 0, the fractions within [0, 1]")


# ---------------------------------------------------------------------------------------------
# serialisation helpers


def article_to_dict(article: Article) -> Dict:
    data = asdict(article)
    data["tags"] = list(article.tags)
    data["updated"] = article.updated.isoformat()
    return data


def article_from_dict(data: Dict) -> Article:
    return Article(**{**data, "tags": tuple(data["tags"]), "updated": date.fromisoformat(data["updated"])})


def article_line(article: Article) -> bytes:
    return (json.dumps(article_to_dict(article), ensure_ascii=False) + "\n").encode("utf-8")


def passage_line(passage: Passage) -> bytes:
    return (json.dumps(asdict(passage), ensure_ascii=False) + "\n").encode("utf-8")


def ids_array(ids: Sequence[str]) -> np.ndarray:
    """Hex ids as a fixed-width byte array (compact, and loads without parsing)."""
    return np.asarray([i.encode("ascii") for i in ids], dtype=f"S{ID_BYTES}") if len(ids) else np.zeros(0, f"S{ID_BYTES}")


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_with(path: Path, writer) -> None:
    with open(path, "wb") as handle:
        writer(handle)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def omp_threads(count: int) -> Iterator[None]:
    """FAISS's OpenMP thread count for the calling thread, restored afterwards.

    One query gains nothing from a second thread and pays for waking it: on this machine a
    single query over 10,000 vectors took 16 ms with 2 threads and 0.9 ms with 1. Building
    a graph, on the other hand, uses every core."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, count))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


_blas_controller = None


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """numpy's BLAS thread count for the duration (process-wide: BLAS has no per-thread setting).

    The query path multiplies a few thousand vectors by one query vector. OpenBLAS splits
    that between both cores, and on a busy machine the second thread's wake-up dominates:
    7 ms with 2 threads against 1.4 ms with 1 for 8,000 x 384 (threadpoolctl, a scikit-learn
    dependency, does the switching)."""
    global _blas_controller
    from threadpoolctl import ThreadpoolController

    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    with _blas_controller.limit(limits=max(1, count), user_api="blas"):
        yield


# ---------------------------------------------------------------------------------------------
# in-memory segment contents


@dataclass(frozen=True)
class SegmentData:
    """The rows of a segment before it is written (or gathered from written segments)."""

    article_lines: Tuple[bytes, ...]
    article_ids: Tuple[str, ...]
    title_ids: np.ndarray  # S24, per article row
    passage_lines: Tuple[bytes, ...]
    passage_ids: np.ndarray  # S24
    passage_article: np.ndarray  # int32 article row of each passage
    chunk_ids: np.ndarray  # S24
    chunk_passage: np.ndarray  # int32 passage row of each chunk
    vectors: np.ndarray  # float32, chunks x dimension
    titles: np.ndarray  # float32, articles x dimension
    counts: TermCounts
    body_counts: TermCounts

    @property
    def articles(self) -> int:
        return len(self.article_ids)

    @property
    def passages(self) -> int:
        return len(self.passage_ids)

    @property
    def chunks(self) -> int:
        return len(self.chunk_ids)

    @classmethod
    def empty(cls, dimension: int) -> "SegmentData":
        none = np.zeros(0, dtype=f"S{ID_BYTES}")
        rows = np.zeros(0, dtype=np.int32)
        vectors = np.zeros((0, dimension), dtype=np.float32)
        return cls((), (), none, (), none, rows, none, rows, vectors, vectors, TermCounts.empty(), TermCounts.empty())

    @classmethod
    def concatenate(cls, parts: Sequence["SegmentData"], dimension: int) -> "SegmentData":
        """All parts' rows, re-ordered by article id (so that a segment's row order does not
        depend on the order in which its articles were edited)."""
        parts = [p for p in parts if p.articles]
        if not parts:
            return cls.empty(dimension)
        if len(parts) == 1:
            merged = parts[0]
        else:
            article_base = np.cumsum([0] + [p.articles for p in parts])
            passage_base = np.cumsum([0] + [p.passages for p in parts])
            merged = cls(
                article_lines=tuple(line for p in parts for line in p.article_lines),
                article_ids=tuple(i for p in parts for i in p.article_ids),
                title_ids=np.concatenate([p.title_ids for p in parts]),
                passage_lines=tuple(line for p in parts for line in p.passage_lines),
                passage_ids=np.concatenate([p.passage_ids for p in parts]),
                passage_article=np.concatenate([p.passage_article + article_base[i] for i, p in enumerate(parts)]).astype(np.int32),
                chunk_ids=np.concatenate([p.chunk_ids for p in parts]),
                chunk_passage=np.concatenate([p.chunk_passage + passage_base[i] for i, p in enumerate(parts)]).astype(np.int32),
                vectors=np.vstack([p.vectors for p in parts]).astype(np.float32, copy=False),
                titles=np.vstack([p.titles for p in parts]).astype(np.float32, copy=False),
                counts=TermCounts.concatenate([p.counts for p in parts]),
                body_counts=TermCounts.concatenate([p.body_counts for p in parts]),
            )
        order = sorted(range(merged.articles), key=lambda row: merged.article_ids[row])
        if order == list(range(merged.articles)):
            return merged
        return merged.select(np.asarray(order, dtype=np.int64))

    def select(self, article_rows: np.ndarray) -> "SegmentData":
        """The given articles (rows, in that order) with their passages and chunks."""
        article_rows = np.asarray(article_rows, dtype=np.int64)
        passage_rows, chunk_rows, new_passage_article, new_chunk_passage = _gather_rows(
            article_rows, self.passage_article, self.chunk_passage
        )
        return SegmentData(
            article_lines=tuple(self.article_lines[r] for r in article_rows),
            article_ids=tuple(self.article_ids[r] for r in article_rows),
            title_ids=self.title_ids[article_rows],
            passage_lines=tuple(self.passage_lines[r] for r in passage_rows),
            passage_ids=self.passage_ids[passage_rows],
            passage_article=new_passage_article,
            chunk_ids=self.chunk_ids[chunk_rows],
            chunk_passage=new_chunk_passage,
            vectors=np.asarray(self.vectors[chunk_rows], dtype=np.float32),
            titles=np.asarray(self.titles[article_rows], dtype=np.float32),
            counts=self.counts.take(passage_rows),
            body_counts=self.body_counts.take(passage_rows),
        )


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, end) for each pair, without a Python loop."""
    lengths = np.maximum(ends - starts, 0)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _gather_rows(
    article_rows: np.ndarray, passage_article: np.ndarray, chunk_passage: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Passage and chunk rows of the given articles (rows are grouped by article, passages
    by chunk) and the re-numbered passage->article and chunk->passage columns."""
    n_articles = int(passage_article.max()) + 1 if len(passage_article) else 0
    p_start = np.searchsorted(passage_article, np.arange(n_articles + 1), side="left")
    a_start = np.where(article_rows < n_articles, p_start[np.minimum(article_rows, n_articles)], 0)
    a_end = np.where(article_rows < n_articles, p_start[np.minimum(article_rows + 1, n_articles)], 0)
    passage_rows = _ranges(a_start, a_end)
    new_passage_article = np.repeat(np.arange(len(article_rows), dtype=np.int32), np.maximum(a_end - a_start, 0))
    n_passages = len(passage_article)
    c_start = np.searchsorted(chunk_passage, np.arange(n_passages + 1), side="left")
    chunk_rows = _ranges(c_start[passage_rows], c_start[passage_rows + 1])
    new_chunk_passage = np.repeat(np.arange(len(passage_rows), dtype=np.int32), c_start[passage_rows + 1] - c_start[passage_rows])
    return passage_rows, chunk_rows, new_passage_article, new_chunk_passage


# ---------------------------------------------------------------------------------------------
# writing


def new_segment_name() -> str:
    return f"seg-{uuid.uuid4().hex[:16]}"


def write_segment(data: SegmentData, folder: Path, dimension: int, layout: IndexLayout) -> Dict:
    """Write `data` into the (new, empty) folder; builds the HNSW graph when it is large."""
    import faiss

    folder.mkdir(parents=True)
    kind = HNSW if data.chunks >= layout.ann_min_chunks else FLAT
    started = time.perf_counter()
    if kind == HNSW:
        graph = faiss.IndexHNSWFlat(dimension, layout.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = layout.hnsw_ef_construction
        graph.hnsw.efSearch = layout.hnsw_ef_search
        with omp_threads(os.cpu_count() or 1):
            graph.add(np.ascontiguousarray(data.vectors, dtype=np.float32))
        faiss.write_index(graph, str(folder / ANN_FILE))
        # Titles too: scanning 10,000 title vectors for every question reads 15 MB (1.5 ms).
        titles = faiss.IndexHNSWFlat(dimension, layout.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        titles.hnsw.efConstruction = layout.hnsw_ef_construction
        titles.hnsw.efSearch = layout.hnsw_title_ef_search
        with omp_threads(os.cpu_count() or 1):
            titles.add(np.ascontiguousarray(data.titles, dtype=np.float32))
        faiss.write_index(titles, str(folder / TITLE_ANN_FILE))
    graph_seconds = time.perf_counter() - started
    for name, lines, offsets_name in (
        (ARTICLES_FILE, data.article_lines, ARTICLE_OFFSETS_FILE),
        (PASSAGES_FILE, data.passage_lines, PASSAGE_OFFSETS_FILE),
    ):
        write_file(folder / name, b"".join(lines))
        offsets = np.cumsum([0] + [len(line) for line in lines]).astype(np.int64)
        _write_with(folder / offsets_name, lambda h, o=offsets: np.save(h, o))
    _write_with(
        folder / ROWS_FILE,
        lambda h: np.savez(
            h,
            article_ids=np.asarray(data.article_ids, dtype=str) if data.article_ids else np.zeros(0, dtype="U1"),
            title_ids=data.title_ids,
            passage_ids=data.passage_ids,
            passage_article=data.passage_article.astype(np.int32),
            chunk_ids=data.chunk_ids,
            chunk_passage=data.chunk_passage.astype(np.int32),
        ),
    )
    _write_with(folder / VECTORS_FILE, lambda h: np.save(h, np.ascontiguousarray(data.vectors, dtype=np.float32)))
    _write_with(folder / TITLES_FILE, lambda h: np.save(h, np.ascontiguousarray(data.titles, dtype=np.float32)))
    write_file(
        folder / TERMS_FILE,
        json.dumps({"counts": list(data.counts.vocabulary), "body_counts": list(data.body_counts.vocabulary)}).encode("utf-8"),
    )
    for name, counts in ((COUNTS_FILE, data.counts), (BODY_COUNTS_FILE, data.body_counts)):
        matrix = counts.counts
        _write_with(folder / name, lambda h, m=matrix: sparse.save_npz(h, m, compressed=False))
    info = {
        "articles": data.articles,
        "passages": data.passages,
        "chunks": data.chunks,
        "dimension": dimension,
        "dense": kind,
    }
    write_file(folder / SEGMENT_FILE, json.dumps(info, indent=1).encode("utf-8"))
    _fsync_dir(folder)
    return {**info, "graph_seconds": graph_seconds}


def link_segment(source: Path, target: Path) -> None:
    """Put an existing segment into a new version folder without copying it (hard links;
    a copy where the file system has none)."""
    target.mkdir(parents=True)
    for name in FILES + (SEGMENT_FILE, ANN_FILE, TITLE_ANN_FILE):
        if not (source / name).exists():
            continue
        try:
            os.link(source / name, target / name)
        except OSError:
            shutil.copy2(source / name, target / name)
    _fsync_dir(target)


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


# ---------------------------------------------------------------------------------------------
# reading


class _Lines:
    """Lines of a JSONL file by number, from a memory map and an offsets array."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self.offsets = offsets
        size = path.stat().st_size
        if size != (int(offsets[-1]) if len(offsets) else 0):
            raise IndexCorrupt(f"{path}: {size} bytes, the offsets say {int(offsets[-1]) if len(offsets) else 0}")
        if size:
            with open(path, "rb") as handle:
                self._data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        else:
            self._data = b""

    def __len__(self) -> int:
        return max(0, len(self.offsets) - 1)

    def __getitem__(self, row: int) -> bytes:
        return self._data[int(self.offsets[row]) : int(self.offsets[row + 1])]


@dataclass(frozen=True)
class LiveFilter:
    """FAISS search parameters that skip superseded rows during the search (the HNSW graph
    still walks through them, but they never take a result slot). Holds the bitmap and the
    selector because the C++ side keeps raw pointers to them."""

    params: object
    bitmap: np.ndarray
    selector: object

    @classmethod
    def of(cls, alive: np.ndarray, index, kind: str) -> "LiveFilter":
        import faiss

        bitmap = np.packbits(alive, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(alive), faiss.swig_ptr(bitmap))
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW()
            params.efSearch = faiss.downcast_index(index).hnsw.efSearch
        else:
            params = faiss.SearchParameters()
        params.sel = selector
        return cls(params, bitmap, selector)


class Segment:
    """A segment folder, loaded. Immutable, so snapshots share it and a reload keeps it."""

    def __init__(self, folder: Path, name: str, exact: bool = False) -> None:
        """`exact`: search by brute force even where an HNSW graph exists (to measure what
        the approximate search misses)."""
        self.folder = folder
        self.name = name
        self.exact = exact
        try:
            self.info = json.loads((folder / SEGMENT_FILE).read_text(encoding="utf-8"))
            rows = np.load(folder / ROWS_FILE, allow_pickle=False)
            self.article_ids: Tuple[str, ...] = tuple(str(i) for i in rows["article_ids"])
            self.title_ids = rows["title_ids"]
            self.passage_ids = rows["passage_ids"]
            self.passage_article = rows["passage_article"].astype(np.int64)
            self.chunk_ids = rows["chunk_ids"]
            self.chunk_passage = rows["chunk_passage"].astype(np.int64)
            # memory-mapped: pages are read when a query touches them, and shared between
            # processes and between the versions that link this segment
            self.vectors = np.load(folder / VECTORS_FILE, mmap_mode="r")
            self.titles = np.load(folder / TITLES_FILE)
            self._articles = _Lines(folder / ARTICLES_FILE, np.load(folder / ARTICLE_OFFSETS_FILE))
            self._passages = _Lines(folder / PASSAGES_FILE, np.load(folder / PASSAGE_OFFSETS_FILE))
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise IndexCorrupt(f"{folder}: cannot read the segment ({error!r}); rebuild the index") from None
        self.dimension = int(self.info.get("dimension", 0))
        self.dense = self.info.get("dense", FLAT)
        n_articles, n_passages, n_chunks = len(self.article_ids), len(self.passage_ids), len(self.chunk_ids)
        consistent = (
            (n_articles, n_passages, n_chunks) == (self.info.get("articles"), self.info.get("passages"), self.info.get("chunks"))
            and len(self.title_ids) == n_articles
            and len(self._articles) == n_articles
            and len(self._passages) == n_passages
            and len(self.passage_article) == n_passages
            and len(self.chunk_passage) == n_chunks
            and self.vectors.shape == (n_chunks, self.dimension)
            and self.titles.shape == (n_articles, self.dimension)
            and (not n_passages or (self.passage_article.min() >= 0 and self.passage_article.max() < n_articles))
            and (not n_chunks or (self.chunk_passage.min() >= 0 and self.chunk_passage.max() < n_passages))
            and bool(np.all(np.diff(self.passage_article) >= 0) and np.all(np.diff(self.chunk_passage) >= 0))
            and (self.dense != HNSW or (folder / ANN_FILE).exists())
        )
        if not consistent:
            raise IndexCorrupt(f"{folder}: index files disagree with the manifest; rebuild the index")
        self._lock = threading.RLock()  # re-entrant: the postings read the counts under it
        self._dense_index = None
        self._title_index = None
        self._query_vectors: Optional[np.ndarray] = None
        self._postings: Optional[Tuple[sparse.csc_matrix, sparse.csc_matrix]] = None
        self._counts: Optional[Tuple[TermCounts, TermCounts]] = None
        self._article_cache: Dict[int, Article] = {}

    @property
    def articles(self) -> int:
        return len(self.article_ids)

    @property
    def passages(self) -> int:
        return len(self.passage_ids)

    @property
    def chunks(self) -> int:
        return len(self.chunk_ids)

    def article(self, row: int) -> Article:
        found = self._article_cache.get(row)
        if found is None:
            found = self._article_cache[row] = article_from_dict(json.loads(self._articles[row]))
        return found

    def passage(self, row: int) -> Passage:
        return Passage(**json.loads(self._passages[row]))

    @property
    def counts(self) -> TermCounts:
        return self._term_counts()[0]

    @property
    def body_counts(self) -> TermCounts:
        return self._term_counts()[1]

    def _term_counts(self) -> Tuple[TermCounts, TermCounts]:
        """The two lexical fields' counts, read on first use (a build that only looks up
        cached vectors in this segment never needs them)."""
        if self._counts is None:
            with self._lock:
                if self._counts is None:
                    try:
                        terms = json.loads((self.folder / TERMS_FILE).read_text(encoding="utf-8"))
                        fields = tuple(
                            TermCounts(tuple(terms[key]), sparse.load_npz(self.folder / name).tocsr().astype(np.float32))
                            for key, name in (("counts", COUNTS_FILE), ("body_counts", BODY_COUNTS_FILE))
                        )
                    except (OSError, ValueError, KeyError, TypeError) as error:
                        raise IndexCorrupt(f"{self.folder}: cannot read the term counts ({error!r}); rebuild the index") from None
                    if any(f.documents != self.passages or f.counts.shape[1] != len(f.vocabulary) for f in fields):
                        raise IndexCorrupt(f"{self.folder}: index files disagree with the manifest; rebuild the index")
                    self._counts = fields  # type: ignore[assignment]
        return self._counts  # type: ignore[return-value]

    def postings(self) -> Tuple[sparse.csc_matrix, sparse.csc_matrix]:
        """Terms x passages views of the two lexical fields, made once per loaded segment."""
        if self._postings is None:
            with self._lock:
                if self._postings is None:
                    self._postings = (self.counts.postings(), self.body_counts.postings())
        return self._postings

    def dense_index(self):
        """The FAISS index over the chunk vectors (read or built on first use: building an
        index from this segment does not need it)."""
        if self._dense_index is None:
            with self._lock:
                if self._dense_index is None:
                    import faiss

                    index = self._load_dense_index()
                    storage = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
                    # The index holds the vectors in memory anyway: exact re-scoring reads
                    # them there (a view, no second copy) rather than from vectors.npy.
                    self._query_vectors = (
                        faiss.rev_swig_ptr(storage.get_xb(), self.chunks * self.dimension).reshape(self.chunks, self.dimension)
                        if self.chunks
                        else np.zeros((0, self.dimension), dtype=np.float32)
                    )
                    self._dense_index = index
        return self._dense_index

    def query_vectors(self) -> np.ndarray:
        """The chunk vectors as the dense index holds them in memory (valid while this
        segment lives)."""
        self.dense_index()
        return self._query_vectors  # type: ignore[return-value]

    def cosines(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Cosine of the query with some chunk rows. When the rows are a large share of the
        segment one product over all of it is cheaper than gathering them."""
        vectors = self.query_vectors()
        if len(rows) * 3 > self.chunks:
            return (vectors @ vector)[rows]
        return vectors[rows] @ vector

    def _load_dense_index(self):
        import faiss

        if self.dense == HNSW and not self.exact:
            try:
                index = faiss.read_index(str(self.folder / ANN_FILE))
            except RuntimeError as error:
                raise IndexCorrupt(f"{self.folder / ANN_FILE}: cannot read ({error}); rebuild the index") from None
            if index.ntotal != self.chunks or index.d != self.dimension:
                raise IndexCorrupt(f"{self.folder}: index files disagree with the manifest; rebuild the index")
            return index
        index = faiss.IndexFlatIP(self.dimension)
        if self.chunks:
            index.add(np.ascontiguousarray(self.vectors, dtype=np.float32))
        return index

    def title_index(self):
        """The FAISS index over the title vectors: the segment's HNSW graph of titles where
        it has one, else exact."""
        if self._title_index is None:
            with self._lock:
                if self._title_index is None:
                    import faiss

                    index = None
                    if self.dense == HNSW and not self.exact and (self.folder / TITLE_ANN_FILE).exists():
                        try:
                            index = faiss.read_index(str(self.folder / TITLE_ANN_FILE))
                        except RuntimeError as error:
                            raise IndexCorrupt(f"{self.folder / TITLE_ANN_FILE}: cannot read ({error}); rebuild the index") from None
                        if index.ntotal != self.articles or index.d != self.dimension:
                            raise IndexCorrupt(f"{self.folder}: index files disagree with the manifest; rebuild the index")
                    if index is None:
                        index = faiss.IndexFlatIP(self.dimension)
                        if self.articles:
                            index.add(np.ascontiguousarray(self.titles, dtype=np.float32))
                    self._title_index = index
        return self._title_index

    def title_filter(self, alive: Optional[np.ndarray]) -> Optional["LiveFilter"]:
        """What makes a title search skip superseded articles (None when all are live)."""
        if alive is None or bool(alive.all()):
            return None
        return LiveFilter.of(np.asarray(alive, dtype=bool), self.title_index(), self.dense)

    def search_titles(self, query: np.ndarray, k: int, live: Optional["LiveFilter"] = None) -> Tuple[np.ndarray, np.ndarray]:
        """(cosines, article rows) of the k nearest live titles of one query (1 x d float32)."""
        if not self.articles:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        index = self.title_index()
        k = max(1, min(k, self.articles))
        with omp_threads(1):
            scores, rows = index.search(query, k, params=live.params) if live is not None else index.search(query, k)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep]

    def live_filter(self, alive: Optional[np.ndarray]) -> Optional["LiveFilter"]:
        """What makes a search skip superseded chunks (None when every chunk is live)."""
        if alive is None or bool(alive.all()):
            return None
        return LiveFilter.of(np.asarray(alive, dtype=bool), self.dense_index(), self.dense)

    def search(self, query: np.ndarray, k: int, live: Optional["LiveFilter"] = None) -> Tuple[np.ndarray, np.ndarray]:
        """(cosines, chunk rows) of the k nearest live chunks of one query (1 x d float32)."""
        if not self.chunks:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        index = self.dense_index()
        k = max(1, min(k, self.chunks))
        with omp_threads(1):
            scores, rows = index.search(query, k, params=live.params) if live is not None else index.search(query, k)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep]

    def data(self) -> SegmentData:
        """Everything in the segment as `SegmentData` (to merge it into a new segment)."""
        return SegmentData(
            article_lines=tuple(self._articles[r] for r in range(self.articles)),
            article_ids=self.article_ids,
            title_ids=self.title_ids,
            passage_lines=tuple(self._passages[r] for r in range(self.passages)),
            passage_ids=self.passage_ids,
            passage_article=self.passage_article.astype(np.int32),
            chunk_ids=self.chunk_ids,
            chunk_passage=self.chunk_passage.astype(np.int32),
            vectors=self.vectors,
            titles=self.titles,
            counts=self.counts,
            body_counts=self.body_counts,
        )

    def article_rows(self, article_ids: Mapping[str, object]) -> np.ndarray:
        return np.asarray([row for row, aid in enumerate(self.article_ids) if aid in article_ids], dtype=np.int64)

    def chunk_rows_of(self, article_rows: np.ndarray) -> np.ndarray:
        _, chunk_rows, _, _ = _gather_rows(np.asarray(article_rows, dtype=np.int64), self.passage_article, self.chunk_passage)
        return chunk_rows
