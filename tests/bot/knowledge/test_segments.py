"""Large-index mechanics on small data: HNSW segments, delta segments for edits, merges,
reloads that keep the big segment (thresholds lowered through `IndexLayout`; fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.knowledge import index as index_module
from bot.knowledge.articles import load_articles
from bot.knowledge.errors import IndexCorrupt, IndexMismatch
from bot.knowledge.index import MANIFEST, KnowledgeIndex, build_index, load_snapshot, read_manifest
from bot.knowledge.search import HybridRetriever, top_n
from bot.knowledge.segment import IndexLayout
from tests.bot.knowledge.conftest import FakeEmbedder, write_article

# every segment gets a graph; a delta of up to 1,000 chunks is kept beside the base
BIG = IndexLayout(ann_min_chunks=1, delta_min_chunks=1000, delta_max_fraction=0.0, max_superseded_fraction=1.0)


def build(articles_dir: Path, folder: Path, embedder: FakeEmbedder, layout: IndexLayout = BIG, **options):
    articles, problems = load_articles(articles_dir)
    return build_index(articles, embedder, folder, problems=problems, layout=layout, **options)


def add_articles(folder: Path, count: int = 12) -> None:
    for n in range(count):
        write_article(folder, f"topic-{n:02d}", title=f"Topic number {n}", body=f"Everything about topic {n}.\n\n## Details\nMore on {n}.")


def rankings(snapshot, embedder: FakeEmbedder, queries):
    retriever = HybridRetriever(snapshot)
    return [[(h.article_id, round(h.score, 5), h.passage.passage_id) for h in retriever.rank(q, embedder.vector(q), k=5)] for q in queries]


QUERIES = ["Topic number 3", "Our returns policy", "topic 7 details", "factory reset", "camera e31"]


def test_an_edit_of_a_big_index_writes_a_delta_and_ranks_like_a_fresh_build(
    articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder
) -> None:
    add_articles(articles_dir)
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)
    assert first.segments == 1 and load_snapshot(folder, embedder).segments[0].dense == "hnsw"

    embedder.calls.clear()
    write_article(articles_dir, "topic-03", title="Topic number 3", body="Everything about topic 3, now longer.\n\n## Details\nMore on 3.")
    second = build(articles_dir, folder, embedder)
    assert second.segments == 2 and second.processed == 1
    assert embedder.texts == ["Topic number 3\nEverything about topic 3, now longer."]
    manifest = read_manifest(folder)
    assert manifest.superseded == {manifest.segments[0]: ("topic-03",)}
    # the big segment was linked, not written again
    base = manifest.segments[0]
    assert (folder / first.version / base / "vectors.npy").stat().st_ino == (folder / second.version / base / "vectors.npy").stat().st_ino

    snapshot = load_snapshot(folder, embedder)
    assert len(snapshot.articles) == second.articles and snapshot.chunks > second.chunks  # superseded rows are still there
    assert not snapshot.chunk_alive.all()
    live_rows = snapshot.search(embedder.vector("Topic number 3"), 1000)[1]
    assert snapshot.chunk_alive[live_rows].all() and len(live_rows) == second.chunks

    fresh = tmp_path / "fresh"
    build(articles_dir, fresh, embedder, layout=IndexLayout())
    assert rankings(snapshot, embedder, QUERIES) == rankings(load_snapshot(fresh, embedder), embedder, QUERIES)


def test_deleting_and_editing_again_keep_one_delta(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    add_articles(articles_dir)
    folder = tmp_path / "index"
    build(articles_dir, folder, embedder)
    write_article(articles_dir, "topic-01", title="Topic number 1", body="Changed once.")
    build(articles_dir, folder, embedder)
    write_article(articles_dir, "topic-01", title="Topic number 1", body="Changed twice.")
    (articles_dir / "topic-02.md").unlink()
    report = build(articles_dir, folder, embedder)
    manifest = read_manifest(folder)
    assert report.segments == 2 and len(manifest.segments) == 2
    assert set(manifest.superseded[manifest.segments[0]]) == {"topic-01", "topic-02"}
    snapshot = load_snapshot(folder, embedder)
    assert "topic-02" not in snapshot.articles and snapshot.articles["topic-01"].body == "Changed twice."
    hits = HybridRetriever(snapshot).rank("Topic number 2", embedder.vector("Topic number 2"), k=20)
    assert "topic-02" not in {h.article_id for h in hits}
    assert [h.passage.text for h in hits if h.article_id == "topic-01"] == ["Changed twice."]


def test_a_delta_over_its_limit_is_merged_without_embedding(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    add_articles(articles_dir)
    folder = tmp_path / "index"
    build(articles_dir, folder, embedder)
    write_article(articles_dir, "topic-05", title="Topic number 5", body="Changed.")
    assert build(articles_dir, folder, embedder).segments == 2
    write_article(articles_dir, "topic-06", title="Topic number 6", body="Changed too.")
    embedder.calls.clear()
    tight = IndexLayout(ann_min_chunks=1, delta_min_chunks=0, delta_max_fraction=0.0)
    merged = build(articles_dir, folder, embedder, layout=tight)
    assert merged.segments == 1 and embedder.texts == ["Topic number 6\nChanged too."]
    snapshot = load_snapshot(folder, embedder)
    assert snapshot.chunk_alive.all() and read_manifest(folder).superseded == {}
    assert [a for a in snapshot.article_ids] == sorted(snapshot.articles)  # rows back in id order


def test_small_indexes_stay_one_exact_segment(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "index"
    build(articles_dir, folder, embedder, layout=IndexLayout())
    write_article(articles_dir, "gift-cards", title="Gift cards", body="Gift cards never expire.")
    report = build(articles_dir, folder, embedder, layout=IndexLayout())
    snapshot = load_snapshot(folder, embedder)
    assert report.segments == 1 and snapshot.segments[0].dense == "flat" and snapshot.chunk_alive.all()


def test_a_reload_keeps_the_big_segment_loaded(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    add_articles(articles_dir)
    folder = tmp_path / "index"
    build(articles_dir, folder, embedder)
    index = KnowledgeIndex.load(folder, embedder)
    base = index.snapshot.segments[0]
    # four edits: the version the base was loaded from is pruned (three versions are kept)
    for n in range(4):
        write_article(articles_dir, "topic-00", title="Topic number 0", body=f"Edit {n}.")
        build(articles_dir, folder, embedder)
        assert index.reload_if_changed()
        assert index.snapshot.segments[0] is base
    assert base.folder.parent.name == index.version and base.folder.exists()  # re-pointed at the live version
    hits = HybridRetriever(index.snapshot).rank("Topic number 4", embedder.vector("Topic number 4"), k=3)
    assert hits[0].article_id == "topic-04" and index.snapshot.articles["topic-00"].body == "Edit 3."


def test_nothing_changed_is_a_no_op_without_splitting(
    articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)

    def fail(*args, **kwargs):
        raise AssertionError("an unchanged build must not split articles")

    monkeypatch.setattr(index_module, "split_article", fail)
    again = build(articles_dir, folder, embedder)
    assert not again.changed and again.version == first.version and (again.passages, again.chunks) == (first.passages, first.chunks)


def test_an_old_format_index_is_refused_and_replaced(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)
    manifest = folder / first.version / MANIFEST
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 1}))
    with pytest.raises(IndexMismatch, match="format 1"):
        KnowledgeIndex.load(folder, embedder)
    assert build(articles_dir, folder, embedder).changed
    assert KnowledgeIndex.load(folder, embedder).manifest.format_version == index_module.FORMAT_VERSION


def test_a_damaged_segment_is_reported(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "index"
    report = build(articles_dir, folder, embedder)
    segment = folder / report.version / read_manifest(folder).segments[0]
    (segment / "passages.jsonl").write_bytes(b"truncated")
    with pytest.raises(IndexCorrupt):
        KnowledgeIndex.load(folder, embedder)


def test_top_n_is_the_stable_sort_prefix() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        values = rng.integers(0, 6, size=int(rng.integers(0, 40))).astype(float)
        for n in (0, 1, 3, 10, 50):
            assert list(top_n(values, n)) == list(np.argsort(-values, kind="stable")[:n])
