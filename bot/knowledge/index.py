"""The vector index of the published articles, stored as versioned folders.

Layout of an index folder::

    var/kb_index/
      current                      <- text file naming the live version (switched atomically)
      v20261123T163500123456Z-1a2b3c4d/
        manifest.json              <- model, dimension, build time, article hashes, ids
        index.faiss                <- IndexFlatIP over the L2-normalised chunk vectors (= cosine)
        vectors.npy                <- the same vectors in chunk order: the embedding cache
        titles.npy                 <- one vector per article title, in articles.json order
        chunks.json                <- [chunk id, passage row] per FAISS row
        passages.jsonl, articles.json

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
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from bot.embeddings import Embedder
from bot.knowledge.articles import Article, PathLike, Problem
from bot.knowledge.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from bot.knowledge.passages import Chunk, Passage, SplitConfig, split_articles, split_passage

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
POINTER = "current"
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
VECTORS_FILE = "vectors.npy"
TITLES_FILE = "titles.npy"
CHUNKS_FILE = "chunks.json"
PASSAGES_FILE = "passages.jsonl"
ARTICLES_FILE = "articles.json"
# Below this many new texts a progress bar is just noise (an edit re-embeds a handful).
PROGRESS_MIN_TEXTS = 300
EMBED_BATCH = 64
KEEP_VERSIONS = 3


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    version: str
    built_at: str
    fingerprint: str
    split: Dict[str, int]
    articles: Dict[str, str]  # article id -> content hash
    passage_ids: Tuple[str, ...]
    chunk_ids: Tuple[str, ...]  # FAISS row order
    title_ids: Tuple[str, ...]  # embedding ids of the titles, in articles.json order
    problems: Tuple[str, ...] = ()

    def to_json(self) -> str:
        data = asdict(self)
        for key in ("passage_ids", "chunk_ids", "title_ids", "problems"):
            data[key] = list(data[key])
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
            passage_ids=tuple(data["passage_ids"]),
            chunk_ids=tuple(data["chunk_ids"]),
            title_ids=tuple(data["title_ids"]),
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
    reused: int  # texts whose vectors came from the cache
    seconds: float
    problems: Tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """One loaded version of the index; never mutated, swapped whole on reload."""

    version: str
    manifest: Manifest
    passages: Tuple[Passage, ...]
    articles: Dict[str, Article]
    vectors: np.ndarray  # chunk vectors, FAISS row order
    chunk_passage: np.ndarray  # passage row of each chunk row
    faiss_index: object = field(repr=False)
    article_ids: Tuple[str, ...] = ()  # row order of title_vectors
    title_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32), repr=False)

    def search(self, query_vector: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """(cosines, chunk rows) of the k nearest chunks of one query vector."""
        if not len(self.chunk_passage):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        k = max(1, min(k, len(self.chunk_passage)))
        query = np.ascontiguousarray(np.asarray(query_vector, dtype=np.float32).reshape(1, -1))
        scores, rows = self.faiss_index.search(query, k)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep]


# ---------------------------------------------------------------------------------------------
# serialisation


def _article_to_dict(article: Article) -> Dict:
    data = asdict(article)
    data["tags"] = list(article.tags)
    data["updated"] = article.updated.isoformat()
    return data


def _article_from_dict(data: Dict) -> Article:
    return Article(**{**data, "tags": tuple(data["tags"]), "updated": date.fromisoformat(data["updated"])})


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())


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
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise IndexCorrupt(f"{path} is missing: the 'current' pointer names a version that does not exist") from None
    except (ValueError, KeyError, TypeError) as error:
        raise IndexCorrupt(f"{path}: unreadable manifest ({error!r}); rebuild the index") from None


def check_compatible(manifest: Manifest, embedder: Embedder, where: PathLike) -> None:
    """IndexMismatch unless the index's vectors are comparable with the embedder's."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(
            f"{where}: index format {manifest.format_version}, this version reads format {FORMAT_VERSION}; "
            "rebuild the index"
        )
    if manifest.model != embedder.name or manifest.dimension != embedder.dimension:
        raise IndexMismatch(
            f"{where}: index was built with model '{manifest.model}' ({manifest.dimension}-d) but this process "
            f"embeds queries with '{embedder.name}' ({embedder.dimension}-d); rebuild the index with that model"
        )


def load_snapshot(folder: PathLike, embedder: Embedder, version: Optional[str] = None) -> Snapshot:
    import faiss

    folder = Path(folder)
    manifest = read_manifest(folder, version)
    where = folder / manifest.version
    check_compatible(manifest, embedder, where)
    try:
        faiss_index = faiss.read_index(str(where / FAISS_FILE))
        vectors = np.load(where / VECTORS_FILE)
        title_vectors = np.load(where / TITLES_FILE)
        chunks = json.loads((where / CHUNKS_FILE).read_text(encoding="utf-8"))
        with open(where / PASSAGES_FILE, encoding="utf-8") as handle:
            passages = tuple(Passage(**json.loads(line)) for line in handle if line.strip())
        article_list = [
            _article_from_dict(data) for data in json.loads((where / ARTICLES_FILE).read_text(encoding="utf-8"))
        ]
        chunk_ids = tuple(str(chunk_id) for chunk_id, _ in chunks)
        chunk_passage = np.asarray([int(row) for _, row in chunks], dtype=np.int64)
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as error:
        raise IndexCorrupt(f"{where}: cannot read the index ({error!r}); rebuild it") from None
    dimension = manifest.dimension
    consistent = (
        tuple(p.passage_id for p in passages) == manifest.passage_ids
        and chunk_ids == manifest.chunk_ids
        and tuple(title_id(a) for a in article_list) == manifest.title_ids
        and faiss_index.ntotal == len(chunk_ids)
        and faiss_index.d == dimension
        and vectors.shape == (len(chunk_ids), dimension)
        and title_vectors.shape == (len(article_list), dimension)
        and (not len(chunk_passage) or (chunk_passage.min() >= 0 and chunk_passage.max() < len(passages)))
    )
    if not consistent:
        raise IndexCorrupt(f"{where}: index files disagree with the manifest; rebuild the index")
    return Snapshot(
        version=manifest.version,
        manifest=manifest,
        passages=passages,
        articles={a.id: a for a in article_list},
        vectors=vectors,
        chunk_passage=chunk_passage,
        faiss_index=faiss_index,
        article_ids=tuple(a.id for a in article_list),
        title_vectors=title_vectors,
    )


# ---------------------------------------------------------------------------------------------
# building


def title_id(article: Article) -> str:
    """Embedding-cache key of an article's title vector (a content hash, like chunk ids)."""
    return hashlib.sha256(f"{article.id}\0title\0{article.title}".encode("utf-8")).hexdigest()[:24]


def fingerprint(
    model: str,
    dimension: int,
    split: SplitConfig,
    articles: Sequence[Article],
    passages: Sequence[Passage],
    chunks: Sequence[Chunk],
) -> str:
    """What determines the index's content; equal fingerprints mean a rebuild would change nothing."""
    payload = json.dumps(
        {
            "format": FORMAT_VERSION,
            "model": model,
            "dimension": dimension,
            "split": asdict(split),
            "articles": sorted((a.id, a.content_hash) for a in articles),
            "passages": [p.passage_id for p in passages],
            "chunks": [c.chunk_id for c in chunks],
            "titles": [title_id(a) for a in articles],
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


def _cached_vectors(folder: Path, model: str, dimension: int) -> Dict[str, np.ndarray]:
    """Embeddings in the kept versions built with the same model, keyed by chunk / title id."""
    cache: Dict[str, np.ndarray] = {}
    for version in _versions(folder):
        try:
            manifest = read_manifest(folder, version)
            if manifest.model != model or manifest.dimension != dimension:
                continue
            vectors = np.load(folder / version / VECTORS_FILE)
            titles = np.load(folder / version / TITLES_FILE)
        except Exception as error:  # noqa: BLE001 - a broken old version only means no cache
            log.warning("ignoring the embedding cache in %s: %s", folder / version, error)
            continue
        for ids, matrix in ((manifest.chunk_ids, vectors), (manifest.title_ids, titles)):
            if matrix.shape == (len(ids), dimension):
                for key, vector in zip(ids, matrix):
                    cache.setdefault(key, vector)
    return cache


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
) -> BuildReport:
    """Index the published articles into `folder` and make the result the live version.

    Idempotent: when nothing that affects the index changed, no new version is written
    (unless `force`). `problems` (from loading the articles) are recorded in the manifest.
    """
    import faiss

    started = time.perf_counter()
    folder = Path(folder)
    all_articles = list(articles)
    published = sorted((a for a in all_articles if a.published), key=lambda a: a.id)
    drafts = len(all_articles) - len(published)
    passages = split_articles(published, split)
    chunk_rows = [(chunk, row) for row, passage in enumerate(passages) for chunk in split_passage(passage, split)]
    chunks = [chunk for chunk, _ in chunk_rows]
    recorded = tuple(problems)
    fp = fingerprint(embedder.name, embedder.dimension, split, published, passages, chunks)

    def report(version: str, changed: bool, embedded: int, reused: int) -> BuildReport:
        return BuildReport(
            str(folder),
            version,
            changed,
            len(published),
            drafts,
            len(passages),
            len(chunks),
            embedded,
            reused,
            time.perf_counter() - started,
            recorded,
        )

    live = read_pointer(folder)
    if live and not force:
        try:
            current = read_manifest(folder, live)
        except Exception:  # noqa: BLE001 - an unreadable live version is simply replaced
            current = None
        if current is not None and current.fingerprint == fp:
            return report(live, False, 0, 0)

    cache = _cached_vectors(folder, embedder.name, embedder.dimension)
    # (cache key, text) of everything to embed: chunks, then titles; duplicates embedded once
    wanted = [(c.chunk_id, c.embed_text) for c in chunks] + [(title_id(a), a.title) for a in published]
    missing = list({key: text for key, text in wanted if key not in cache}.items())
    fresh = embed_texts([text for _, text in missing], embedder, progress)
    cache.update({key: vector for (key, _), vector in zip(missing, fresh)})
    dimension = embedder.dimension

    def matrix(keys: List[str]) -> np.ndarray:
        if not keys:
            return np.zeros((0, dimension), dtype=np.float32)
        return np.vstack([cache[key] for key in keys]).astype(np.float32)

    vectors = matrix([c.chunk_id for c in chunks])
    title_vectors = matrix([title_id(a) for a in published])
    faiss_index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        faiss_index.add(vectors)

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
        passage_ids=tuple(p.passage_id for p in passages),
        chunk_ids=tuple(c.chunk_id for c in chunks),
        title_ids=tuple(title_id(a) for a in published),
        problems=tuple(str(p) for p in recorded),
    )
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".tmp-{version}-{os.getpid()}"
    staging.mkdir()
    try:
        faiss.write_index(faiss_index, str(staging / FAISS_FILE))
        _write_array(staging / VECTORS_FILE, vectors)
        _write_array(staging / TITLES_FILE, title_vectors)
        _write_file(staging / CHUNKS_FILE, json.dumps([[c.chunk_id, row] for c, row in chunk_rows]).encode("utf-8"))
        _write_file(
            staging / PASSAGES_FILE,
            "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in passages).encode("utf-8"),
        )
        _write_file(
            staging / ARTICLES_FILE,
            json.dumps([_article_to_dict(a) for a in published], ensure_ascii=False, indent=1).encode("utf-8"),
        )
        # The manifest is written last: a version folder with a manifest is complete.
        _write_file(staging / MANIFEST, manifest.to_json().encode("utf-8"))
        _fsync_dir(staging)
        os.rename(staging, folder / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    switch_pointer(folder, version)
    _prune(folder, keep=max(1, keep_versions))
    return report(version, True, len(missing), len(wanted) - len(missing))


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
    versions within one search.
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
    def passages(self) -> Tuple[Passage, ...]:
        return self._snapshot.passages

    @property
    def articles(self) -> Dict[str, Article]:
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
                snapshot = load_snapshot(self.folder, self.embedder, version)
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
